//! The code each macro emits for a checked model, one file per macro family. Generated code
//! names only `::ws_core` (through the hidden `ws_core::__private` hub) and `::core`/`::std`,
//! and lives in a `const _: () = { .. };` block after the item, so it adds no names to the
//! user's module (serde_derive's `dummy.rs`).

pub(crate) mod main_fn;
pub(crate) mod routes;
pub(crate) mod socketio;
pub(crate) mod structs;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

/// The item as emitted, then `generated` in an anonymous const block.
fn item_then_const(item: impl ToTokens, generated: TokenStream) -> TokenStream {
    quote! {
        #item
        const _: () = {
            #generated
        };
    }
}

/// `"my_app::module::Name"`, for registrations and boot errors.
fn type_path_literal(name: &str) -> TokenStream {
    quote! { ::core::concat!(::core::module_path!(), "::", #name) }
}
