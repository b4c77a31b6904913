//! What "running in CI" means, for every reader of the `CI` environment variable: `ws-cli perf`
//! (a missing `wrk` fails instead of skipping the HTTP scenario) and the end-to-end tests, whose
//! support crate compiles this same file (a missing service fails instead of skipping a suite).
//!
//! `CI` counts as set when its value is `true`, `1` or `yes`, in any case and with surrounding
//! blanks ignored: what the common CI services export (`true`) and what people type (`1`, `yes`).
//! Anything else, an empty value or no variable at all, means a developer's machine.

/// Whether the `CI` environment variable says this runs in CI (see the module docs).
pub(crate) fn in_ci() -> bool {
    means_ci(std::env::var("CI").ok().as_deref())
}

/// Whether a value of `CI` (`None`: unset or not Unicode) means CI.
pub(crate) fn means_ci(value: Option<&str>) -> bool {
    value.map(str::trim).is_some_and(|value| {
        ["true", "1", "yes"]
            .iter()
            .any(|yes| value.eq_ignore_ascii_case(yes))
    })
}

#[cfg(test)]
mod tests {
    use super::means_ci;

    #[test]
    fn true_one_and_yes_in_any_case_mean_ci() {
        for value in ["true", "TRUE", "True", "1", "yes", "YES", " true\n"] {
            assert!(means_ci(Some(value)), "{value:?}");
        }
    }

    #[test]
    fn anything_else_means_a_developer_machine() {
        for value in [
            None,
            Some(""),
            Some("false"),
            Some("0"),
            Some("no"),
            Some("truee"),
        ] {
            assert!(!means_ci(value), "{value:?}");
        }
    }
}
