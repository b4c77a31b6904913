//! `ws-cli new NAME`: a complete app, `cargo run` and `cargo test` ready.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use super::files::Plan;
use super::naming;
use super::template::{self, Vars, toml_string};

/// The `ws-core` of the checkout this binary was built from: the default dependency.
const CHECKOUT_WS_CORE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../ws-core");

const AFTER_HELP: &str = "\
Examples:
  ws-cli new chat-server                         # ws-core of this ws-cli's checkout
  ws-cli new chat-server --version 0.1           # ws-core 0.1 from crates.io
  ws-cli new chat-server --path ../ws/ws-core    # a local ws-core
  cd chat-server && cargo run                    # or `ws-cli dev` to rebuild on every change

The app depends on the ws-core of the checkout this ws-cli was built from, by a path relative
to the app (installed from crates.io: the ws-core of the same version), unless --path, --git or
--version says otherwise. With a path dependency the
checkout's Cargo.lock is copied too, so the app builds with the versions ws-core is tested with.

Refuses an invalid crate name, and a folder that exists and is not empty (unless --force).";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct NewArgs {
    /// Folder to create; its last component is the package name (e.g. `chat-server`)
    #[arg(value_name = "NAME")]
    dir: PathBuf,
    /// Depend on the ws-core crate in this folder (written relative to the app)
    #[arg(
        long = "path",
        alias = "ws-core-path",
        value_name = "DIR",
        group = "source"
    )]
    ws_core_path: Option<PathBuf>,
    /// Depend on ws-core from this git repository
    #[arg(long, value_name = "URL", group = "source")]
    git: Option<String>,
    /// Depend on this version of ws-core from the registry
    #[arg(
        long = "version",
        alias = "ws-core-version",
        value_name = "REQ",
        group = "source"
    )]
    ws_core_version: Option<String>,
    /// Write into an existing non-empty folder, replacing files of the same name
    #[arg(long)]
    force: bool,
}

/// Where the app's `ws-core` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// The `ws-core` crate folder: `absolute` to check and find the lock file, `relative` (to
    /// the app) to write, so the app keeps building when the two move together.
    Path {
        absolute: PathBuf,
        relative: PathBuf,
    },
    Git(String),
    Version(String),
}

impl Source {
    fn from_args(args: &NewArgs, app_dir: &Path) -> anyhow::Result<Self> {
        if let Some(url) = &args.git {
            return Ok(Self::Git(url.clone()));
        }
        if let Some(req) = &args.ws_core_version {
            return Ok(Self::Version(req.clone()));
        }
        let (dir, what) = match &args.ws_core_path {
            Some(dir) => (dir.clone(), "--path"),
            // Installed from crates.io there is no checkout: the ws-core released with this ws-cli.
            None if !Path::new(CHECKOUT_WS_CORE).join("Cargo.toml").is_file() => {
                return Ok(Self::Version(env!("CARGO_PKG_VERSION").to_string()));
            }
            None => (
                PathBuf::from(CHECKOUT_WS_CORE),
                "the checkout this ws-cli was built from",
            ),
        };
        let dir = std::fs::canonicalize(&dir).with_context(|| {
            format!(
                "{} ({what}) does not exist; pass --path DIR, --git URL or --version REQ",
                dir.display()
            )
        })?;
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        let is_ws_core = manifest
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("package")?.get("name")?.as_str().map(str::to_owned))
            .is_some_and(|name| name == "ws-core");
        if !is_ws_core {
            bail!(
                "{} ({what}) is not the ws-core crate: no Cargo.toml with `name = \"ws-core\"`",
                dir.display()
            );
        }
        let relative = relative_path(&absolute_dir(app_dir)?, &dir);
        Ok(Self::Path {
            absolute: dir,
            relative,
        })
    }

    /// `ws-core = { ..., features = [..] }`.
    fn dependency(&self, features: &str) -> String {
        let location = match self {
            // Forward slashes on every platform: Cargo reads them on Windows too.
            Self::Path { relative, .. } => format!(
                "path = {}",
                toml_string(&relative.to_string_lossy().replace('\\', "/"))
            ),
            Self::Git(url) => format!("git = {}", toml_string(url)),
            Self::Version(req) => format!("version = {}", toml_string(req)),
        };
        format!("ws-core = {{ {location}, features = [{features}] }}")
    }

    /// The lock file of the workspace holding a path dependency's ws-core, if any.
    fn lock_file(&self) -> Option<PathBuf> {
        let Self::Path { absolute, .. } = self else {
            return None;
        };
        let lock = absolute.parent()?.join("Cargo.lock");
        lock.is_file().then_some(lock)
    }
}

