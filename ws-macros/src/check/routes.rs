//! Checks of an `#[auto_routes]` / `#[routes]` impl: an inherent impl of one controller type,
//! route methods the request can call (`async`, `&self`, parameters bound by name), and no route
//! declared twice.

use std::collections::HashSet;

use quote::quote;
use syn::{ItemImpl, Type};

use crate::errors::Errors;
use crate::model::routes::{Receiver, RouteMethod, RoutesImpl, Style, Unbindable};

pub(crate) fn check(model: &RoutesImpl, errors: &mut Errors) {
    check_impl(&model.item, model.style.macro_name(), errors);
    for attr in &model.misplaced {
        errors.at(
            &attr.origin,
            "route attributes belong in a `#[routes]` impl; under `#[auto_routes]` every `pub async fn name` answers `PREFIX/name`",
        );
    }
    for method in &model.methods {
        check_method(method, model.style, errors);
    }
    check_duplicates(&model.methods, errors);
    if model.methods.is_empty() && errors.is_empty() {
        let what = match model.style {
            Style::Auto => "no `pub async fn` in this impl: each one becomes a route",
            Style::Explicit => {
                "no routes in this impl: annotate methods with `#[get(\"/path\")]`, `#[post(..)]`, ... or `#[route(path = \"/path\", methods = [\"GET\", \"POST\"])]`"
            }
        };
        errors.at(
            &model.item.self_ty,
            format!("`#[{}]`: {what}", model.style.macro_name()),
        );
    }
}

/// An inherent, non-generic impl of a named type.
fn check_impl(item: &ItemImpl, name: &str, errors: &mut Errors) {
    if let Some((_, path, _)) = &item.trait_ {
        errors.at(path, format!("`#[{name}]` goes on an inherent impl (`impl MyController {{ .. }}`), not a trait impl"));
    }
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        let generics = &item.generics;
        let where_clause = &generics.where_clause;
        errors.at(
            quote! { #generics #where_clause },
            "generic controllers are not supported: the container builds exactly one of each",
        );
    }
    match &*item.self_ty {
        Type::Path(path) if path.qself.is_none() => {
            if let Some(last) = path.path.segments.last()
                && !last.arguments.is_empty()
            {
                errors.at(&last.arguments, "generic controllers are not supported: the container builds exactly one of each");
            }
        }
        other => errors.at(
            other,
            format!("`#[{name}]` expects the impl of a `#[controller]` struct"),
        ),
    }
}

/// A route method is `async`, not generic, takes `&self` and parameters bound by name.
fn check_method(method: &RouteMethod, style: Style, errors: &mut Errors) {
    let sig = &method.sig;
    if sig.asyncness.is_none() {
        let help = match style {
            Style::Auto => {
                "; every `pub fn` of an `#[auto_routes]` impl is a route: add `async`, or drop `pub` if it is a helper"
            }
            Style::Explicit => "",
        };
        let vis = &method.vis;
        let fn_token = &sig.fn_token;
        let ident = &sig.ident;
        errors.at(
            quote! { #vis #fn_token #ident },
            format!("route methods must be `async`{help}"),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let generics = &sig.generics;
        let where_clause = &generics.where_clause;
        errors.at(
            quote! { #generics #where_clause },
            "route methods cannot be generic: each parameter is bound from the request by its name and type",
        );
    }
    match &method.receiver {
        Receiver::Shared => {}
        Receiver::Exclusive(receiver) => errors.at(
            receiver,
            "route methods take `&self`, not `&mut self`: one controller serves every request at once; keep mutable state behind a lock or an atomic",
        ),
        Receiver::Owned(receiver) => errors.at(
            receiver,
            "route methods take `&self`: the controller is a singleton shared by every request",
        ),
        Receiver::Missing => {
            let ident = &sig.ident;
            errors.at_span(
                sig.paren_token.span.join(),
                format!(
                    "route method `{ident}` needs a `&self` receiver: `async fn {ident}(&self, ..)`"
                ),
            );
        }
    }
    for param in &method.unbindable {
        match param {
            Unbindable::Pattern(pat) => errors.at(
                pat,
                "route parameters must be plain names: each one is bound from the request parameter of the same name",
            ),
            Unbindable::Borrowed { name, ty } => errors.at(
                ty,
                format!("route parameter `{name}` borrows: parameters are owned values bound from the request (`String`, not `&str`); only `&HttpRequest` may be borrowed"),
            ),
            Unbindable::ImplTrait { name, ty } => errors.at(
                ty,
                format!(
                    "route parameter `{name}` needs a concrete type to be bound from the request"
                ),
            ),
        }
    }
}

/// Two routes of one impl on the same method and path would fail at boot; say so now.
fn check_duplicates(methods: &[RouteMethod], errors: &mut Errors) {
    let mut seen = HashSet::new();
    for method in methods {
        for route in &method.routes {
            for verb in &route.methods {
                if !seen.insert((verb.clone(), route.path.value())) {
                    errors.at(
                        &route.origin,
                        format!(
                            "route `{verb} {}` is declared twice in this impl",
                            route.path.value()
                        ),
                    );
                }
            }
        }
    }
}
