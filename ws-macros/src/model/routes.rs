//! The model of `#[auto_routes]` and `#[routes]`: the impl block, the routes of its methods
//! (from the method's name, or from `#[get("/path")]`, `#[route(..)]`, ...), and each route
//! method's receiver and parameters.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, Ident, ImplItem, ImplItemFn, Item, ItemImpl, LitStr, Meta, Pat, PatIdent,
    Signature, Type, Visibility,
};

use crate::errors::Errors;
use crate::model::args::Args;
use crate::model::values::{http_methods, validate_path};
use crate::naming::unraw;

/// Which methods become routes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// `#[auto_routes]`: every `pub async fn name` is `PREFIX/name`, GET, POST and HEAD.
    Auto,
    /// `#[routes]`: methods annotated `#[get("/path")]`, `#[route(..)]`, ...
    Explicit,
}

impl Style {
    pub(crate) fn macro_name(self) -> &'static str {
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

/// One route of a method: a path under the controller's prefix and its HTTP methods.
pub(crate) struct RouteAttr {
    pub(crate) path: LitStr,
    pub(crate) methods: Vec<String>,
    /// The attribute (or the method's name under `#[auto_routes]`), for errors.
    pub(crate) origin: TokenStream,
}

/// How a route method takes the controller.
pub(crate) enum Receiver {
    /// `&self` or `self: &Self`.
    Shared,
    /// `&mut self` or `self: &mut Self`.
    Exclusive(syn::Receiver),
    /// `self`, `self: Arc<Self>`, ...
    Owned(syn::Receiver),
    /// An associated function without `self`.
    Missing,
}

/// How a parameter gets its value.
pub(crate) enum Binding {
    /// `name: T`: `req.param::<T>("name")`.
    ByName(String),
    /// `req: HttpRequest`: a clone of the request.
    Request,
    /// `req: &HttpRequest`: the request.
    RequestRef,
}

/// A parameter after `self` that can be bound from the request.
pub(crate) struct Param {
    pub(crate) ty: Type,
    pub(crate) binding: Binding,
}

/// A parameter after `self` that cannot be bound from the request, refused by
/// [`crate::check::routes`].
pub(crate) enum Unbindable {
    /// Not a plain name (`(a, b): (u32, u32)`, `_: u32`): there is no name to bind it by.
    Pattern(Box<Pat>),
    /// `name: &T` other than `&HttpRequest`.
    Borrowed { name: String, ty: Box<Type> },
    /// `name: impl Trait`.
    ImplTrait { name: String, ty: Box<Type> },
}

/// A method that answers routes.
pub(crate) struct RouteMethod {
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) receiver: Receiver,
    pub(crate) params: Vec<Param>,
    pub(crate) unbindable: Vec<Unbindable>,
    pub(crate) routes: Vec<RouteAttr>,
}

/// The impl block of `#[auto_routes]` or `#[routes]`.
pub(crate) struct RoutesImpl {
    pub(crate) style: Style,
    /// The impl as emitted: route attributes removed.
    pub(crate) item: ItemImpl,
    /// The name of the type the impl is for (`ServerController`), when it is a plain path.
    pub(crate) controller: Option<String>,
    pub(crate) methods: Vec<RouteMethod>,
    /// Route attributes in an `#[auto_routes]` impl, where method names make the routes.
    pub(crate) misplaced: Vec<RouteAttr>,
}

