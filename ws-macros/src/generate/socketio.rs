//! The code of `#[socketio_namespace]` (the type's `Construct` impl and its registration) and of
//! `#[socketio_events]` (its `NamespaceEvents` impl).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::generate::structs::construct_impl;
use crate::generate::{item_then_const, type_path_literal};
use crate::model::socketio::{EventsImpl, Handler, NamespaceArgs, Role};
use crate::model::structs::StructModel;

/// `#[socketio_namespace]`: the struct, its `Construct` impl, and its registration.
pub(crate) fn namespace(model: &StructModel, args: &NamespaceArgs) -> TokenStream {
    let ident = model.ident();
    let construct = construct_impl(model);
    let controller = type_path_literal(&model.name());
    let NamespaceArgs { server, path } = args;
    // Spanned at the struct's name: a missing `#[socketio_events]` is reported there.
    let events = quote_spanned! {ident.span()=> __events::<#ident>(__namespace) };
    let generated = quote! {
        #construct
        fn __events<H: ::ws_core::__private::NamespaceEvents>(
            namespace: ::ws_core::__private::Arc<H>,
        ) -> ::ws_core::__private::Arc<dyn ::ws_core::__private::NamespaceEvents> {
            namespace
        }
        fn __build(
            __container: &mut ::ws_core::__private::Container,
        ) -> ::core::result::Result<
            ::ws_core::__private::Arc<dyn ::ws_core::__private::NamespaceEvents>,
            ::ws_core::__private::BootError,
        > {
            let __namespace = __container.singleton::<#ident>()?;
            ::core::result::Result::Ok(#events)
        }
        ::ws_core::__private::inventory::submit! {
            ::ws_core::__private::SocketIoNamespaceRegistration {
                server: #server,
                path: #path,
                controller: #controller,
                build: __build,
            }
        }
    };
    item_then_const(&model.item, generated)
}

/// `#[socketio_events]`: the impl, and `NamespaceEvents` dispatching to its handlers.
pub(crate) fn events(model: &EventsImpl) -> TokenStream {
    let self_ty = &model.item.self_ty;
    let private = quote! { ::ws_core::__private };
    let arms = model.handlers.iter().filter_map(|handler| {
        let Role::Event(name) = &handler.role else {
            return None;
        };
        let call = call(
            handler,
            quote! { payload },
            quote! {
                return #private::Payload::from(error)
            },
        );
        Some(quote! {
            #name => ::core::option::Option::Some(::std::boxed::Box::pin(async move {
                #call
                #private::IntoAck::into_ack(__answer)
            })),
        })
    });
    let connect = match model
        .handlers
        .iter()
        .find(|h| matches!(h.role, Role::Connect))
    {
        Some(handler) => {
            let call = call(
                handler,
                quote! { auth },
                quote! {
                    return ::core::result::Result::Err(::std::string::ToString::to_string(&error))
                },
            );
            quote! { ::std::boxed::Box::pin(async move {
                #call
                #private::IntoConnectResult::into_connect_result(__answer)
            }) }
        }
        None => quote! { ::std::boxed::Box::pin(async move {
            let _ = (socket, auth);
            ::core::result::Result::Ok(())
        }) },
    };
    let disconnect = match model
        .handlers
        .iter()
        .find(|h| matches!(h.role, Role::Disconnect))
    {
        Some(handler) => {
            let method = handler.ident();
            let args = if handler.params().len() >= 2 {
                quote! { socket, reason }
            } else {
                quote! { socket }
            };
            quote! { ::std::boxed::Box::pin(async move {
                let _ = &reason;
                self.#method(#args).await;
            }) }
        }
        None => quote! { ::std::boxed::Box::pin(async move { let _ = (socket, reason); }) },
    };
    let generated = quote! {
        #[automatically_derived]
        impl #private::NamespaceEvents for #self_ty {
            fn event<'a>(
                &'a self,
                socket: &'a ::ws_core::socketio::Socket,
                event: &'a str,
                payload: #private::Payload,
            ) -> ::core::option::Option<#private::BoxFuture<'a, #private::Payload>> {
                match event {
                    #(#arms)*
                    _ => {
                        let _ = (socket, payload);
                        ::core::option::Option::None
                    }
                }
            }
            fn connect<'a>(
                &'a self,
                socket: &'a ::ws_core::socketio::Socket,
                auth: #private::Payload,
            ) -> #private::BoxFuture<'a, ::core::result::Result<(), ::std::string::String>> {
                #connect
            }
            fn disconnect<'a>(
                &'a self,
                socket: &'a ::ws_core::socketio::Socket,
                reason: ::ws_core::socketio::DisconnectReason,
            ) -> #private::BoxFuture<'a, ()> {
                #disconnect
            }
        }
    };
    item_then_const(&model.item, generated)
}

/// For an impl with errors: `NamespaceEvents` with no handlers, for a plain impl only.
pub(crate) fn fallback(model: &EventsImpl) -> TokenStream {
    let item = &model.item;
    if !item.generics.params.is_empty() || item.trait_.is_some() {
        return TokenStream::new();
    }
    let self_ty = &item.self_ty;
    let private = quote! { ::ws_core::__private };
    quote! {
        const _: () = {
            impl #private::NamespaceEvents for #self_ty {
                fn event<'a>(
                    &'a self,
                    _: &'a ::ws_core::socketio::Socket,
                    _: &'a str,
                    _: #private::Payload,
                ) -> ::core::option::Option<#private::BoxFuture<'a, #private::Payload>> {
                    ::core::option::Option::None
                }
                fn connect<'a>(
                    &'a self,
                    _: &'a ::ws_core::socketio::Socket,
                    _: #private::Payload,
                ) -> #private::BoxFuture<'a, ::core::result::Result<(), ::std::string::String>> {
                    ::std::boxed::Box::pin(async { ::core::result::Result::Ok(()) })
                }
                fn disconnect<'a>(
                    &'a self,
                    _: &'a ::ws_core::socketio::Socket,
                    _: ::ws_core::socketio::DisconnectReason,
                ) -> #private::BoxFuture<'a, ()> {
                    ::std::boxed::Box::pin(async {})
                }
            }
        };
    }
}

/// `let __answer = self.method(socket[, value]).await;`, reading the value from `source` and
/// running `on_error` when it does not fit the parameter's type.
fn call(handler: &Handler, source: TokenStream, on_error: TokenStream) -> TokenStream {
    let method = handler.ident();
    match handler.value_type() {
        Some(ty) => {
            // Spanned at the parameter's type: a type that is not a payload is reported there.
            let read = quote_spanned! {ty.span()=>
                <#ty as ::ws_core::__private::FromPayload>::from_payload(#source)
            };
            quote! {
                let __value = match #read {
                    ::core::result::Result::Ok(value) => value,
                    ::core::result::Result::Err(error) => { #on_error }
                };
                let __answer = self.#method(socket, __value).await;
            }
        }
        None => quote! {
            let _ = #source;
            let __answer = self.#method(socket).await;
        },
    }
}
