//! Each macro end to end: read its model ([`crate::model`]), check it ([`crate::check`]),
//! then generate its code ([`crate::generate`]) or, on any error, emit the item as written
//! (helper attributes removed) with every error.

use proc_macro2::TokenStream;
use quote::ToTokens;

use crate::check;
use crate::errors::{Errors, item_with_errors};
use crate::generate;
use crate::model::args::no_args;
use crate::model::main_fn::MainFn;
use crate::model::routes::{RoutesImpl, Style};
use crate::model::socketio::{EventsImpl, NamespaceArgs};
use crate::model::structs::{ControllerArgs, StructMacro, StructModel, WsControllerArgs};

/// `#[ws_controller(..)]`.
pub(crate) fn ws_controller(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = WsControllerArgs::parse(attr, &mut errors);
    match (
        checked_struct(item, StructMacro::WsController, errors),
        args,
    ) {
        (Ok(model), Some(args)) => generate::structs::ws_controller(&model, &args),
        (Err(tokens), _) => tokens,
        // Unreached: arguments without a `server` or `path` come with an error.
        (Ok(model), None) => model.item.into_token_stream(),
    }
}

/// `#[controller(..)]`.
pub(crate) fn controller(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = ControllerArgs::parse(attr, &mut errors);
    match checked_struct(item, StructMacro::Controller, errors) {
        Ok(model) => generate::structs::controller(&model, &args),
        Err(tokens) => tokens,
    }
}

/// `#[socketio_namespace(..)]`.
pub(crate) fn socketio_namespace(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = NamespaceArgs::parse(attr, &mut errors);
    match (
        checked_struct(item, StructMacro::SocketIoNamespace, errors),
        args,
    ) {
        (Ok(model), Some(args)) => generate::socketio::namespace(&model, &args),
        (Err(tokens), _) => tokens,
        // Unreached: arguments without a `server` come with an error.
        (Ok(model), None) => model.item.into_token_stream(),
    }
}

/// `#[socketio_events]`.
pub(crate) fn socketio_events(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    no_args(attr, "#[socketio_events]", &mut errors);
    let model = match EventsImpl::parse(item, &mut errors) {
        Ok(model) => model,
        Err(tokens) => return errors.emit_with(tokens),
    };
    check::socketio::check(&model, &mut errors);
    match errors.finish() {
        Ok(()) => generate::socketio::events(&model),
        // With a handler-less impl of the trait, so the namespace's own macro does not add
        // "has no event handlers" to the real errors.
        Err(error) => {
            let fallback = generate::socketio::fallback(&model);
            let item = item_with_errors(&model.item, &error);
            quote::quote! { #item #fallback }
        }
    }
}

/// `#[component]`.
pub(crate) fn component(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    no_args(attr, "#[component]", &mut errors);
    match checked_struct(item, StructMacro::Component, errors) {
        Ok(model) => generate::structs::component(&model),
        Err(tokens) => tokens,
    }
}

/// Reads and checks the struct under `#[by]`. `errors` holds the mistakes of the attribute's
/// arguments; with any error, `Err` is what to emit instead of generated code.
fn checked_struct(
    item: TokenStream,
    by: StructMacro,
    mut errors: Errors,
) -> Result<StructModel, TokenStream> {
    let model = match StructModel::parse(item, by, &mut errors) {
        Ok(model) => model,
        Err(tokens) => return Err(errors.emit_with(tokens)),
    };
    check::structs::check(&model, &mut errors);
    match errors.finish() {
        Ok(()) => Ok(model),
        Err(error) => Err(item_with_errors(
            check::structs::without_derive_default(&model.item),
            &error,
        )),
    }
}

/// `#[auto_routes]` and `#[routes]`.
pub(crate) fn routes(attr: TokenStream, item: TokenStream, style: Style) -> TokenStream {
    let mut errors = Errors::default();
    no_args(attr, &format!("#[{}]", style.macro_name()), &mut errors);
    let model = match RoutesImpl::parse(item, style, &mut errors) {
        Ok(model) => model,
        Err(tokens) => return errors.emit_with(tokens),
    };
    check::routes::check(&model, &mut errors);
    match (errors.finish(), &model.controller) {
        (Ok(()), Some(controller)) => generate::routes::routes(&model, controller),
        (Err(error), _) => item_with_errors(&model.item, &error),
        // Unreached: the checks refuse an impl whose type has no name.
        (Ok(()), None) => model.item.into_token_stream(),
    }
}

/// `#[ws_core::main]`.
pub(crate) fn main_fn(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    no_args(attr, MainFn::USAGE, &mut errors);
    let model = match MainFn::parse(item, &mut errors) {
        Ok(model) => model,
        Err(tokens) => return errors.emit_with(tokens),
    };
    check::main_fn::check(&model, &mut errors);
    match errors.finish() {
        Ok(()) => generate::main_fn::main_fn(&model),
        Err(error) => generate::main_fn::fallback(model, &error),
    }
}
