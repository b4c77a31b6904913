//! Dependency injection: singletons built once at boot, injected into `#[inject]` fields.
//!
//! Providers are the [`Sender`], the [`Config`], every `#[component]` type (registered at compile
//! time through `inventory`) and values given to [`App::provide`](crate::App::provide). What
//! cannot be checked at compile time — a field whose `Arc<T>` has no provider, a dependency
//! cycle — fails at boot with one line naming the type, the field and its owner.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use crate::{BootError, Config, InjectError, Sender};

type Singleton = Arc<dyn Any + Send + Sync>;

/// Where a value is injected: for error messages.
#[derive(Debug, Clone, Copy)]
pub struct InjectSite {
    /// The type that owns the field, e.g. `ServerController`.
    pub owner: &'static str,
    /// The field, e.g. `sender`.
    pub field: &'static str,
}

/// A type that can be injected into an `#[inject]` field.
///
/// Implemented for [`Sender`], [`SocketIo`](crate::socketio::SocketIo), [`Config`], and `Arc<T>` for any `T` that has a provider.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be injected",
    label = "no provider for this type",
    note = "inject `ws_core::Sender`, `ws_core::socketio::SocketIo`, `ws_core::Config`, or `Arc<T>` where `T` is a `#[component]` or given to `App::provide`"
)]
pub trait Inject: Sized {
    /// Resolves the value from the container.
    fn inject(container: &mut Container, site: InjectSite) -> Result<Self, BootError>;
}

/// A type the container can build: controllers and components. `#[ws_controller]`,
/// `#[controller]` and `#[component]` implement it, injecting `#[inject]` fields and filling the
/// others with `Default::default()`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be built by the container",
    note = "add `#[component]` to `{Self}`, or implement `ws_core::di::Construct` for it"
)]
pub trait Construct: Sized + Send + Sync + 'static {
    /// Builds the value, resolving its dependencies from `container`.
    fn construct(container: &mut Container) -> Result<Self, BootError>;
}

/// A `#[component]` registration, collected through `inventory`.
#[derive(Debug)]
pub struct ComponentRegistration {
    /// The component's `TypeId`.
    pub type_id: fn() -> TypeId,
    /// The component's type name, for messages.
    pub type_name: &'static str,
    /// Builds the singleton.
    pub build: fn(&mut Container) -> Result<Arc<dyn Any + Send + Sync>, BootError>,
}

inventory::collect!(ComponentRegistration);

/// Builds and holds the singletons of an app during boot.
pub struct Container {
    singletons: HashMap<TypeId, Singleton>,
    /// Types being built, outermost first, to name a cycle.
    building: Vec<(TypeId, &'static str)>,
    sender: Sender,
    config: Arc<Config>,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container")
            .field("singletons", &self.singletons.len())
            .finish_non_exhaustive()
    }
}

impl Container {
    pub(crate) fn new(
        sender: Sender,
        config: Arc<Config>,
        provided: HashMap<TypeId, Singleton>,
    ) -> Self {
        let mut singletons = provided;
        singletons.insert(TypeId::of::<Config>(), config.clone());
        Self {
            singletons,
            building: Vec::new(),
            sender,
            config,
        }
    }

