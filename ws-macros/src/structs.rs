//! `#[ws_controller]`, `#[controller]` and `#[component]`: a struct the container builds.
//!
//! Each is parsed into a [`StructModel`] (fields with their source: `#[inject]`, `#[value]` or
//! `Default`) before any code is generated.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Fields, Ident, Item, ItemStruct, LitStr, Member, Meta, Type};

use crate::args::{Args, check_path};
use crate::errors::{Errors, item_with_errors};
use crate::naming::default_prefix;

/// The attributes that each generate a `Construct` impl; two on one struct conflict.
const CONSTRUCTING: &[&str] = &["ws_controller", "controller", "component"];

/// Where a field's value comes from.
enum Source {
    /// `#[inject]`: `<Ty as Inject>::inject(..)`.
    Inject,
    /// `#[value("app.key")]`: the config value.
    Value(LitStr),
    /// Anything else: `Default::default()`.
    Default,
}

struct FieldModel {
    member: Member,
    ty: Type,
    source: Source,
}

enum Shape {
    Named,
    Tuple,
    Unit,
}

/// A struct the container can build.
struct StructModel {
    /// The struct as emitted: helper attributes removed.
    item: ItemStruct,
    shape: Shape,
    fields: Vec<FieldModel>,
}

impl StructModel {
    fn ident(&self) -> &Ident {
        &self.item.ident
    }

    /// `"ServerController"`, for messages and registrations.
    fn name(&self) -> String {
        unraw(self.ident())
    }
}

pub(crate) fn unraw(ident: &Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").map(str::to_string).unwrap_or(name)
}

/// Parses `item` as a struct for `#[macro_name]`; `Err` carries the tokens to emit instead
/// (the item is not a struct).
fn parse_struct(
    item: TokenStream,
    macro_name: &str,
    kind: &str,
    errors: &mut Errors,
) -> Result<StructModel, TokenStream> {
    let mut item = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Struct(item)) => item,
        Ok(other) => {
            errors.at_span(
                item_keyword_span(&other),
                format!(
                    "`#[{macro_name}]` goes on a struct, e.g. `#[{macro_name}] pub struct My{};`",
                    capitalize(kind)
                ),
            );
            return Err(item);
        }
        // rustc parsed the item already, so this is syntax `syn` does not know: say so and
        // emit the item untouched.
        Err(error) => {
            errors.push(error);
            return Err(item);
        }
    };
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        let generics = &item.generics;
        let where_clause = &generics.where_clause;
        errors.at(
            quote! { #generics #where_clause },
            format!(
                "generic {kind}s are not supported: the container builds exactly one `{}`",
                unraw(&item.ident)
            ),
        );
    }
    for attr in &item.attrs {
        if let Some(other) = constructing_attr(attr)
            && other != macro_name
        {
            errors.at(attr, format!("`#[{macro_name}]` and `#[{other}]` cannot be combined: each one builds the type"));
        }
    }
    let owner = unraw(&item.ident);
    let shape = match &item.fields {
        Fields::Named(_) => Shape::Named,
        Fields::Unnamed(_) => Shape::Tuple,
        Fields::Unit => Shape::Unit,
    };
    let mut fields = Vec::new();
    for (index, field) in item.fields.iter_mut().enumerate() {
        let source = field_source(
            &mut field.attrs,
            &owner,
            matches!(shape, Shape::Tuple),
            errors,
        );
        let member = match &field.ident {
            Some(ident) => Member::Named(ident.clone()),
            None => Member::Unnamed(index.into()),
        };
        fields.push(FieldModel {
            member,
            ty: field.ty.clone(),
            source,
        });
    }
    Ok(StructModel {
        item,
        shape,
        fields,
    })
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn item_keyword_span(item: &Item) -> Span {
    match item {
        Item::Enum(e) => e.enum_token.span,
        Item::Union(u) => u.union_token.span,
        Item::Fn(f) => f.sig.fn_token.span,
        Item::Impl(i) => i.impl_token.span,
        Item::Trait(t) => t.trait_token.span,
        other => other.span(),
    }
}

