//! `ws-cli gen:controller NAME --ws|--http`: a controller and its test, inside an app.
//!
//! The controller registers itself through its attribute, so the only file edited is
//! `src/controller/mod.rs` (one `pub mod NAME;`), and `src/lib.rs` when the app has no
//! `controller` module yet.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{ArgGroup, Args};

use super::files::Plan;
use super::naming::ControllerName;
use super::template::{self, Vars};

const AFTER_HELP: &str = "\
Run inside an app made by `ws-cli new` (any folder of it). Writes src/controller/NAME.rs and
tests/NAME.rs, and adds `pub mod NAME;` to src/controller/mod.rs. Refuses to overwrite a file.

Examples:
  ws-cli gen:controller chat_room --ws --path /chat    ChatRoomController, ws://HOST:9502/chat
  ws-cli gen:controller stats --http --prefix /stats   StatsController, http://HOST:9501/stats/index";

#[derive(Debug, Args)]
#[command(
    after_help = AFTER_HELP,
    group(ArgGroup::new("kind").required(true).args(["ws", "http"])),
)]
pub(crate) struct ControllerArgs {
    /// snake_case or CamelCase: `chat_room` gives src/controller/chat_room.rs, ChatRoomController
    name: String,
    /// A WebSocket controller (`#[ws_controller]`)
    #[arg(long)]
    ws: bool,
    /// An HTTP controller (`#[controller]` with `#[auto_routes]`)
    #[arg(long)]
    http: bool,
    /// The WebSocket route, e.g. /chat or /room/{id} [default: /NAME]
    #[arg(long, value_name = "PATH", conflicts_with = "http")]
    path: Option<String>,
    /// The HTTP path prefix, e.g. /stats [default: /NAME]
    #[arg(long, value_name = "PREFIX", conflicts_with = "ws")]
    prefix: Option<String>,
    /// The server in config/server.toml [default: ws, or http with --http]
    #[arg(long, value_name = "NAME")]
    server: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ws,
    Http,
}

impl Kind {
    fn server_type(self) -> &'static str {
        match self {
            Self::Ws => "websocket",
            Self::Http => "http",
        }
    }
}

pub(crate) fn run(args: ControllerArgs) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let app = App::find(&cwd)?;
    let name = ControllerName::parse(&args.name)?;
    let kind = if args.ws { Kind::Ws } else { Kind::Http };
    let server = args.server.clone().unwrap_or_else(|| match kind {
        Kind::Ws => "ws".into(),
        Kind::Http => "http".into(),
    });
    app.check_server(&server, kind)?;
    let route = args
        .path
        .as_deref()
        .or(args.prefix.as_deref())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("/{}", name.module));
    let what = if kind == Kind::Ws {
        "--path"
    } else {
        "--prefix"
    };
    let route = route_path(&route, what, kind == Kind::Http)?;

    let mut vars = Vars::default()
        .set("crate_name", app.crate_name.as_str())
        .set("module", name.module.as_str())
        .set("struct_name", name.type_name.as_str())
        .set("server", server.as_str());
    let templates = match kind {
        Kind::Ws => {
            vars = vars
                .set("path", route.as_str())
                .set("test_path", concrete(&route));
            template::WS_CONTROLLER
        }
        Kind::Http => {
            vars = vars
                .set("prefix", route.as_str())
                .set("route_pattern", join(&route, "<name>"))
                .set("index_path", join(&route, "index"))
                .set("push_path", join(&route, "push"));
            template::HTTP_CONTROLLER
        }
    };

    let mut plan = Plan::new(&app.root);
    for file in templates {
        plan.add(
            template::render(file.to, &vars)?,
            template::render(file.body, &vars)?,
        );
    }
    if let Some(existing) = plan.first_existing() {
        bail!(
            "{} already exists; nothing was written (pick another name, or remove the file)",
            existing.display()
        );
    }
    let registration = app.register(&name.module)?;
    plan.files.extend(registration);
    plan.write()?;

    let reach = match kind {
        Kind::Ws => format!("ws://HOST:PORT{route} on server `{server}`"),
        Kind::Http => format!("{} on server `{server}`", join(&route, "index")),
    };
    println!(
        "Created {} ({reach}):\n{}Run `cargo test` to check it, `cargo run -- routes` to see it.",
        name.type_name,
        plan.listing(),
    );
    Ok(ExitCode::SUCCESS)
}

/// The app the current folder belongs to.
#[derive(Debug)]
struct App {
    root: PathBuf,
    crate_name: String,
}

