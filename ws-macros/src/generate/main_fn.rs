//! The code of `#[ws_core::main]`: a sync `fn main` that starts the runtime and runs the user's
//! body inside it, then the app's command line.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ReturnType;
use syn::spanned::Spanned;

use crate::errors::item_with_errors;
use crate::model::main_fn::MainFn;

pub(crate) fn main_fn(model: &MainFn) -> TokenStream {
    let function = &model.function;
    let sig = &function.sig;
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

/// On error: a sync `fn main` is emitted as written (it is valid Rust); an `async` one is kept
/// under another name for rust-analyzer, next to an empty `main`, so the only errors are ours.
pub(crate) fn fallback(model: MainFn, error: &syn::Error) -> TokenStream {
    let function = model.function;
    if function.sig.asyncness.is_none() {
        return item_with_errors(function, error);
    }
    let ident = &function.sig.ident;
    let mut kept = function.clone();
    kept.sig.ident = format_ident!("__ws_main_{}", ident);
    item_with_errors(
        quote! {
            #[allow(unused)]
            #kept
            fn #ident() {}
        },
        error,
    )
}
