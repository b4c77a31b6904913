//! `ws_core::testing`: connection options and assertion locations.
