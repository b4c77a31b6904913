//! `#[ws_core::main]`: the app's entry point.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, Type};

use crate::args::Args;
use crate::errors::{Errors, item_with_errors};

const USAGE: &str = "#[ws_core::main] async fn main() { .. }";

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let _ = Args::parse(attr, &[], USAGE, &mut errors);
    let function = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            errors.push(syn::Error::new(
                error.span(),
                format!("`#[ws_core::main]` goes on the app's `async fn main`: `{USAGE}`"),
            ));
            return finish(item, errors);
        }
    };
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token,
            format!("`#[ws_core::main]` needs an `async fn`: `{USAGE}`; it starts the runtime and runs the body inside it"),
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
    if !errors.is_empty() {
        return fallback(function, errors);
    }

    let attrs = &function.attrs;
    let vis = &function.vis;
    let ident = &sig.ident;
    let body_fn = format_ident!("__ws_main");
    let inputs = &sig.inputs;
    let output = &sig.output;
    let block = &function.block;
    // `&mut __app` spanned at the parameter: a type other than `&mut App` is reported there.
    let arg = sig
        .inputs
        .first()
        .map(|input| quote_spanned! {input.span()=> &mut __app });
    let call = quote! { #body_fn(#arg).await };
    let run = match output {
        ReturnType::Default => quote! { #call; },
        ReturnType::Type(_, ty) => quote_spanned! {ty.span()=>
            if let ::core::result::Result::Err(error) = #call {
                return ::core::result::Result::Err(::core::convert::Into::<::ws_core::Error>::into(error));
            }
        },
    };
    quote! {
        #(#attrs)*
        #vis fn #ident() -> ::std::process::ExitCode {
            async fn #body_fn(#inputs) #output #block
            // The app crate's `config/` is the fallback config folder, so `cargo run` works from anywhere.
            ::ws_core::__private::run_main_in(::core::env!("CARGO_MANIFEST_DIR"), |mut __app: ::ws_core::App| async move {
                #run
                ::core::result::Result::Ok(__app)
            })
        }
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

fn finish(item: TokenStream, errors: Errors) -> TokenStream {
    match errors.finish() {
        Ok(()) => item,
        Err(error) => item_with_errors(item, &error),
    }
}

/// On error: a sync `fn main` is emitted as written (it is valid Rust); an `async` one is kept
/// under another name for rust-analyzer, next to an empty `main`, so the only errors are ours.
fn fallback(function: ItemFn, errors: Errors) -> TokenStream {
    if function.sig.asyncness.is_none() {
        return finish(quote! { #function }, errors);
    }
    let ident = &function.sig.ident;
    let mut kept = function.clone();
    kept.sig.ident = format_ident!("__ws_main_{}", ident);
    finish(
        quote! {
            #[allow(unused)]
            #kept
            fn #ident() {}
        },
        errors,
    )
}
