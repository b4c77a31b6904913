//! `#[auto_routes]` and `#[routes]`: HTTP routes from the methods of a controller's impl block.
//!
//! The impl is parsed into [`RouteMethod`]s (receiver, parameters bound by name, return type,
//! and the [`RouteAttr`]s that map it) before any code is generated.

use std::collections::HashSet;

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, Ident, ImplItem, ImplItemFn, Item, ItemImpl, LitStr, Meta, Pat, PatIdent,
    ReturnType, Signature, Type, Visibility,
};

use crate::args::{Args, check_path};
use crate::errors::{Errors, item_with_errors};
use crate::structs::unraw;

/// Which methods become routes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// `#[auto_routes]`: every `pub async fn name` is `PREFIX/name`, GET, POST and HEAD.
    Auto,
    /// `#[routes]`: methods annotated `#[get("/path")]`, `#[route(..)]`, ...
    Explicit,
}

impl Style {
    fn macro_name(self) -> &'static str {
        match self {
            Style::Auto => "auto_routes",
            Style::Explicit => "routes",
        }
    }
}

/// Hyperf's AutoController answers these on every action.
const AUTO_METHODS: &[&str] = &["GET", "POST", "HEAD"];

/// `#[get("/path")]` and friends. `#[get]` is GET only: the server answers HEAD with the GET
/// handler (and no body) when no HEAD route exists.
const SHORTHANDS: &[(&str, &str)] = &[
    ("get", "GET"),
    ("post", "POST"),
    ("put", "PUT"),
    ("delete", "DELETE"),
    ("patch", "PATCH"),
    ("head", "HEAD"),
    ("options", "OPTIONS"),
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// One route of a method: a path under the controller's prefix and its HTTP methods.
struct RouteAttr {
    path: LitStr,
    methods: Vec<String>,
    /// The attribute (or the method's name under `#[auto_routes]`), for errors.
    origin: TokenStream,
}

/// How a method parameter gets its value.
enum ParamKind {
    /// `name: T`: `req.param::<T>("name")`.
    Bind(String),
    /// `req: HttpRequest`: a clone of the request.
    Request,
    /// `req: &HttpRequest`: the request.
    RequestRef,
}

struct Param {
    ty: Type,
    kind: ParamKind,
}

/// A method that is a route.
struct RouteMethod {
    ident: Ident,
    params: Vec<Param>,
    output: ReturnType,
    routes: Vec<RouteAttr>,
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream, style: Style) -> TokenStream {
    let name = style.macro_name();
    let mut errors = Errors::default();
    let _ = Args::parse(attr, &[], &format!("#[{name}]"), &mut errors);
    let mut item = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Impl(item)) => item,
        Ok(other) => {
            let at = match &other {
                Item::Struct(s) => s.struct_token.span,
                Item::Enum(e) => e.enum_token.span,
                Item::Fn(f) => f.sig.fn_token.span,
                other => other.span(),
            };
            let hint = if style == Style::Auto {
                "every `pub async fn` becomes a route"
            } else {
                "annotated methods become routes"
            };
            errors.at_span(at, format!("`#[{name}]` goes on the impl block of a `#[controller]`: `#[{name}] impl MyController {{ .. }}`; {hint}"));
            return finish(item, errors);
        }
        Err(error) => {
            errors.push(error);
            return finish(item, errors);
        }
    };
    let controller = check_impl(&item, name, &mut errors);
    let mut methods = Vec::new();
    for impl_item in &mut item.items {
        let ImplItem::Fn(function) = impl_item else {
            continue;
        };
        let attrs = take_route_attrs(function, &mut errors);
        let routes = match style {
            Style::Auto => {
                for attr in &attrs {
                    errors.at(
                        &attr.origin,
                        "route attributes belong in a `#[routes]` impl; under `#[auto_routes]` every `pub async fn name` answers `PREFIX/name`",
                    );
                }
                if !matches!(function.vis, Visibility::Public(_)) {
                    continue;
                }
                let ident = &function.sig.ident;
                vec![RouteAttr {
                    path: LitStr::new(&format!("/{}", unraw(ident)), ident.span()),
                    methods: AUTO_METHODS.iter().map(|m| m.to_string()).collect(),
                    origin: ident.to_token_stream(),
                }]
            }
            Style::Explicit if attrs.is_empty() => continue,
            Style::Explicit => attrs,
        };
        if let Some(method) = parse_method(function, routes, style, &mut errors) {
            methods.push(method);
        }
    }
    check_duplicates(&methods, &mut errors);
    if methods.is_empty() && errors.is_empty() {
        let what = match style {
            Style::Auto => "no `pub async fn` in this impl: each one becomes a route",
            Style::Explicit => {
                "no routes in this impl: annotate methods with `#[get(\"/path\")]`, `#[post(..)]`, ... or `#[route(path = \"/path\", methods = [\"GET\", \"POST\"])]`"
            }
        };
        errors.at(&item.self_ty, format!("`#[{name}]`: {what}"));
    }
    let Some(controller) = controller.filter(|_| errors.is_empty()) else {
        return finish(item.into_token_stream(), errors);
    };
    let generated = generate(&item.self_ty, &controller, &methods);
    quote! {
        #item
        const _: () = {
            #generated
        };
    }
}