pub(crate) fn run(args: NewArgs) -> anyhow::Result<ExitCode> {
    let Some(package) = args.dir.file_name().and_then(|n| n.to_str()) else {
        bail!(
            "`{}` does not end in a folder name to use as the app's name",
            args.dir.display()
        );
    };
    let crate_name = naming::crate_name(package)?;
    check_target(&args.dir, args.force)?;
    let source = Source::from_args(&args, &args.dir)?;

    let vars = Vars::default()
        .set("name", package)
        .set("crate_name", crate_name)
        .set("ws_core_dep", source.dependency(""))
        .set("ws_core_dev_dep", source.dependency("\"testing\""));
    let mut plan = Plan::new(&args.dir);
    for file in template::APP {
        plan.add(file.to, template::render(file.body, &vars)?);
    }
    if let Some(lock) = source.lock_file() {
        let text = std::fs::read_to_string(&lock)
            .with_context(|| format!("cannot read {}", lock.display()))?;
        plan.add("Cargo.lock", text);
    }
    plan.write()?;

    let dependency = match &source {
        Source::Path { relative, .. } => format!("ws-core at {}", relative.display()),
        Source::Git(url) => format!("ws-core from {url}"),
        Source::Version(req) => format!("ws-core {req}"),
    };
    println!(
        "Created app `{package}` in {} ({dependency}):\n{}\nNext:\n  cd {} && cargo run\n  cargo test\n  ws-cli gen:controller NAME --ws --path /NAME",
        args.dir.display(),
        plan.listing(),
        args.dir.display(),
    );
    Ok(ExitCode::SUCCESS)
}

/// `dir` made absolute with symlinks resolved, though it (or some of its parents) may not exist
/// yet: the longest existing ancestor is canonicalized and the rest appended.
fn absolute_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let dir = cwd.join(dir);
    let mut existing = dir.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(found) = std::fs::canonicalize(existing) {
            return Ok(rest.iter().rev().fold(found, |path, part| path.join(part)));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return Ok(dir),
        }
    }
}

/// The path from folder `from` to `to`, both absolute: `../../ws/ws-core`.
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path = PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    for part in &to[common..] {
        path.push(part);
    }
    path
}

/// A new folder, or an empty one, or anything with `--force`; never a file.
fn check_target(dir: &Path, force: bool) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if !dir.is_dir() {
        bail!("{} exists and is not a folder", dir.display());
    }
    let mut entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    if entries.next().is_some() && !force {
        bail!(
            "{} already exists and is not empty; nothing was written (--force writes into it, replacing files of the same name)",
            dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let source = Source::Path {
            absolute: "/src/ws/ws-core".into(),
            relative: "../ws/ws-core".into(),
        };
        Vars::default()
            .set("name", "chat-server")
            .set("crate_name", "chat_server")
            .set("ws_core_dep", source.dependency(""))
            .set("ws_core_dev_dep", source.dependency("\"testing\""))
    }

    #[test]
    fn every_app_template_renders() {
        for file in template::APP {
            let text = template::render(file.body, &vars()).expect("accepted");
            assert!(!text.contains("{{name}}"), "{}", file.to);
        }
    }

    #[test]
    fn the_manifest_is_valid_toml_outside_any_workspace() {
        let text = template::render(template::APP[0].body, &vars()).expect("accepted");
        let manifest: toml::Table = text.parse().expect("accepted");
        assert_eq!(manifest["package"]["name"].as_str(), Some("chat-server"));
        assert_eq!(
            manifest["dependencies"]["ws-core"]["path"].as_str(),
            Some("../ws/ws-core")
        );
        assert_eq!(
            manifest["dev-dependencies"]["ws-core"]["features"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        assert!(
            manifest["workspace"]
                .as_table()
                .expect("accepted")
                .is_empty()
        );
    }

    #[test]
    fn relative_paths() {
        let rel = |from: &str, to: &str| relative_path(Path::new(from), Path::new(to));
        assert_eq!(
            rel("/src/app", "/src/ws/ws-core"),
            Path::new("../ws/ws-core")
        );
        assert_eq!(
            rel("/tmp/a/b", "/src/ws-core"),
            Path::new("../../../src/ws-core")
        );
        assert_eq!(rel("/src", "/src/ws-core"), Path::new("ws-core"));
    }

    #[test]
    fn dependency_lines() {
        assert_eq!(
            Source::Git("https://example.invalid/ws.git".into()).dependency(""),
            r#"ws-core = { git = "https://example.invalid/ws.git", features = [] }"#
        );
        assert_eq!(
            Source::Version("0.1".into()).dependency("\"testing\""),
            r#"ws-core = { version = "0.1", features = ["testing"] }"#
        );
    }
}
