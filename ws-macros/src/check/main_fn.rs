//! Checks of the function under `#[ws_core::main]`: `async`, not generic, and at most one
//! parameter, the app being set up.

use quote::quote;
use syn::{FnArg, Type};

use crate::errors::Errors;
use crate::model::main_fn::MainFn;

pub(crate) fn check(model: &MainFn, errors: &mut Errors) {
    let sig = &model.function.sig;
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token,
            format!(
                "`#[ws_core::main]` needs an `async fn`: `{}`; it starts the runtime and runs the body inside it",
                MainFn::USAGE
            ),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let generics = &sig.generics;
        let where_clause = &generics.where_clause;
        errors.at(
            quote! { #generics #where_clause },
            "`main` cannot be generic",
        );
    }
    for (i, input) in sig.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(receiver) => errors.at(receiver, "`main` cannot take `self`"),
            FnArg::Typed(_) if i > 0 => {
                errors.at(
                    input,
                    "`main` takes no argument, or one: the app being set up (`app: &mut App`)",
                );
            }
            FnArg::Typed(typed) if !is_mut_app(&typed.ty) => {
                errors.at(&typed.ty, "`main` takes the app being set up as `&mut App`");
            }
            FnArg::Typed(_) => {}
        }
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic, "`main` cannot be variadic");
    }
}

/// `&mut App`, `&mut ws_core::App`, ...
fn is_mut_app(ty: &Type) -> bool {
    match ty {
        Type::Reference(reference) if reference.mutability.is_some() => match &*reference.elem {
            Type::Path(path) => {
                path.qself.is_none() && path.path.segments.last().is_some_and(|s| s.ident == "App")
            }
            _ => false,
        },
        _ => false,
    }
}
