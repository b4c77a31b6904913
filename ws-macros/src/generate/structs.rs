//! The code of `#[ws_controller]`, `#[controller]` and `#[component]`: the type's `Construct`
//! impl, and its registration (a WebSocket route, an HTTP controller's server and prefix, a
//! component's builder).

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{LitStr, Member};

use crate::generate::{item_then_const, type_path_literal};
use crate::model::structs::{ControllerArgs, Shape, Source, StructModel, WsControllerArgs};
use crate::naming::{default_prefix, unraw};

/// `#[ws_controller]`: the struct, its `Construct` impl, and its route.
pub(crate) fn ws_controller(model: &StructModel, args: &WsControllerArgs) -> TokenStream {
    let ident = model.ident();
    let construct = construct_impl(model);
    let controller = type_path_literal(&model.name());
    let WsControllerArgs {
        server,
        path,
        protocols,
        compression,
    } = args;
    // Spanned at the struct's name: a missing `impl WebSocketHandler` is reported there, with
    // the trait's `on_unimplemented` message.
    let route = quote_spanned! {ident.span()=> __route::<#ident>(__controller) };
    let generated = quote! {
        #construct
        // The bound lives here, not only in ws-core, so the error's "required by" note
        // points at the user's `#[ws_controller]` attribute.
        fn __route<H: ::ws_core::WebSocketHandler>(
            controller: ::ws_core::__private::Arc<H>,
        ) -> ::ws_core::__private::WsRoute {
            ::ws_core::__private::WsRoute::new(controller)
        }
        fn __build(
            __container: &mut ::ws_core::__private::Container,
        ) -> ::core::result::Result<::ws_core::__private::WsRoute, ::ws_core::__private::BootError> {
            let __controller = __container.singleton::<#ident>()?;
            ::core::result::Result::Ok(#route)
        }
        ::ws_core::__private::inventory::submit! {
            ::ws_core::__private::WsControllerRegistration {
                server: #server,
                path: #path,
                controller: #controller,
                protocols: &[#(#protocols),*],
                compression: #compression,
                build: __build,
            }
        }
    };
    item_then_const(&model.item, generated)
}

/// `#[controller]`: the struct, its `Construct` impl, and its server and prefix.
pub(crate) fn controller(model: &StructModel, args: &ControllerArgs) -> TokenStream {
    let ident = model.ident();
    let construct = construct_impl(model);
    let server = args
        .server
        .clone()
        .unwrap_or_else(|| LitStr::new("http", Span::call_site()));
    let prefix = args
        .prefix
        .clone()
        .unwrap_or_else(|| LitStr::new(&default_prefix(&model.name()), ident.span()));
    // Spanned at the path: a function that returns no fitting layer is reported there.
    let layer = args.layer.as_ref().map(|path| {
        let new =
            quote_spanned! {path.span()=> ::ws_core::__private::ControllerLayer::new(#path()) };
        quote! {
            fn layer() -> ::core::option::Option<::ws_core::__private::ControllerLayer> {
                ::core::option::Option::Some(#new)
            }
        }
    });
    let generated = quote! {
        #construct
        #[automatically_derived]
        impl ::ws_core::__private::HttpController for #ident {
            const SERVER: &'static str = #server;
            const PREFIX: &'static str = #prefix;
            #layer
        }
    };
    item_then_const(&model.item, generated)
}

/// `#[component]`: the struct, its `Construct` impl, and its builder for the container.
pub(crate) fn component(model: &StructModel) -> TokenStream {
    let ident = model.ident();
    let construct = construct_impl(model);
    let type_name = type_path_literal(&model.name());
    let generated = quote! {
        #construct
        fn __type_id() -> ::core::any::TypeId {
            ::core::any::TypeId::of::<#ident>()
        }
        fn __build(
            __container: &mut ::ws_core::__private::Container,
        ) -> ::core::result::Result<
            ::ws_core::__private::Arc<dyn ::core::any::Any + ::core::marker::Send + ::core::marker::Sync>,
            ::ws_core::__private::BootError,
        > {
            let __component = <#ident as ::ws_core::__private::Construct>::construct(__container)?;
            ::core::result::Result::Ok(::ws_core::__private::Arc::new(__component))
        }
        ::ws_core::__private::inventory::submit! {
            ::ws_core::__private::ComponentRegistration {
                type_id: __type_id,
                type_name: #type_name,
                build: __build,
            }
        }
    };
    item_then_const(&model.item, generated)
}

/// `impl Construct for T`: each field from its source.
pub(crate) fn construct_impl(model: &StructModel) -> TokenStream {
    let ident = model.ident();
    let owner = model.name();
    let values = model.fields.iter().map(|field| {
        let ty = &field.ty;
        let name = match &field.member {
            Member::Named(ident) => unraw(ident),
            Member::Unnamed(index) => index.index.to_string(),
        };
        let site = quote! { ::ws_core::__private::InjectSite { owner: #owner, field: #name } };
        // Spanned at the field's type: a type without a provider (or without `Default`) is
        // reported there, with the trait's `on_unimplemented` note.
        match &field.source {
            Source::Inject => quote_spanned! {ty.span()=>
                <#ty as ::ws_core::__private::Inject>::inject(__container, #site)?
            },
            Source::Value(key) => quote_spanned! {ty.span()=>
                ::ws_core::__private::config_value::<#ty>(__container, #site, #key)?
            },
            Source::Default => quote_spanned! {ty.span()=>
                <#ty as ::core::default::Default>::default()
            },
        }
    });
    let members = model.fields.iter().map(|f| &f.member);
    let value = match model.shape {
        Shape::Named | Shape::Tuple => quote! { Self { #(#members: #values,)* } },
        Shape::Unit => quote! { Self },
    };
    let unused = model
        .fields
        .is_empty()
        .then(|| quote! { let _ = __container; });
    let impl_for = quote_spanned! {ident.span()=> impl ::ws_core::__private::Construct for #ident };
    quote! {
        #[automatically_derived]
        #impl_for {
            fn construct(
                __container: &mut ::ws_core::__private::Container,
            ) -> ::core::result::Result<Self, ::ws_core::__private::BootError> {
                #unused
                ::core::result::Result::Ok(#value)
            }
        }
    }
}