fn finish(item: impl ToTokens, errors: Errors) -> TokenStream {
    match errors.finish() {
        Ok(()) => item.into_token_stream(),
        Err(error) => item_with_errors(item, &error),
    }
}

/// An inherent, non-generic impl of a named type; returns the type's name.
fn check_impl(item: &ItemImpl, name: &str, errors: &mut Errors) -> Option<String> {
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
            let last = path.path.segments.last()?;
            if !last.arguments.is_empty() {
                errors.at(&last.arguments, "generic controllers are not supported: the container builds exactly one of each");
            }
            Some(unraw(&last.ident))
        }
        other => {
            errors.at(
                other,
                format!("`#[{name}]` expects the impl of a `#[controller]` struct"),
            );
            None
        }
    }
}

/// Removes the route attributes of `function` and parses them.
fn take_route_attrs(function: &mut ImplItemFn, errors: &mut Errors) -> Vec<RouteAttr> {
    let mut routes = Vec::new();
    let mut kept = Vec::new();
    for attr in function.attrs.drain(..) {
        let Some(ident) = attr.path().get_ident().map(Ident::to_string) else {
            kept.push(attr);
            continue;
        };
        if let Some((short, method)) = SHORTHANDS.iter().find(|(s, _)| *s == ident) {
            if let Some(path) = shorthand_path(&attr, short, errors) {
                routes.push(RouteAttr {
                    path,
                    methods: vec![method.to_string()],
                    origin: attr.to_token_stream(),
                });
            }
        } else if ident == "route" {
            if let Some(route) = route_attr(&attr, errors) {
                routes.push(route);
            }
        } else {
            kept.push(attr);
        }
    }
    function.attrs = kept;
    routes
}

fn shorthand_path(attr: &Attribute, short: &str, errors: &mut Errors) -> Option<LitStr> {
    let usage = format!("expected a path: `#[{short}(\"/users/{{id}}\")]`");
    let Meta::List(list) = &attr.meta else {
        errors.at(attr, usage);
        return None;
    };
    match list.parse_args::<LitStr>() {
        Ok(path) => {
            check_path(&path, "a route path", errors);
            Some(path)
        }
        Err(_) => {
            errors.at(&list.tokens, usage);
            None
        }
    }
}

fn route_attr(attr: &Attribute, errors: &mut Errors) -> Option<RouteAttr> {
    const USAGE: &str = "#[route(path = \"/path\", methods = [\"GET\", \"POST\"])]";
    let Meta::List(list) = &attr.meta else {
        errors.at(attr, format!("expected `{USAGE}`"));
        return None;
    };
    let args = Args::parse(list.tokens.clone(), &["path", "methods"], USAGE, errors);
    let missing: Vec<String> = ["path", "methods"]
        .into_iter()
        .filter(|k| !args.has(k))
        .map(|k| format!("`{k}`"))
        .collect();
    if !missing.is_empty() {
        errors.at(
            attr,
            format!("missing {}; usage: `{USAGE}`", missing.join(" and ")),
        );
    }
    let path = args.string("path", errors);
    if let Some(path) = &path {
        check_path(path, "a route path", errors);
    }
    let (methods, span) = args.strings("methods", errors)?;
    if methods.is_empty() {
        errors.at_span(
            span,
            "`methods` must name at least one HTTP method, e.g. `[\"GET\"]`",
        );
    }
    let mut names: Vec<String> = Vec::new();
    for method in &methods {
        let name = method.value().to_ascii_uppercase();
        if !METHODS.contains(&name.as_str()) {
            errors.at(
                method,
                format!(
                    "unknown HTTP method \"{}\"; expected one of {}",
                    method.value(),
                    METHODS.join(", ")
                ),
            );
        } else if names.contains(&name) {
            errors.at(method, format!("duplicate method \"{name}\""));
        } else {
            names.push(name);
        }
    }
    Some(RouteAttr {
        path: path?,
        methods: names,
        origin: attr.to_token_stream(),
    })
}

