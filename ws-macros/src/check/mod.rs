//! Misuse the model can express but the macros refuse (serde_derive's `internals::check`):
//! generics, helper attributes where they cannot work, route signatures the request cannot
//! call, two routes on one path. Every check records its errors and goes on, so one build shows
//! every mistake of an item; nothing is generated for an item with an error.

pub(crate) mod main_fn;
pub(crate) mod routes;
pub(crate) mod socketio;
pub(crate) mod structs;
