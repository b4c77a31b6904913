use std::fmt;
use std::path::{Path, PathBuf};

/// Why a config could not be used. Its `Display` is one line naming the file, the key and the
/// problem, fit to print before exiting.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {reason}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The OS error.
        reason: String,
    },
    /// The file is not valid TOML.
    #[error("{}:{line}:{column}: {reason}", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What is wrong.
        reason: String,
    },
    /// A key has a wrong type or value, is unknown, or conflicts with another.
    #[error("{}: `{key}`: {reason}", file.display())]
    Invalid {
        /// The file.
        file: PathBuf,
        /// The dotted path of the key, e.g. `servers[1].port`.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// An environment override has a wrong value.
    #[error("{var} (overriding {}): {reason}", file.display())]
    Env {
        /// The variable.
        var: String,
        /// The file it overrides.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl ConfigError {
    pub(super) fn syntax(
        file: &Path,
        text: &str,
        span: Option<std::ops::Range<usize>>,
        message: &str,
    ) -> Self {
        let offset = span.map(|s| s.start).unwrap_or(0).min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        ConfigError::Syntax {
            file: file.to_path_buf(),
            line,
            column,
            reason: OneLine(message).to_string(),
        }
    }
}

/// Folds a multi-line message into one line.
struct OneLine<'a>(&'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for part in self.0.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if !first {
                f.write_str("; ")?;
            }
            f.write_str(part)?;
            first = false;
        }
        Ok(())
    }
}
