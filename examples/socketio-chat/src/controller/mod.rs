//! The chat's controllers: the Socket.IO namespace, the page's config endpoint, and the page.

pub(crate) mod api;
pub(crate) mod namespace;
pub(crate) mod page;