impl RoutesImpl {
    /// Parses `item` as the impl block of `#[auto_routes]` or `#[routes]`; `Err` carries the
    /// tokens to emit instead (the item is not an impl).
    pub(crate) fn parse(
        item: TokenStream,
        style: Style,
        errors: &mut Errors,
    ) -> Result<Self, TokenStream> {
        let mut item = match syn::parse2::<Item>(item.clone()) {
            Ok(Item::Impl(item)) => item,
            Ok(other) => {
                let at = match &other {
                    Item::Struct(s) => s.struct_token.span,
                    Item::Enum(e) => e.enum_token.span,
                    Item::Fn(f) => f.sig.fn_token.span,
                    other => other.span(),
                };
                let name = style.macro_name();
                let hint = match style {
                    Style::Auto => "every `pub async fn` becomes a route",
                    Style::Explicit => "annotated methods become routes",
                };
                errors.at_span(at, format!("`#[{name}]` goes on the impl block of a `#[controller]`: `#[{name}] impl MyController {{ .. }}`; {hint}"));
                return Err(item);
            }
            Err(error) => {
                errors.push(error);
                return Err(item);
            }
        };
        let controller = controller_name(&item.self_ty);
        let mut methods = Vec::new();
        let mut misplaced = Vec::new();
        for impl_item in &mut item.items {
            let ImplItem::Fn(function) = impl_item else {
                continue;
            };
            let attrs = take_route_attrs(function, errors);
            let routes = match style {
                Style::Auto => {
                    misplaced.extend(attrs);
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
            methods.push(RouteMethod::read(function, routes));
        }
        Ok(Self {
            style,
            item,
            controller,
            methods,
            misplaced,
        })
    }
}

/// `ServerController` for `impl ServerController` or `impl crate::ServerController`.
fn controller_name(self_ty: &Type) -> Option<String> {
    match self_ty {
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|last| unraw(&last.ident))
        }
        _ => None,
    }
}

impl RouteMethod {
    fn read(function: &ImplItemFn, routes: Vec<RouteAttr>) -> Self {
        let sig = &function.sig;
        let receiver = match sig.inputs.first() {
            Some(FnArg::Receiver(receiver)) => read_receiver(receiver),
            _ => Receiver::Missing,
        };
        let mut params = Vec::new();
        let mut unbindable = Vec::new();
        for input in sig.inputs.iter() {
            let FnArg::Typed(typed) = input else { continue };
            match read_param(&typed.pat, &typed.ty) {
                Ok(param) => params.push(param),
                Err(refused) => unbindable.push(refused),
            }
        }
        Self {
            vis: function.vis.clone(),
            sig: sig.clone(),
            receiver,
            params,
            unbindable,
            routes,
        }
    }
}

fn read_receiver(receiver: &syn::Receiver) -> Receiver {
    let mutable = match (&receiver.reference, &receiver.colon_token) {
        (Some(_), _) => Some(receiver.mutability.is_some()),
        (None, Some(_)) => match &*receiver.ty {
            Type::Reference(r) => Some(r.mutability.is_some()),
            _ => None,
        },
        (None, None) => None,
    };
    match mutable {
        Some(false) => Receiver::Shared,
        Some(true) => Receiver::Exclusive(receiver.clone()),
        None => Receiver::Owned(receiver.clone()),
    }
}

fn read_param(pat: &Pat, ty: &Type) -> Result<Param, Unbindable> {
    let name = match pat {
        Pat::Ident(PatIdent {
            by_ref: None,
            subpat: None,
            ident,
            ..
        }) => unraw(ident),
        other => return Err(Unbindable::Pattern(Box::new(other.clone()))),
    };
    let binding = match ty {
        Type::Reference(r) if r.mutability.is_none() && is_http_request(&r.elem) => {
            Binding::RequestRef
        }
        Type::Reference(_) => {
            return Err(Unbindable::Borrowed {
                name,
                ty: Box::new(ty.clone()),
            });
        }
        Type::ImplTrait(_) => {
            return Err(Unbindable::ImplTrait {
                name,
                ty: Box::new(ty.clone()),
            });
        }
        ty if is_http_request(ty) => Binding::Request,
        _ => Binding::ByName(name),
    };
    Ok(Param {
        ty: ty.clone(),
        binding,
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

/// The path of `#[get("/path")]` and friends.
fn shorthand_path(attr: &Attribute, short: &str, errors: &mut Errors) -> Option<LitStr> {
    let usage = format!("expected a path: `#[{short}(\"/users/{{id}}\")]`");
    let Meta::List(list) = &attr.meta else {
        errors.at(attr, usage);
        return None;
    };
    match list.parse_args::<LitStr>() {
        Ok(path) => {
            validate_path(&path, "a route path", errors);
            Some(path)
        }
        Err(_) => {
            errors.at(&list.tokens, usage);
            None
        }
    }
}

/// `#[route(path = "/path", methods = ["GET", "POST"])]`.
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
        validate_path(path, "a route path", errors);
    }
    let (methods, span) = args.strings("methods", errors)?;
    let methods = http_methods(&methods, span, errors);
    Some(RouteAttr {
        path: path?,
        methods,
        origin: attr.to_token_stream(),
    })
}
