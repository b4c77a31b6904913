//! The per-connection context: Hyperf's `Hyperf\WebSocketServer\Context`.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

type Slot = Arc<dyn Any + Send + Sync>;
type Slots = Option<HashMap<Box<str>, Slot>>;

/// A typed key/value store that lives exactly as long as one connection.
///
/// `on_open`, `on_message` and `on_close` of one connection all see the same context; it is dropped
/// when the connection closes (also when the handshake failed half-way). Values are stored by
/// key and read back with the type they were stored as.
///
/// ```
/// use ws_core::Context;
///
/// let ctx = Context::default();
/// ctx.set("username", "alice".to_string());
/// assert_eq!(ctx.get::<String>("username").as_deref(), Some("alice"));
/// assert!(ctx.has("username"));
/// assert_eq!(ctx.get::<u32>("username"), None); // stored as a String
/// ctx.remove("username");
/// assert!(!ctx.has("username"));
/// ```
#[derive(Default, Clone)]
pub struct Context {
    // Most connections store nothing, so the map is only allocated on the first `set`.
    slots: Arc<Mutex<Slots>>,
}

impl Context {
    /// Stores `value` under `key`, replacing what was there.
    pub fn set<T: Any + Send + Sync>(&self, key: impl Into<String>, value: T) {
        let key: String = key.into();
        self.slots
            .lock()
            .get_or_insert_with(HashMap::new)
            .insert(key.into_boxed_str(), Arc::new(value));
    }

    /// A clone of the value under `key`, if one of type `T` is there.
    pub fn get<T: Any + Send + Sync + Clone>(&self, key: &str) -> Option<T> {
        self.get_shared::<T>(key).map(|v| (*v).clone())
    }

    /// A shared handle to the value under `key`, without cloning it.
    pub fn get_shared<T: Any + Send + Sync>(&self, key: &str) -> Option<Arc<T>> {
        let slot = self.slots.lock().as_ref()?.get(key)?.clone();
        slot.downcast::<T>().ok()
    }

    /// Whether anything is stored under `key`.
    pub fn has(&self, key: &str) -> bool {
        self.slots
            .lock()
            .as_ref()
            .is_some_and(|m| m.contains_key(key))
    }

    /// Removes what is stored under `key`; whether there was anything.
    pub fn remove(&self, key: &str) -> bool {
        self.slots
            .lock()
            .as_mut()
            .is_some_and(|m| m.remove(key).is_some())
    }

    /// Drops every value.
    pub fn clear(&self) {
        *self.slots.lock() = None;
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<String> = self
            .slots
            .lock()
            .as_ref()
            .map(|m| m.keys().map(|k| k.to_string()).collect())
            .unwrap_or_default();
        f.debug_struct("Context").field("keys", &keys).finish()
    }
}
