//! Attribute arguments: `key = "value", list = ["a", "b"]`, parsed leniently (any expression
//! as a value) so that each mistake gets its own precise error instead of a parse failure.
//!
//! This file knows the syntax only; what a value means (a path, a server name) is read by
//! [`crate::model::values`].

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprArray, ExprLit, Ident, Lit, LitStr, Token};

use crate::errors::Errors;

/// One `key = value`.
pub(crate) struct Arg {
    pub(crate) key: Ident,
    pub(crate) value: Expr,
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if !input.peek(Ident::peek_any) {
            return Err(input.error("expected `key = \"value\"`"));
        }
        let key = input.call(Ident::parse_any)?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                key.span(),
                format!("expected `{key} = ...`"),
            ));
        }
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(Self { key, value })
    }
}

/// The arguments of an attribute, checked against the keys it accepts.
pub(crate) struct Args {
    args: Vec<Arg>,
}

impl Args {
    /// Parses `tokens` as `key = value, ...`; unknown and repeated keys are recorded in `errors`
    /// and dropped. `usage` is a complete example of the attribute, for help lines.
    pub(crate) fn parse(
        tokens: TokenStream,
        accepted: &[&str],
        usage: &str,
        errors: &mut Errors,
    ) -> Self {
        Self::parse_with_misplaced(tokens, accepted, &[], usage, errors)
    }

    /// Like [`Args::parse`]; a key of `misplaced` is an error with its own explanation (a key
    /// of another attribute, given here by mistake).
    pub(crate) fn parse_with_misplaced(
        tokens: TokenStream,
        accepted: &[&str],
        misplaced: &[(&str, &str)],
        usage: &str,
        errors: &mut Errors,
    ) -> Self {
        let parsed = match Punctuated::<Arg, Token![,]>::parse_terminated.parse2(tokens) {
            Ok(parsed) => parsed,
            Err(error) => {
                errors.push(syn::Error::new(
                    error.span(),
                    format!("{error}; usage: `{usage}`"),
                ));
                return Self { args: Vec::new() };
            }
        };
        let mut args: Vec<Arg> = Vec::new();
        for arg in parsed {
            let key = arg.key.to_string();
            if let Some((_, why)) = misplaced.iter().find(|(k, _)| *k == key) {
                errors.at(&arg.key, *why);
            } else if !accepted.contains(&key.as_str()) {
                let list = if accepted.is_empty() {
                    "it takes no arguments".to_string()
                } else {
                    format!(
                        "accepted keys: {}",
                        accepted
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                errors.at(&arg.key, format!("unknown key `{key}`; {list}"));
            } else if args.iter().any(|a| a.key == arg.key) {
                errors.at(&arg.key, format!("duplicate key `{key}`"));
            } else {
                args.push(arg);
            }
        }
        Self { args }
    }

    /// Whether `key` was given (whatever its value).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.args.iter().any(|a| a.key == key)
    }

    /// The path value of `key` (`key = module::function`), if given; a value of another kind
    /// is recorded as an error. `example` completes the help line.
    pub(crate) fn path(&self, key: &str, example: &str, errors: &mut Errors) -> Option<syn::Path> {
        let arg = self.args.iter().find(|a| a.key == key)?;
        match &arg.value {
            Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
                Some(path.path.clone())
            }
            other => {
                errors.at(
                    other,
                    format!("`{key}` expects a path to a function, e.g. `{key} = {example}`"),
                );
                None
            }
        }
    }

    /// The string value of `key`, if given; a value of another kind is recorded as an error.
    pub(crate) fn string(&self, key: &str, errors: &mut Errors) -> Option<LitStr> {
        let arg = self.args.iter().find(|a| a.key == key)?;
        match &arg.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Some(s.clone()),
            other => {
                errors.at(
                    other,
                    format!("`{key}` expects a string literal, e.g. `{key} = \"...\"`"),
                );
                None
            }
        }
    }

    /// The boolean value of `key` (`key = false`), if given; a value of another kind is recorded
    /// as an error.
    pub(crate) fn bool(&self, key: &str, errors: &mut Errors) -> Option<bool> {
        let arg = self.args.iter().find(|a| a.key == key)?;
        match &arg.value {
            Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            }) => Some(b.value),
            other => {
                errors.at(
                    other,
                    format!("`{key}` expects `true` or `false`, e.g. `{key} = false`"),
                );
                None
            }
        }
    }

    /// The list of strings of `key` (`key = ["a", "b"]`), if given.
    pub(crate) fn strings(&self, key: &str, errors: &mut Errors) -> Option<(Vec<LitStr>, Span)> {
        let arg = self.args.iter().find(|a| a.key == key)?;
        let Expr::Array(ExprArray { elems, .. }) = &arg.value else {
            errors.at(
                &arg.value,
                format!("`{key}` expects a list of string literals, e.g. `{key} = [\"a\", \"b\"]`"),
            );
            return None;
        };
        let mut out = Vec::new();
        for elem in elems {
            match elem {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => out.push(s.clone()),
                other => errors.at(other, format!("`{key}` expects string literals")),
            }
        }
        Some((out, arg.value.span()))
    }
}

/// The arguments of an attribute that takes none (`#[component]`, `#[routes]`): anything given
/// is recorded in `errors`.
pub(crate) fn no_args(tokens: TokenStream, usage: &str, errors: &mut Errors) {
    let _ = Args::parse(tokens, &[], usage, errors);
}