/// `Some("controller")` for `#[controller]` or `#[ws_core::controller]`.
fn constructing_attr(attr: &Attribute) -> Option<&'static str> {
    let path = attr.path();
    let last = path.segments.last()?.ident.to_string();
    let plain =
        path.segments.len() == 1 || path.segments.first().is_some_and(|s| s.ident == "ws_core");
    CONSTRUCTING
        .iter()
        .copied()
        .find(|name| plain && *name == last)
}

/// Reads and removes `#[inject]` / `#[value(..)]` from a field's attributes.
fn field_source(
    attrs: &mut Vec<Attribute>,
    owner: &str,
    tuple: bool,
    errors: &mut Errors,
) -> Source {
    let mut source = Source::Default;
    let mut seen: Option<&'static str> = None;
    let mut kept = Vec::new();
    for attr in attrs.drain(..) {
        let this = if attr.path().is_ident("inject") {
            "inject"
        } else if attr.path().is_ident("value") {
            "value"
        } else {
            kept.push(attr);
            continue;
        };
        if tuple {
            errors.at(
                &attr,
                format!("`#[{this}]` is not supported on tuple struct fields: give `{owner}` named fields, the name appears in boot errors"),
            );
            continue;
        }
        if let Some(previous) = seen {
            let message = if previous == this {
                format!("duplicate `#[{this}]`")
            } else {
                "a field is either `#[inject]` or `#[value(\"app.key\")]`, not both".to_string()
            };
            errors.at(&attr, message);
            continue;
        }
        seen = Some(this);
        match (this, &attr.meta) {
            ("inject", Meta::Path(_)) => source = Source::Inject,
            ("inject", _) => errors.at(
                &attr,
                "`#[inject]` takes no arguments: the field's type says what is injected",
            ),
            ("value", Meta::List(list)) => match list.parse_args::<LitStr>() {
                Ok(key) => {
                    if check_value_key(&key, errors) {
                        source = Source::Value(key);
                    }
                }
                Err(_) => errors.at(
                    &list.tokens,
                    "expected a config key: `#[value(\"app.name\")]`",
                ),
            },
            _ => errors.at(&attr, "expected a config key: `#[value(\"app.name\")]`"),
        }
    }
    *attrs = kept;
    source
}

/// Keys name a value of the `[app]` table of server.toml by its full dotted path.
fn check_value_key(key: &LitStr, errors: &mut Errors) -> bool {
    let text = key.value();
    let ok = text.strip_prefix("app.").is_some_and(|rest| {
        !rest.is_empty() && rest.split('.').all(|part| !part.trim().is_empty())
    });
    if !ok {
        errors.at(
            key,
            format!(
                "`#[value]` reads the `[app]` table of server.toml: write the full dotted key, e.g. \"app.{}\"",
                text.trim_start_matches("app.").trim_matches('.')
            ),
        );
    }
    ok
}

