//! The model of `#[ws_core::main]`: the app's `main` function, as written.

use proc_macro2::TokenStream;
use syn::ItemFn;

use crate::errors::Errors;

/// The function under `#[ws_core::main]`.
pub(crate) struct MainFn {
    pub(crate) function: ItemFn,
}

impl MainFn {
    /// The attribute on its function, for help lines.
    pub(crate) const USAGE: &str = "#[ws_core::main] async fn main() { .. }";

    /// Parses `item` as a function; `Err` carries the tokens to emit instead.
    pub(crate) fn parse(item: TokenStream, errors: &mut Errors) -> Result<Self, TokenStream> {
        match syn::parse2::<ItemFn>(item.clone()) {
            Ok(function) => Ok(Self { function }),
            Err(error) => {
                errors.push(syn::Error::new(
                    error.span(),
                    format!(
                        "`#[ws_core::main]` goes on the app's `async fn main`: `{}`",
                        Self::USAGE
                    ),
                ));
                Err(item)
            }
        }
    }
}
