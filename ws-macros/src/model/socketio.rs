//! The model of `#[socketio_namespace]`'s arguments and of a `#[socketio_events]` impl: its
//! `#[event("name")]` methods and its `on_connect` / `on_disconnect`.

use proc_macro2::{Span, TokenStream};
use syn::{FnArg, Ident, ImplItem, ImplItemFn, Item, ItemImpl, LitStr, Type};

use crate::errors::Errors;
use crate::model::args::Args;
use crate::model::values::validate_server;

/// `#[socketio_namespace(server = "ws", path = "/")]`; `path` defaults to `/`.
pub(crate) struct NamespaceArgs {
    pub(crate) server: LitStr,
    pub(crate) path: LitStr,
}

impl NamespaceArgs {
    const USAGE: &str = "#[socketio_namespace(server = \"ws\", path = \"/\")]";

    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Option<Self> {
        let args = Args::parse(tokens, &["server", "path"], Self::USAGE, errors);
        if !args.has("server") {
            errors.at_span(
                Span::call_site(),
                format!("missing `server`; usage: `{}`", Self::USAGE),
            );
        }
        let server = args.string("server", errors);
        if let Some(server) = &server {
            validate_server(server, errors);
        }
        let path = args
            .string("path", errors)
            .unwrap_or_else(|| LitStr::new("/", Span::call_site()));
        let value = path.value();
        if !value.starts_with('/') || value.contains(',') || value.chars().any(char::is_whitespace)
        {
            errors.at(
                &path,
                "a namespace starts with `/` and has no commas or spaces, e.g. \"/chat\"",
            );
        }
        Some(Self {
            server: server?,
            path,
        })
    }
}

/// What a handler method of the impl is.
#[derive(Clone)]
pub(crate) enum Role {
    /// `#[event("name")]`.
    Event(LitStr),
    /// `on_connect`.
    Connect,
    /// `on_disconnect`.
    Disconnect,
}

/// A handler method as written.
pub(crate) struct Handler {
    pub(crate) role: Role,
    pub(crate) method: ImplItemFn,
}

impl Handler {
    pub(crate) fn ident(&self) -> &Ident {
        &self.method.sig.ident
    }

    /// Parameters after `self`.
    pub(crate) fn params(&self) -> Vec<&FnArg> {
        self.method
            .sig
            .inputs
            .iter()
            .filter(|a| !matches!(a, FnArg::Receiver(_)))
            .collect()
    }

    /// The payload (events), `auth` (`on_connect`) or reason (`on_disconnect`) type.
    pub(crate) fn value_type(&self) -> Option<&Type> {
        match self.params().get(1)? {
            FnArg::Typed(typed) => Some(&typed.ty),
            FnArg::Receiver(_) => None,
        }
    }
}

/// A `#[socketio_events]` impl.
pub(crate) struct EventsImpl {
    /// The impl as emitted: `#[event]` attributes removed.
    pub(crate) item: ItemImpl,
    pub(crate) handlers: Vec<Handler>,
}

impl EventsImpl {
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Result<Self, TokenStream> {
        let mut item = match syn::parse2::<Item>(tokens.clone()) {
            Ok(Item::Impl(item)) => item,
            Ok(_) => {
                errors.at_span(
                    Span::call_site(),
                    "`#[socketio_events]` goes on an impl block: `#[socketio_events] impl MyNamespace { .. }`",
                );
                return Err(tokens);
            }
            Err(error) => {
                errors.push(error);
                return Err(tokens);
            }
        };
        let mut handlers = Vec::new();
        for member in &mut item.items {
            let ImplItem::Fn(method) = member else {
                continue;
            };
            let mut role = None;
            let mut kept = Vec::new();
            for attr in method.attrs.drain(..) {
                if !attr.path().is_ident("event") {
                    kept.push(attr);
                    continue;
                }
                if role.is_some() {
                    errors.at(&attr, "one `#[event(\"name\")]` per method");
                    continue;
                }
                match attr.parse_args::<LitStr>() {
                    Ok(name) if !name.value().is_empty() => role = Some(Role::Event(name)),
                    _ => errors.at(
                        &attr,
                        "expected an event name: `#[event(\"chat message\")]`",
                    ),
                }
            }
            method.attrs = kept;
            let ident = method.sig.ident.to_string();
            if role.is_none() && (ident == "on_connect" || ident == "on_disconnect") {
                role = Some(if ident == "on_connect" {
                    Role::Connect
                } else {
                    Role::Disconnect
                });
            }
            if let Some(role) = role {
                handlers.push(Handler {
                    role,
                    method: method.clone(),
                });
            }
        }
        Ok(Self { item, handlers })
    }
}
