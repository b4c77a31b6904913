//! The model of `#[ws_controller]`, `#[controller]` and `#[component]`: their arguments, and the
//! struct the container builds, each field with the source of its value (`#[inject]`,
//! `#[value("app.key")]` or `Default`).

use heck::ToUpperCamelCase;
use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{Attribute, Fields, Ident, Item, ItemStruct, LitStr, Member, Meta, Type};

use crate::errors::Errors;
use crate::model::args::Args;
use crate::model::values::{
    validate_config_key, validate_path, validate_protocols, validate_server,
};
use crate::naming::unraw;

/// The struct macros; each one generates the type's `Construct` impl.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum StructMacro {
    WsController,
    Controller,
    Component,
    SocketIoNamespace,
}

impl StructMacro {
    pub(crate) const ALL: [StructMacro; 4] = [
        StructMacro::WsController,
        StructMacro::Controller,
        StructMacro::Component,
        StructMacro::SocketIoNamespace,
    ];

    /// The attribute's name: `ws_controller`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            StructMacro::WsController => "ws_controller",
            StructMacro::Controller => "controller",
            StructMacro::Component => "component",
            StructMacro::SocketIoNamespace => "socketio_namespace",
        }
    }

    /// What the user calls the type, in messages.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            StructMacro::WsController | StructMacro::Controller => "controller",
            StructMacro::Component => "component",
            StructMacro::SocketIoNamespace => "namespace",
        }
    }
}

/// `#[ws_controller(server = "ws", path = "/", protocols = ["chat.v1"], compression = false)]`.
pub(crate) struct WsControllerArgs {
    pub(crate) server: LitStr,
    pub(crate) path: LitStr,
    pub(crate) protocols: Vec<LitStr>,
    /// Whether the route negotiates permessage-deflate; `true` unless given.
    pub(crate) compression: bool,
}

impl WsControllerArgs {
    const USAGE: &str = "#[ws_controller(server = \"ws\", path = \"/\")]";

    /// `None` when `server` or `path` is missing or not a string; every mistake is in `errors`.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Option<Self> {
        let usage = Self::USAGE;
        let args = Args::parse_with_misplaced(
            tokens,
            &["server", "path", "protocols", "compression"],
            &[(
                "layer",
                "`layer` applies to HTTP controllers (`#[controller(layer = ..)]`); a WebSocket \
                 handshake is checked in `on_handshake`, or by a layer of the axum app it is \
                 mounted in",
            )],
            usage,
            errors,
        );
        let missing: Vec<String> = ["server", "path"]
            .into_iter()
            .filter(|k| !args.has(k))
            .map(|k| format!("`{k}`"))
            .collect();
        if !missing.is_empty() {
            errors.at_span(
                Span::call_site(),
                format!("missing {}; usage: `{usage}`", missing.join(" and ")),
            );
        }
        let server = args.string("server", errors);
        if let Some(server) = &server {
            validate_server(server, errors);
        }
        let path = args.string("path", errors);
        if let Some(path) = &path {
            validate_path(path, "`path`", errors);
        }
        let protocols = args
            .strings("protocols", errors)
            .map(|(list, _)| list)
            .unwrap_or_default();
        validate_protocols(&protocols, errors);
        let compression = args.bool("compression", errors).unwrap_or(true);
        Some(Self {
            server: server?,
            path: path?,
            protocols,
            compression,
        })
    }
}

/// `#[controller(server = "http", prefix = "/server", layer = middleware::cors)]`; all
/// optional. `layer` names a function returning the tower layer around the routes.
pub(crate) struct ControllerArgs {
    pub(crate) server: Option<LitStr>,
    pub(crate) prefix: Option<LitStr>,
    pub(crate) layer: Option<syn::Path>,
}

impl ControllerArgs {
    const USAGE: &str = "#[controller(server = \"http\", prefix = \"/server\")]";

    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let args = Args::parse(tokens, &["server", "prefix", "layer"], Self::USAGE, errors);
        let server = args.string("server", errors);
        if let Some(server) = &server {
            validate_server(server, errors);
        }
        let prefix = args.string("prefix", errors);
        if let Some(prefix) = &prefix {
            validate_path(prefix, "`prefix`", errors);
        }
        let layer = args.path("layer", "middleware::cors", errors);
        Self {
            server,
            prefix,
            layer,
        }
    }
}

/// Where a field's value comes from.
pub(crate) enum Source {
    /// `#[inject]`: `<Ty as Inject>::inject(..)`.
    Inject,
    /// `#[value("app.key")]`: the config value.
    Value(LitStr),
    /// Anything else: `Default::default()`.
    Default,
}

/// The field attributes the struct macros read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldAttrKind {
    Inject,
    Value,
}

impl FieldAttrKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            FieldAttrKind::Inject => "inject",
            FieldAttrKind::Value => "value",
        }
    }
}

