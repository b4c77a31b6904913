//! Checks of the struct a `#[ws_controller]`, `#[controller]` or `#[component]` builds.

use quote::quote;
use syn::punctuated::Punctuated;
use syn::{Attribute, Path, Token};

use crate::errors::Errors;
use crate::model::structs::{FieldAttrKind, Shape, StructMacro, StructModel};

pub(crate) fn check(model: &StructModel, errors: &mut Errors) {
    let item = &model.item;
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        let generics = &item.generics;
        let where_clause = &generics.where_clause;
        errors.at(
            quote! { #generics #where_clause },
            format!(
                "generic {}s are not supported: the container builds exactly one `{}`",
                model.by.noun(),
                model.name()
            ),
        );
    }
    let name = model.by.name();
    for attr in &item.attrs {
        if let Some(other) = struct_macro(attr)
            && other != model.by
        {
            errors.at(
                attr,
                format!(
                    "`#[{name}]` and `#[{}]` cannot be combined: each one builds the type",
                    other.name()
                ),
            );
        }
    }
    check_derive_default(model, errors);
    for field in &model.fields {
        if model.shape == Shape::Tuple {
            for attr in &field.attrs {
                errors.at(
                    &attr.attr,
                    format!("`#[{}]` is not supported on tuple struct fields: give `{}` named fields, the name appears in boot errors", attr.kind.name(), model.name()),
                );
            }
            continue;
        }
        let Some((first, rest)) = field.attrs.split_first() else {
            continue;
        };
        for attr in rest {
            let message = if attr.kind == first.kind {
                format!("duplicate `#[{}]`", attr.kind.name())
            } else {
                "a field is either `#[inject]` or `#[value(\"app.key\")]`, not both".to_string()
            };
            errors.at(&attr.attr, message);
        }
    }
}

/// `#[derive(Default)]` beside an `#[inject]` field: the derive asks `Default` of the injected
/// type (`Sender: Default` is not satisfied), an error that hides the rule. The macro builds the
/// value itself, so the derive is never needed.
fn check_derive_default(model: &StructModel, errors: &mut Errors) {
    let injects = model.fields.iter().any(|field| {
        field
            .attrs
            .iter()
            .any(|attr| attr.kind == FieldAttrKind::Inject)
    });
    if !injects {
        return;
    }
    for attr in &model.item.attrs {
        if !attr.path().is_ident("derive") {
            continue;
        }
        let Ok(paths) = attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
        else {
            continue;
        };
        for path in paths.iter().filter(|p| {
            p.segments
                .last()
                .is_some_and(|segment| segment.ident == "Default")
        }) {
            errors.at(
                path,
                format!(
                    "remove `#[derive(Default)]`: `#[{}]` builds `{}` itself, injecting its `#[inject]` fields, and those types need not implement `Default`",
                    model.by.name(),
                    model.name()
                ),
            );
        }
    }
}

/// `item` without `Default` in its derives: what a failed macro emits once
/// [`check_derive_default`] reported the derive, so the compiler does not add its own misleading
/// "`Sender: Default` is not satisfied" beside the macro's error.
pub(crate) fn without_derive_default(item: &syn::ItemStruct) -> syn::ItemStruct {
    let mut item = item.clone();
    item.attrs.retain_mut(|attr| {
        if !attr.path().is_ident("derive") {
            return true;
        }
        let Ok(paths) = attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
        else {
            return true;
        };
        let kept: Punctuated<Path, Token![,]> = paths
            .into_iter()
            .filter(|p| p.segments.last().is_none_or(|s| s.ident != "Default"))
            .collect();
        if kept.is_empty() {
            return false;
        }
        *attr = syn::parse_quote! { #[derive(#kept)] };
        true
    });
    item
}

/// `Some(Controller)` for `#[controller]` or `#[ws_core::controller]`.
fn struct_macro(attr: &Attribute) -> Option<StructMacro> {
    let path = attr.path();
    let last = path.segments.last()?.ident.to_string();
    let plain =
        path.segments.len() == 1 || path.segments.first().is_some_and(|s| s.ident == "ws_core");
    StructMacro::ALL
        .into_iter()
        .find(|by| plain && by.name() == last)
}
