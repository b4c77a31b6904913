//! Writing generated files: everything is rendered and checked first, then written, so a
//! refusal leaves the disk as it was.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Files to write under `root`, paths relative to it.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) root: PathBuf,
    pub(crate) files: Vec<(PathBuf, String)>,
}

impl Plan {
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            files: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, path: impl Into<PathBuf>, contents: String) {
        self.files.push((path.into(), contents));
    }

    /// The first planned file that already exists, relative to the root.
    pub(crate) fn first_existing(&self) -> Option<&Path> {
        self.files
            .iter()
            .map(|(path, _)| path.as_path())
            .find(|path| self.root.join(path).exists())
    }

    /// Writes every file, creating folders as needed.
    pub(crate) fn write(&self) -> anyhow::Result<()> {
        for (path, contents) in &self.files {
            let full = self.root.join(path);
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(&full, contents)
                .with_context(|| format!("cannot write {}", full.display()))?;
        }
        Ok(())
    }

    /// One `  path` line per file, for the summary printed after writing.
    pub(crate) fn listing(&self) -> String {
        self.files
            .iter()
            .map(|(path, _)| format!("  {}\n", path.display()))
            .collect()
    }
}
