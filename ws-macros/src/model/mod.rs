//! What each macro reads, as typed values: attribute arguments, the item the attribute is on,
//! and the attributes on its fields and methods (serde_derive's `internals::{ast, attr}`).
//!
//! Reading refuses what cannot be read: malformed attributes, unknown or repeated keys, values
//! of the wrong kind, and literal values that cannot be what they name (a path without a
//! leading `/`, a config key outside `[app]`), each at its own tokens. Whether well-formed
//! pieces may be used together (generics, receivers, tuple fields, two routes on one path) is
//! [`crate::check`]'s.

pub(crate) mod args;
pub(crate) mod main_fn;
pub(crate) mod routes;
pub(crate) mod socketio;
pub(crate) mod structs;
pub(crate) mod values;
