//! A nested module of controllers.

pub mod users;