impl App {
    /// The nearest folder upward with a `Cargo.toml`; it must depend on ws-core and have the
    /// `setup` function the generated tests call.
    fn find(start: &Path) -> anyhow::Result<Self> {
        let Some(root) = start
            .ancestors()
            .find(|dir| dir.join("Cargo.toml").is_file())
        else {
            bail!(
                "no Cargo.toml in {} or above: run gen:controller inside an app made by `ws-cli new`",
                start.display()
            );
        };
        let manifest_path = root.join("Cargo.toml");
        let manifest: toml::Table = std::fs::read_to_string(&manifest_path)
            .with_context(|| format!("cannot read {}", manifest_path.display()))?
            .parse()
            .with_context(|| format!("{} is not valid TOML", manifest_path.display()))?;
        let Some(package) = manifest
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
        else {
            bail!(
                "{} has no [package] name: run gen:controller inside an app made by `ws-cli new`",
                manifest_path.display()
            );
        };
        let depends = manifest
            .get("dependencies")
            .and_then(|d| d.get("ws-core"))
            .is_some();
        if !depends {
            bail!(
                "{} does not depend on ws-core: run gen:controller inside an app made by `ws-cli new`",
                manifest_path.display()
            );
        }
        let crate_name = package.replace('-', "_");
        let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap_or_default();
        if !lib.contains("pub fn setup(") {
            bail!(
                "{}/src/lib.rs has no `pub fn setup(app: &mut App)`, which the generated test calls to boot the app as `main` does",
                root.display()
            );
        }
        Ok(Self {
            root: root.to_path_buf(),
            crate_name,
        })
    }

    /// The server must be in config/server.toml with the controller's type.
    fn check_server(&self, name: &str, kind: Kind) -> anyhow::Result<()> {
        let path = self.root.join("config/server.toml");
        let config: toml::Table = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .parse()
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        let servers = config
            .get("servers")
            .and_then(|s| s.as_array())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let found = servers
            .iter()
            .find(|s| s.get("name").and_then(|n| n.as_str()) == Some(name));
        let Some(server) = found else {
            bail!(
                "{} defines no server `{name}`; pass --server NAME or add a [[servers]] entry",
                path.display()
            );
        };
        let kind_in_config = server.get("type").and_then(|t| t.as_str()).unwrap_or("");
        if kind_in_config != kind.server_type() {
            bail!(
                "server `{name}` in {} is of type `{kind_in_config}`, not `{}`; pass --server NAME",
                path.display(),
                kind.server_type()
            );
        }
        Ok(())
    }

    /// The edits that declare `module` in `src/controller/mod.rs` (created if missing, with
    /// `pub mod controller;` added to `src/lib.rs`).
    fn register(&self, module: &str) -> anyhow::Result<Vec<(PathBuf, String)>> {
        let mod_rs = PathBuf::from("src/controller/mod.rs");
        let mut edits = Vec::new();
        let declarations = match std::fs::read_to_string(self.root.join(&mod_rs)) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let lib_rs = PathBuf::from("src/lib.rs");
                let lib = std::fs::read_to_string(self.root.join(&lib_rs))
                    .with_context(|| format!("cannot read {}", lib_rs.display()))?;
                if !declares(&lib, "controller") {
                    edits.push((lib_rs, insert_module(&lib, "controller")));
                }
                "//! The app's controllers; `ws-cli gen:controller NAME` adds one here.\n".into()
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", mod_rs.display()));
            }
        };
        if declares(&declarations, module) {
            bail!(
                "{} already declares `mod {module}`; nothing was written",
                mod_rs.display()
            );
        }
        edits.push((mod_rs, insert_module(&declarations, module)));
        Ok(edits)
    }
}

/// Whether `source` declares `mod name` (any visibility, inline or not).
fn declares(source: &str, name: &str) -> bool {
    source.lines().any(|line| {
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == ';' || c == '{')
            .filter(|w| !w.is_empty())
            .collect();
        words
            .windows(2)
            .any(|pair| pair[0] == "mod" && pair[1] == name)
    })
}

/// `source` with `pub mod name;` among its other `pub mod` lines, in order; after the leading
/// `//!` docs when there are none.
fn insert_module(source: &str, name: &str) -> String {
    let line = format!("pub mod {name};");
    let lines: Vec<&str> = source.lines().collect();
    let is_decl = |l: &str| l.starts_with("pub mod ") && l.ends_with(';');
    let at = match lines.iter().position(|l| is_decl(l)) {
        Some(first) => {
            let last = first + lines[first..].iter().take_while(|l| is_decl(l)).count();
            first
                + lines[first..last]
                    .iter()
                    .take_while(|l| **l < line.as_str())
                    .count()
        }
        None => {
            let docs = lines.iter().take_while(|l| l.starts_with("//!")).count();
            let mut out: Vec<String> = lines[..docs].iter().map(|l| l.to_string()).collect();
            if docs > 0 {
                out.push(String::new());
            }
            out.push(line);
            let rest = &lines[docs..];
            let rest = rest
                .iter()
                .skip_while(|l| l.trim().is_empty())
                .map(|l| l.to_string());
            let rest: Vec<String> = rest.collect();
            if !rest.is_empty() {
                out.push(String::new());
                out.extend(rest);
            }
            return out.join("\n") + "\n";
        }
    };
    let mut out: Vec<&str> = lines.clone();
    out.insert(at, &line);
    out.join("\n") + "\n"
}

