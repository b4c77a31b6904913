//! Scaffolding, loco style: `new` makes a complete app, `gen:*` add to one. Templates are files
//! under `ws-cli/templates/`, embedded in the binary; every generator also writes a test for
//! what it generated, and nothing is written when a check refuses.

pub(crate) mod controller;
mod files;
mod naming;
pub(crate) mod new;
mod template;
