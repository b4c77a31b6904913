//! Skipped suites that a plain `cargo test` shows.
//!
//! libtest captures what a test prints with `print!` and `eprint!` and shows it only when the
//! test fails, so a suite that returned early for want of nginx used to read as a plain `ok`.
//! A skip is therefore written straight to the process's stderr (`std::io::stderr()`, which the
//! capture does not intercept; `eprintln!` is), one line naming the test, what was not tested
//! and why, with the number of this test binary's skips so far: the binary's last skip line is
//! its summary. libtest has no end-of-run hook, and an exit handler would need `unsafe`, so the
//! count rides on each line instead of a line of its own after the binary's results.
//!
//! Under CI ([`crate::in_ci`]) a skip is a failure instead.

use std::io::Write;
use std::sync::Mutex;

/// The tests of this binary that skipped so far.
static SKIPPED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Skips the running test: `what` was not tested because of `why`. Fails the test under CI.
///
/// The caller returns right after; this only reports.
pub fn skip(what: &str, why: &str) {
    assert!(
        !crate::in_ci(),
        "{why}, so {what} cannot be tested (CI=true: failing instead of skipping)"
    );
    let test = current_test();
    let binary = test_binary();
    let count = {
        let mut skipped = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
        skipped.push(test.clone());
        skipped.len()
    };
    let line = skip_line(&binary, &test, what, why, count);
    // One write of the whole line, so parallel tests cannot interleave inside it.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// The line a skip prints (with its own newlines: libtest may be in the middle of a
/// `test name ... ` line when it is written).
pub fn skip_line(binary: &str, test: &str, what: &str, why: &str, count: usize) -> String {
    format!(
        "\nSKIPPED {binary}::{test}: {why}, so {what} was NOT tested \
         ({count} skipped in {binary} so far)\n"
    )
}

/// The running test's name: libtest names each test's thread after it.
fn current_test() -> String {
    std::thread::current()
        .name()
        .unwrap_or("an unnamed test")
        .to_string()
}

/// The test binary's name without cargo's hash suffix (`cluster_redis-0123abcd` ->
/// `cluster_redis`).
fn test_binary() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe
        .as_deref()
        .and_then(|path| path.file_stem())
        .and_then(|stem| stem.to_str())
        .unwrap_or("tests");
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_string(),
        _ => stem.to_string(),
    }
}
