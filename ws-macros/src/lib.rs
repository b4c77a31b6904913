//! Procedural macros of the ws framework. Use them through `ws_core` (`ws_core::ws_controller`,
//! ...), which re-exports them; generated code refers only to `::ws_core` paths.

use proc_macro::TokenStream;

/// Registers a WebSocket controller.
#[proc_macro_attribute]
pub fn ws_controller(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Declares an HTTP controller.
#[proc_macro_attribute]
pub fn controller(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Every `pub async fn` becomes a route.
#[proc_macro_attribute]
pub fn auto_routes(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Explicit `#[get]`/`#[post]` routes.
#[proc_macro_attribute]
pub fn routes(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Registers an injectable singleton.
#[proc_macro_attribute]
pub fn component(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// The app's entry point.
#[proc_macro_attribute]
pub fn main(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
