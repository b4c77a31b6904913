//! Checks of a `#[socketio_events]` impl: handler signatures, and one handler per event.

use std::collections::HashMap;

use quote::quote;
use syn::{FnArg, Type};

use crate::errors::Errors;
use crate::model::socketio::{EventsImpl, Handler, Role};

pub(crate) fn check(model: &EventsImpl, errors: &mut Errors) {
    let item = &model.item;
    if !item.generics.params.is_empty() || item.trait_.is_some() {
        let impl_token = &item.impl_token;
        let self_ty = &item.self_ty;
        errors.at(
            quote! { #impl_token #self_ty },
            "`#[socketio_events]` goes on a plain, non-generic `impl MyNamespace { .. }`",
        );
    }
    let mut seen: HashMap<String, &Handler> = HashMap::new();
    for handler in &model.handlers {
        signature(handler, errors);
        let key = match &handler.role {
            Role::Event(name) => name.value(),
            Role::Connect => "\u{0}connect".into(),
            Role::Disconnect => "\u{0}disconnect".into(),
        };
        if let Some(first) = seen.get(&key) {
            if let Role::Event(name) = &handler.role {
                errors.at(
                    name,
                    format!(
                        "two handlers for event \"{}\": `{}` and `{}`; an event has one handler",
                        name.value(),
                        first.ident(),
                        handler.ident()
                    ),
                );
            }
        } else {
            seen.insert(key, handler);
        }
    }
}

/// `async fn name(&self, socket: &Socket[, value: T])`.
fn signature(handler: &Handler, errors: &mut Errors) {
    let sig = &handler.method.sig;
    let usage = match handler.role {
        Role::Event(_) => "`async fn name(&self, socket: &Socket, data: T) -> R` (`data` optional)",
        Role::Connect => {
            "`async fn on_connect(&self, socket: &Socket, auth: T) -> Result<(), E>` (`auth` optional)"
        }
        Role::Disconnect => {
            "`async fn on_disconnect(&self, socket: &Socket, reason: DisconnectReason)`"
        }
    };
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token,
            format!("Socket.IO handlers are async: {usage}"),
        );
    }
    if !sig.generics.params.is_empty() {
        errors.at(
            &sig.generics,
            format!("Socket.IO handlers are not generic: {usage}"),
        );
    }
    match sig.inputs.first() {
        Some(FnArg::Receiver(receiver))
            if receiver.reference.is_some() && receiver.mutability.is_none() => {}
        _ => errors.at(
            &sig.ident,
            format!("a Socket.IO handler takes `&self`: {usage}"),
        ),
    }
    let params = handler.params();
    match params.first() {
        Some(FnArg::Typed(socket)) if matches!(*socket.ty, Type::Reference(_)) => {}
        Some(other) => errors.at(
            other,
            format!("the first parameter is the socket, `&Socket`: {usage}"),
        ),
        None => errors.at(&sig.ident, format!("the handler needs the socket: {usage}")),
    }
    for extra in params.iter().skip(2) {
        errors.at(extra, format!("too many parameters: {usage}"));
    }
}
