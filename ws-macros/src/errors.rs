//! Collects every error of an item so the user sees them all in one build.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

/// An accumulator of `syn::Error`s, serde's `Ctxt` in small.
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    /// Records `error`.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Records an error spanned at `tokens`.
    pub(crate) fn at(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error at `span`.
    pub(crate) fn at_span(&mut self, span: proc_macro2::Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.combined.is_none()
    }

    /// `item` followed by every recorded error; `item` alone if nothing was recorded.
    pub(crate) fn emit_with(self, item: impl ToTokens) -> TokenStream {
        match self.combined {
            Some(error) => item_with_errors(item, &error),
            None => item.into_token_stream(),
        }
    }

    /// `Ok` if nothing was recorded.
    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.combined {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// What a macro emits when it fails: the item as the user wrote it (minus our helper attributes,
/// which would be "unknown attribute" noise), so rust-analyzer keeps resolving it, plus every
/// error (actix-web-codegen's `input_and_compile_error`).
pub(crate) fn item_with_errors(item: impl ToTokens, error: &syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    quote! { #item #errors }
}