/// Checks the signature of a route method and reads its parameters.
fn parse_method(
    function: &ImplItemFn,
    routes: Vec<RouteAttr>,
    style: Style,
    errors: &mut Errors,
) -> Option<RouteMethod> {
    let sig: &Signature = &function.sig;
    let mut local = Errors::default();
    if sig.asyncness.is_none() {
        let help = match style {
            Style::Auto => {
                "; every `pub fn` of an `#[auto_routes]` impl is a route: add `async`, or drop `pub` if it is a helper"
            }
            Style::Explicit => "",
        };
        let vis = &function.vis;
        let fn_token = &sig.fn_token;
        let ident = &sig.ident;
        local.at(
            quote! { #vis #fn_token #ident },
            format!("route methods must be `async`{help}"),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let generics = &sig.generics;
        let where_clause = &generics.where_clause;
        local.at(
            quote! { #generics #where_clause },
            "route methods cannot be generic: each parameter is bound from the request by its name and type",
        );
    }
    match sig.inputs.first() {
        Some(FnArg::Receiver(receiver)) => check_receiver(receiver, &mut local),
        _ => {
            let ident = &sig.ident;
            local.at_span(
                sig.paren_token.span.join(),
                format!(
                    "route method `{ident}` needs a `&self` receiver: `async fn {ident}(&self, ..)`"
                ),
            );
        }
    }
    let mut params = Vec::new();
    for input in sig.inputs.iter() {
        let FnArg::Typed(typed) = input else { continue };
        if let Some(param) = parse_param(&typed.pat, &typed.ty, &mut local) {
            params.push(param);
        }
    }
    let ok = local.is_empty();
    if let Err(error) = local.finish() {
        errors.push(error);
    }
    ok.then(|| RouteMethod {
        ident: sig.ident.clone(),
        params,
        output: sig.output.clone(),
        routes,
    })
}

fn check_receiver(receiver: &syn::Receiver, errors: &mut Errors) {
    // `&self` and `self: &Self` are fine; `&mut self`, `self` and `self: Arc<Self>` are not.
    let reference = match (&receiver.reference, &receiver.colon_token) {
        (Some(_), _) => Some(receiver.mutability.is_some()),
        (None, Some(_)) => match &*receiver.ty {
            Type::Reference(r) => Some(r.mutability.is_some()),
            _ => None,
        },
        (None, None) => None,
    };
    match reference {
        Some(false) => {}
        Some(true) => errors.at(
            receiver,
            "route methods take `&self`, not `&mut self`: one controller serves every request at once; keep mutable state behind a lock or an atomic",
        ),
        None => errors.at(receiver, "route methods take `&self`: the controller is a singleton shared by every request"),
    }
}

fn parse_param(pat: &Pat, ty: &Type, errors: &mut Errors) -> Option<Param> {
    let name = match pat {
        Pat::Ident(PatIdent {
            by_ref: None,
            subpat: None,
            ident,
            ..
        }) => unraw(ident),
        other => {
            errors.at(other, "route parameters must be plain names: each one is bound from the request parameter of the same name");
            return None;
        }
    };
    let kind = match ty {
        Type::Reference(r) if r.mutability.is_none() && is_http_request(&r.elem) => {
            ParamKind::RequestRef
        }
        Type::Reference(_) => {
            errors.at(
                ty,
                format!("route parameter `{name}` borrows: parameters are owned values bound from the request (`String`, not `&str`); only `&HttpRequest` may be borrowed"),
            );
            return None;
        }
        Type::ImplTrait(_) => {
            errors.at(
                ty,
                format!(
                    "route parameter `{name}` needs a concrete type to be bound from the request"
                ),
            );
            return None;
        }
        ty if is_http_request(ty) => ParamKind::Request,
        _ => ParamKind::Bind(name),
    };
    Some(Param {
        ty: ty.clone(),
        kind,
    })
}

/// `HttpRequest`, `http::HttpRequest`, `ws_core::http::HttpRequest`, ...
fn is_http_request(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => {
            path.qself.is_none()
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "HttpRequest")
        }
        Type::Paren(inner) => is_http_request(&inner.elem),
        _ => false,
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

fn generate(self_ty: &Type, controller: &str, methods: &[RouteMethod]) -> TokenStream {
    let controller_name = quote! { ::core::concat!(::core::module_path!(), "::", #controller) };
    // One place requires `T: HttpController`, so a missing `#[controller]` is one error at the
    // impl's type.
    let meta = quote_spanned! {self_ty.span()=> __meta::<#self_ty>() };
    let mut items = vec![quote! {
        const fn __meta<C: ::ws_core::__private::HttpController>() -> (
            &'static str,
            &'static str,
            fn(&mut ::ws_core::__private::Container) -> ::core::result::Result<::ws_core::__private::Arc<C>, ::ws_core::__private::BootError>,
        ) {
            (C::SERVER, C::PREFIX, ::ws_core::__private::Container::singleton::<C>)
        }
        const __META: (
            &'static str,
            &'static str,
            fn(&mut ::ws_core::__private::Container) -> ::core::result::Result<::ws_core::__private::Arc<#self_ty>, ::ws_core::__private::BootError>,
        ) = #meta;
    }];
    for method in methods {
        let ident = &method.ident;
        let build = format_ident!("__route_{}", unraw(ident));
        let mut bindings = Vec::new();
        let mut args = Vec::new();
        for (i, param) in method.params.iter().enumerate() {
            let arg = format_ident!("__arg{}", i);
            let ty = &param.ty;
            bindings.push(match &param.kind {
                ParamKind::Bind(name) => {
                    let bind = quote_spanned! {ty.span()=> __request.param::<#ty>(#name) };
                    quote! {
                        let #arg = match #bind {
                            ::core::result::Result::Ok(value) => value,
                            ::core::result::Result::Err(rejection) => {
                                return ::ws_core::__private::IntoResponse::into_response(rejection);
                            }
                        };
                    }
                }
                ParamKind::Request => {
                    quote! { let #arg = ::core::clone::Clone::clone(&__request); }
                }
                ParamKind::RequestRef => quote! { let #arg = &__request; },
            });
            args.push(arg);
        }
        // Spanned at the return type: one that is not `IntoResponse` is reported there.
        let respond = match &method.output {
            ReturnType::Type(_, ty) => {
                quote_spanned! {ty.span()=> ::ws_core::__private::IntoResponse::into_response(__output) }
            }
            ReturnType::Default => {
                quote! { ::ws_core::__private::IntoResponse::into_response(__output) }
            }
        };
        // Spanned at the method's name: a future that is not `Send` is reported there.
        let boxed = quote_spanned! {ident.span()=> ::ws_core::__private::boxed };
        items.push(quote! {
            fn #build(
                __container: &mut ::ws_core::__private::Container,
            ) -> ::core::result::Result<::ws_core::__private::BoxedHandler, ::ws_core::__private::BootError> {
                let __controller = (__META.2)(__container)?;
                let __handler: ::ws_core::__private::BoxedHandler = ::ws_core::__private::Arc::new(
                    move |__request: ::ws_core::__private::HttpRequest| {
                        let __controller = ::ws_core::__private::Arc::clone(&__controller);
                        #boxed(async move {
                            #(#bindings)*
                            let __output = __controller.#ident(#(#args),*).await;
                            #respond
                        })
                    },
                );
                ::core::result::Result::Ok(__handler)
            }
        });
        let handler = unraw(ident);
        for route in &method.routes {
            let path = &route.path;
            let verbs = &route.methods;
            items.push(quote! {
                ::ws_core::__private::inventory::submit! {
                    ::ws_core::__private::HttpRouteRegistration {
                        server: __META.0,
                        prefix: __META.1,
                        path: #path,
                        methods: &[#(#verbs),*],
                        controller: #controller_name,
                        handler: #handler,
                        build: #build,
                    }
                }
            });
        }
    }
    quote! { #(#items)* }
}