/// An `#[inject]` or `#[value(..)]` written on a field (removed from the emitted struct).
pub(crate) struct FieldAttr {
    pub(crate) kind: FieldAttrKind,
    /// The attribute as written, for errors.
    pub(crate) attr: Attribute,
}

pub(crate) struct FieldModel {
    pub(crate) member: Member,
    pub(crate) ty: Type,
    /// What the first field attribute says; `Default` without one (or when it is malformed).
    pub(crate) source: Source,
    /// Every field attribute, in order: more than one, or any on a tuple field, is refused by
    /// [`crate::check::structs`].
    pub(crate) attrs: Vec<FieldAttr>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Named,
    Tuple,
    Unit,
}

/// A struct the container can build.
pub(crate) struct StructModel {
    pub(crate) by: StructMacro,
    /// The struct as emitted: field attributes removed.
    pub(crate) item: ItemStruct,
    pub(crate) shape: Shape,
    pub(crate) fields: Vec<FieldModel>,
}

impl StructModel {
    /// Parses `item` as the struct of `#[by]`; `Err` carries the tokens to emit instead (the
    /// item is not a struct).
    pub(crate) fn parse(
        item: TokenStream,
        by: StructMacro,
        errors: &mut Errors,
    ) -> Result<Self, TokenStream> {
        let mut item = match syn::parse2::<Item>(item.clone()) {
            Ok(Item::Struct(item)) => item,
            Ok(other) => {
                let name = by.name();
                errors.at_span(
                    item_keyword_span(&other),
                    format!(
                        "`#[{name}]` goes on a struct, e.g. `#[{name}] pub struct My{};`",
                        by.noun().to_upper_camel_case()
                    ),
                );
                return Err(item);
            }
            // rustc parsed the item already, so this is syntax `syn` does not know: say so and
            // emit the item untouched.
            Err(error) => {
                errors.push(error);
                return Err(item);
            }
        };
        let shape = match &item.fields {
            Fields::Named(_) => Shape::Named,
            Fields::Unnamed(_) => Shape::Tuple,
            Fields::Unit => Shape::Unit,
        };
        let mut fields = Vec::new();
        for (index, field) in item.fields.iter_mut().enumerate() {
            let (attrs, source) = take_field_attrs(&mut field.attrs, errors);
            let member = match &field.ident {
                Some(ident) => Member::Named(ident.clone()),
                None => Member::Unnamed(index.into()),
            };
            fields.push(FieldModel {
                member,
                ty: field.ty.clone(),
                source,
                attrs,
            });
        }
        Ok(Self {
            by,
            item,
            shape,
            fields,
        })
    }

    pub(crate) fn ident(&self) -> &Ident {
        &self.item.ident
    }

    /// `"ServerController"`, for messages and registrations.
    pub(crate) fn name(&self) -> String {
        unraw(self.ident())
    }
}

fn item_keyword_span(item: &Item) -> Span {
    match item {
        Item::Enum(e) => e.enum_token.span,
        Item::Union(u) => u.union_token.span,
        Item::Fn(f) => f.sig.fn_token.span,
        Item::Impl(i) => i.impl_token.span,
        Item::Trait(t) => t.trait_token.span,
        other => other.span(),
    }
}

/// Removes `#[inject]` / `#[value(..)]` from a field's attributes and reads them: the field's
/// source is what the first one says.
fn take_field_attrs(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> (Vec<FieldAttr>, Source) {
    let mut taken: Vec<FieldAttr> = Vec::new();
    let mut source = None;
    let mut kept = Vec::new();
    for attr in attrs.drain(..) {
        let kind = if attr.path().is_ident("inject") {
            FieldAttrKind::Inject
        } else if attr.path().is_ident("value") {
            FieldAttrKind::Value
        } else {
            kept.push(attr);
            continue;
        };
        let read = read_field_attr(kind, &attr, errors);
        if taken.is_empty() {
            source = read;
        }
        taken.push(FieldAttr { kind, attr });
    }
    *attrs = kept;
    (taken, source.unwrap_or(Source::Default))
}

/// The source `attr` names; `None` (with an error) when it is malformed.
fn read_field_attr(kind: FieldAttrKind, attr: &Attribute, errors: &mut Errors) -> Option<Source> {
    match (kind, &attr.meta) {
        (FieldAttrKind::Inject, Meta::Path(_)) => Some(Source::Inject),
        (FieldAttrKind::Inject, _) => {
            errors.at(
                attr,
                "`#[inject]` takes no arguments: the field's type says what is injected",
            );
            None
        }
        (FieldAttrKind::Value, Meta::List(list)) => match list.parse_args::<LitStr>() {
            Ok(key) => validate_config_key(&key, errors).then_some(Source::Value(key)),
            Err(_) => {
                errors.at(
                    &list.tokens,
                    "expected a config key: `#[value(\"app.name\")]`",
                );
                None
            }
        },
        (FieldAttrKind::Value, _) => {
            errors.at(attr, "expected a config key: `#[value(\"app.name\")]`");
            None
        }
    }
}