/// A route path as written into the attribute: starts with `/`, no trailing `/` for a prefix,
/// nothing that would break the string literal or the URL.
fn route_path(raw: &str, what: &str, is_prefix: bool) -> anyhow::Result<String> {
    if !raw.starts_with('/') {
        bail!("{what} `{raw}` must start with `/`");
    }
    if let Some(bad) = raw
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\\' | '?' | '#'))
    {
        bail!("{what} `{raw}` cannot contain {bad:?}");
    }
    if is_prefix && (raw.contains('{') || raw.contains('}')) {
        bail!("{what} `{raw}` cannot hold parameters; put them in a route of the controller");
    }
    if !is_prefix {
        return Ok(raw.into());
    }
    let trimmed = raw.trim_end_matches('/');
    Ok(if trimmed.is_empty() { "/" } else { trimmed }.into())
}

/// `prefix` and `name` joined with one `/`.
fn join(prefix: &str, name: &str) -> String {
    format!("{}/{name}", prefix.trim_end_matches('/'))
}

/// A URL the route matches: `{param}` becomes `1`, `{*rest}` becomes `x`.
fn concrete(route: &str) -> String {
    let mut out = String::with_capacity(route.len());
    let mut rest = route;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let param = &rest[open + 1..open + close];
        out.push_str(if param.starts_with('*') { "x" } else { "1" });
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_lines_are_inserted_in_order() {
        let mod_rs = "//! Docs.\n\npub mod server;\npub mod websocket;\n";
        assert_eq!(
            insert_module(mod_rs, "chat"),
            "//! Docs.\n\npub mod chat;\npub mod server;\npub mod websocket;\n"
        );
        assert_eq!(
            insert_module(mod_rs, "zoo"),
            "//! Docs.\n\npub mod server;\npub mod websocket;\npub mod zoo;\n"
        );
        assert_eq!(
            insert_module("//! Docs.\n", "chat"),
            "//! Docs.\n\npub mod chat;\n"
        );
        assert_eq!(
            insert_module("//! Docs.\n\nuse x;\n", "controller"),
            "//! Docs.\n\npub mod controller;\n\nuse x;\n"
        );
        assert_eq!(insert_module("", "chat"), "pub mod chat;\n");
    }

    #[test]
    fn declarations_are_found_with_any_visibility() {
        assert!(declares("pub mod chat;", "chat"));
        assert!(declares("pub(crate) mod chat;", "chat"));
        assert!(declares("mod chat {", "chat"));
        assert!(!declares("pub mod chat_room;", "chat"));
        assert!(!declares("// chat", "chat"));
    }

    #[test]
    fn routes() {
        assert_eq!(
            route_path("/chat", "--path", false).expect("accepted"),
            "/chat"
        );
        assert_eq!(route_path("/", "--path", false).expect("accepted"), "/");
        assert_eq!(
            route_path("/stats/", "--prefix", true).expect("accepted"),
            "/stats"
        );
        assert_eq!(route_path("/", "--prefix", true).expect("accepted"), "/");
        assert!(route_path("chat", "--path", false).is_err());
        assert!(route_path("/a b", "--path", false).is_err());
        assert!(route_path("/a\"", "--path", false).is_err());
        assert!(route_path("/{id}", "--prefix", true).is_err());
        assert_eq!(join("/", "index"), "/index");
        assert_eq!(join("/stats", "index"), "/stats/index");
        assert_eq!(concrete("/room/{id}/{*rest}"), "/room/1/x");
        assert_eq!(concrete("/chat"), "/chat");
    }

    #[test]
    fn every_controller_template_renders() {
        let vars = Vars::default()
            .set("crate_name", "app")
            .set("module", "chat_room")
            .set("struct_name", "ChatRoomController")
            .set("server", "ws")
            .set("path", "/chat")
            .set("test_path", "/chat")
            .set("prefix", "/chat")
            .set("route_pattern", "/chat/<name>")
            .set("index_path", "/chat/index")
            .set("push_path", "/chat/push");
        for file in template::WS_CONTROLLER
            .iter()
            .chain(&template::HTTP_CONTROLLER)
        {
            let to = template::render(file.to, &vars).expect("accepted");
            assert!(to.ends_with("chat_room.rs"), "{to}");
            let text = template::render(file.body, &vars).expect("accepted");
            assert!(!text.contains("{{"), "{to}: {text}");
        }
    }
}
