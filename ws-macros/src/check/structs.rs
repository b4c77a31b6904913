//! Checks of the struct a `#[ws_controller]`, `#[controller]` or `#[component]` builds.

use quote::quote;
use syn::Attribute;

use crate::errors::Errors;
use crate::model::structs::{Shape, StructMacro, StructModel};

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
