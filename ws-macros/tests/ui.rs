//! Compile-time behaviour of the macros: `pass/` must compile (and run), `fail/` must fail with
//! exactly the committed `.stderr`.
//!
//! The snapshots depend on the compiler's wording, so they are pinned to the workspace's
//! toolchain (`rust-version` in the root Cargo.toml). After a deliberate change to a message, or
//! a toolchain bump, regenerate them and read every diff:
//!
//! ```sh
//! TRYBUILD=overwrite cargo test -p ws-macros --test ui
//! ```

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