/// `impl Construct for T`.
fn construct_impl(model: &StructModel) -> TokenStream {
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

fn type_path_literal(name: &str) -> TokenStream {
    quote! { ::core::concat!(::core::module_path!(), "::", #name) }
}

/// Emits the struct followed by `generate(model)` in a `const _` block, or, if anything was
/// wrong, the struct (helper attributes removed) followed by every error.
fn emit(
    model: Result<StructModel, TokenStream>,
    errors: Errors,
    generate: impl FnOnce(&StructModel) -> TokenStream,
) -> TokenStream {
    match (model, errors.finish()) {
        (Ok(model), Ok(())) => {
            let item = &model.item;
            let generated = generate(&model);
            quote! {
                #item
                const _: () = {
                    #generated
                };
            }
        }
        (Ok(model), Err(error)) => item_with_errors(&model.item, &error),
        (Err(tokens), Err(error)) => item_with_errors(tokens, &error),
        (Err(tokens), Ok(())) => tokens,
    }
}

fn check_server(server: &LitStr, errors: &mut Errors) {
    let name = server.value();
    if name.trim().is_empty() || name.chars().any(char::is_whitespace) {
        errors.at(
            server,
            "`server` names a `[[servers]]` entry of server.toml, e.g. \"ws\"",
        );
    }
}

/// Subprotocol names are HTTP tokens (RFC 6455 §4.1, RFC 9110 §5.6.2).
fn check_protocols(protocols: &[LitStr], errors: &mut Errors) {
    let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    for (i, protocol) in protocols.iter().enumerate() {
        let name = protocol.value();
        if name.is_empty() || !name.chars().all(is_tchar) {
            errors.at(protocol, "a subprotocol is a non-empty token without spaces, commas or quotes, e.g. \"chat.v1\"");
        } else if protocols[..i].iter().any(|p| p.value() == name) {
            errors.at(protocol, format!("duplicate subprotocol \"{name}\""));
        }
    }
}

/// `#[ws_controller(server = "ws", path = "/", protocols = ["chat.v1"])]`.
pub(crate) fn ws_controller(attr: TokenStream, item: TokenStream) -> TokenStream {
    const USAGE: &str = "#[ws_controller(server = \"ws\", path = \"/\")]";
    let mut errors = Errors::default();
    let args = Args::parse(attr, &["server", "path", "protocols"], USAGE, &mut errors);
    let missing: Vec<String> = ["server", "path"]
        .into_iter()
        .filter(|k| !args.has(k))
        .map(|k| format!("`{k}`"))
        .collect();
    if !missing.is_empty() {
        errors.at_span(
            Span::call_site(),
            format!("missing {}; usage: `{USAGE}`", missing.join(" and ")),
        );
    }
    let server = args.string("server", &mut errors);
    if let Some(server) = &server {
        check_server(server, &mut errors);
    }
    let path = args.string("path", &mut errors);
    if let Some(path) = &path {
        check_path(path, "`path`", &mut errors);
    }
    let protocols = args
        .strings("protocols", &mut errors)
        .map(|(list, _)| list)
        .unwrap_or_default();
    check_protocols(&protocols, &mut errors);
    let model = parse_struct(item, "ws_controller", "controller", &mut errors);
    // `server` and `path` are `Some` here: their absence is an error, and `emit` only generates
    // when there is none.
    emit(model, errors, |model| {
        let ident = model.ident();
        let construct = construct_impl(model);
        let controller = type_path_literal(&model.name());
        // Spanned at the struct's name: a missing `impl WebSocketHandler` is reported there,
        // with the trait's `on_unimplemented` message.
        let route = quote_spanned! {ident.span()=> __route::<#ident>(__controller) };
        quote! {
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
                    build: __build,
                }
            }
        }
    })
}

/// `#[controller(server = "http", prefix = "/server")]`.
pub(crate) fn controller(attr: TokenStream, item: TokenStream) -> TokenStream {
    const USAGE: &str = "#[controller(server = \"http\", prefix = \"/server\")]";
    let mut errors = Errors::default();
    let args = Args::parse(attr, &["server", "prefix"], USAGE, &mut errors);
    let server = args.string("server", &mut errors);
    if let Some(server) = &server {
        check_server(server, &mut errors);
    }
    let prefix = args.string("prefix", &mut errors);
    if let Some(prefix) = &prefix {
        check_path(prefix, "`prefix`", &mut errors);
    }
    let model = parse_struct(item, "controller", "controller", &mut errors);
    emit(model, errors, |model| {
        let ident = model.ident();
        let construct = construct_impl(model);
        let server = server.unwrap_or_else(|| LitStr::new("http", Span::call_site()));
        let prefix =
            prefix.unwrap_or_else(|| LitStr::new(&default_prefix(&model.name()), ident.span()));
        quote! {
            #construct
            #[automatically_derived]
            impl ::ws_core::__private::HttpController for #ident {
                const SERVER: &'static str = #server;
                const PREFIX: &'static str = #prefix;
            }
        }
    })
}

/// `#[component]`: an injectable singleton, `Arc<T>` elsewhere.
pub(crate) fn component(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let _ = Args::parse(attr, &[], "#[component]", &mut errors);
    let model = parse_struct(item, "component", "component", &mut errors);
    emit(model, errors, |model| {
        let ident = model.ident();
        let construct = construct_impl(model);
        let type_name = type_path_literal(&model.name());
        quote! {
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
        }
    })
}
