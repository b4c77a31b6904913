//! The code of `#[auto_routes]` and `#[routes]`: for each route method, a builder of its
//! handler (parameters bound from the request, the return value made a response) and one
//! registration per route.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ReturnType;
use syn::spanned::Spanned;

use crate::generate::{item_then_const, type_path_literal};
use crate::model::routes::{Binding, RouteMethod, RoutesImpl};
use crate::naming::unraw;

/// The impl, then its routes; `controller` is the name of the impl's type.
pub(crate) fn routes(model: &RoutesImpl, controller: &str) -> TokenStream {
    let self_ty = &model.item.self_ty;
    let controller_name = type_path_literal(controller);
    // One place requires `T: HttpController`, so a missing `#[controller]` is one error at the
    // impl's type.
    let meta = quote_spanned! {self_ty.span()=> __meta::<#self_ty>() };
    let mut items = vec![quote! {
        const fn __meta<C: ::ws_core::__private::HttpController>() -> (
            &'static str,
            &'static str,
            fn(&mut ::ws_core::__private::Container) -> ::core::result::Result<::ws_core::__private::Arc<C>, ::ws_core::__private::BootError>,
            fn() -> ::core::option::Option<::ws_core::__private::ControllerLayer>,
        ) {
            (C::SERVER, C::PREFIX, ::ws_core::__private::Container::singleton::<C>, C::layer)
        }
        const __META: (
            &'static str,
            &'static str,
            fn(&mut ::ws_core::__private::Container) -> ::core::result::Result<::ws_core::__private::Arc<#self_ty>, ::ws_core::__private::BootError>,
            fn() -> ::core::option::Option<::ws_core::__private::ControllerLayer>,
        ) = #meta;
    }];
    for method in &model.methods {
        items.push(route_builder(method));
        let build = builder_name(method);
        let handler = unraw(&method.sig.ident);
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
                        layer: __META.3,
                    }
                }
            });
        }
    }
    item_then_const(&model.item, quote! { #(#items)* })
}

/// `__route_NAME`, the builder of a method's handler.
fn builder_name(method: &RouteMethod) -> syn::Ident {
    format_ident!("__route_{}", unraw(&method.sig.ident))
}

/// `fn __route_NAME(container) -> BoxedHandler`: the handler binds each parameter, awaits the
/// method and turns its output into a response.
fn route_builder(method: &RouteMethod) -> TokenStream {
    let ident = &method.sig.ident;
    let build = builder_name(method);
    let mut bindings = Vec::new();
    let mut args = Vec::new();
    for (i, param) in method.params.iter().enumerate() {
        let arg = format_ident!("__arg{}", i);
        let ty = &param.ty;
        bindings.push(match &param.binding {
            Binding::ByName(name) => {
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
            Binding::Request => {
                quote! { let #arg = ::core::clone::Clone::clone(&__request); }
            }
            Binding::RequestRef => quote! { let #arg = &__request; },
        });
        args.push(arg);
    }
    // Spanned at the return type: one that is not `IntoResponse` is reported there.
    let respond = match &method.sig.output {
        ReturnType::Type(_, ty) => {
            quote_spanned! {ty.span()=> ::ws_core::__private::IntoResponse::into_response(__output) }
        }
        ReturnType::Default => {
            quote! { ::ws_core::__private::IntoResponse::into_response(__output) }
        }
    };
    // Spanned at the method's name: a future that is not `Send` is reported there.
    let boxed = quote_spanned! {ident.span()=> ::ws_core::__private::boxed };
    quote! {
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
    }
}