    /// The app's [`Sender`].
    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }

    /// The app's configuration.
    pub fn config(&self) -> Arc<Config> {
        self.config.clone()
    }

    /// Holds `value` as the singleton of `T`, for what the framework builds before the
    /// controllers (they find it with [`get`](Self::get)).
    pub(crate) fn provide<T: Send + Sync + 'static>(&mut self, value: Arc<T>) {
        self.singletons.insert(TypeId::of::<T>(), value);
    }

    /// The singleton of a [`Construct`] type (a controller or component), built on first use.
    pub fn singleton<T: Construct>(&mut self) -> Result<Arc<T>, BootError> {
        let id = TypeId::of::<T>();
        if let Some(existing) = self.singletons.get(&id) {
            return downcast::<T>(existing.clone());
        }
        let value: Singleton =
            Arc::new(self.building(id, std::any::type_name::<T>(), T::construct)?);
        self.singletons.insert(id, value.clone());
        downcast::<T>(value)
    }

    /// The singleton of type `T` from any provider, for an `Arc<T>` field at `site`.
    pub fn get<T: Send + Sync + 'static>(&mut self, site: InjectSite) -> Result<Arc<T>, BootError> {
        let id = TypeId::of::<T>();
        if let Some(existing) = self.singletons.get(&id) {
            return downcast::<T>(existing.clone());
        }
        let registration = inventory::iter::<ComponentRegistration>
            .into_iter()
            .find(|r| (r.type_id)() == id)
            .ok_or_else(|| {
                BootError::from(InjectError::NoProvider {
                    owner: short(site.owner).into(),
                    field: site.field.into(),
                    type_name: std::any::type_name::<T>().into(),
                    short_name: short(std::any::type_name::<T>()).into(),
                })
            })?;
        let value = self.building(id, registration.type_name, registration.build)?;
        self.singletons.insert(id, value.clone());
        downcast::<T>(value)
    }

    fn building<V>(
        &mut self,
        id: TypeId,
        name: &'static str,
        build: impl FnOnce(&mut Self) -> Result<V, BootError>,
    ) -> Result<V, BootError> {
        if let Some(start) = self.building.iter().position(|(b, _)| *b == id) {
            let mut cycle: Vec<String> = self.building[start..]
                .iter()
                .map(|(_, n)| short(n).to_string())
                .collect();
            cycle.push(short(name).to_string());
            return Err(InjectError::Cycle(cycle).into());
        }
        self.building.push((id, name));
        let result = build(self);
        self.building.pop();
        result
    }
}

fn downcast<T: Send + Sync + 'static>(value: Singleton) -> Result<Arc<T>, BootError> {
    value
        .downcast::<T>()
        .map_err(|_| BootError::from(InjectError::WrongType(std::any::type_name::<T>().into())))
}

/// `my_app::controller::ServerController` -> `ServerController`, generics kept.
pub(crate) fn short(type_name: &str) -> &str {
    let base = type_name.split('<').next().unwrap_or(type_name);
    match base.rfind("::") {
        Some(i) if !type_name.contains('<') => &type_name[i + 2..],
        Some(i) => &type_name[i + 2..],
        None => type_name,
    }
}

impl Inject for Sender {
    fn inject(container: &mut Container, _site: InjectSite) -> Result<Self, BootError> {
        Ok(container.sender())
    }
}

impl Inject for Config {
    fn inject(container: &mut Container, _site: InjectSite) -> Result<Self, BootError> {
        Ok((*container.config()).clone())
    }
}

impl<T: Send + Sync + 'static> Inject for Arc<T> {
    fn inject(container: &mut Container, site: InjectSite) -> Result<Self, BootError> {
        container.get::<T>(site)
    }
}

/// The value of a `#[value("app.key")]` field: `key` of the `[app]` table of the config (Hyperf's
/// `@Value`). A missing key fails boot naming the field and the key, unless the field is an
/// `Option`; a value of the wrong type fails naming both too. Called by the macros' code.
#[doc(hidden)]
pub fn config_value<T: serde::de::DeserializeOwned>(
    container: &Container,
    site: InjectSite,
    key: &str,
) -> Result<T, BootError> {
    let config = &container.config;
    let field = format!("`{}.{}`", short(site.owner), site.field);
    match config.raw_value(key) {
        Some(value) => value.clone().try_into().map_err(|e: toml::de::Error| {
            BootError::from(InjectError::BadValue {
                field: field.clone(),
                key: key.into(),
                reason: e.message().trim_end().into(),
            })
        }),
        // A missing key is `None` for an `Option` field (serde reads a null as `None`).
        None => serde_json::from_value(serde_json::Value::Null).map_err(|_| {
            let source = config
                .source
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "the config".into());
            BootError::from(InjectError::MissingValue {
                field: field.clone(),
                key: key.into(),
                config: source,
            })
        }),
    }
}
