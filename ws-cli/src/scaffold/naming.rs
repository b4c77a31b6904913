//! Names: which crate and controller names are valid, and how one name becomes another
//! (`chat_room` -> `ChatRoomController`, `chat-server` -> `chat_server`).

use anyhow::bail;
use heck::{ToSnakeCase, ToUpperCamelCase};

/// Strict and reserved keywords of edition 2024: none can name a crate or a module.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Crates every program links (a package of that name cannot build) and the generated app's own
/// dependencies (its library would shadow them).
const TAKEN_CRATE_NAMES: &[&str] = &[
    "alloc",
    "core",
    "proc_macro",
    "std",
    "test",
    "tokio",
    "tracing",
    "ws_core",
    "ws_macros",
];

/// Names Windows reserves for devices: such a folder cannot be checked out there.
const WINDOWS_RESERVED: &[&str] = &[
    "aux", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8", "com9", "con", "lpt1",
    "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9", "nul", "prn",
];

/// Validates a package name the way cargo does and returns its crate name (`-` -> `_`).
pub(crate) fn crate_name(package: &str) -> anyhow::Result<String> {
    let why = |reason: &str| -> anyhow::Result<String> {
        bail!("`{package}` cannot be the app's name: {reason}")
    };
    let Some(first) = package.chars().next() else {
        return why("it is empty");
    };
    if !first.is_ascii_alphabetic() {
        return why("it must start with a letter (a-z, A-Z)");
    }
    if let Some(bad) = package
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return why(&format!(
            "`{bad}` is not allowed; use letters, digits, `-` and `_`"
        ));
    }
    if package.len() > 64 {
        return why("it is longer than 64 characters");
    }
    let crate_name = package.replace('-', "_");
    let lower = crate_name.to_ascii_lowercase();
    if KEYWORDS.contains(&crate_name.as_str()) {
        return why("it is a Rust keyword");
    }
    if TAKEN_CRATE_NAMES.contains(&lower.as_str()) {
        return why(&format!(
            "a crate named `{lower}` is already part of every ws-core app"
        ));
    }
    if WINDOWS_RESERVED.contains(&lower.as_str()) {
        return why("Windows reserves it for a device");
    }
    Ok(crate_name)
}

/// A controller's names, from what the user typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ControllerName {
    /// `chat_room`: the module, file and test names.
    pub(crate) module: String,
    /// `ChatRoomController`: the struct.
    pub(crate) type_name: String,
}

impl ControllerName {
    /// `chat_room`, `chat-room`, `ChatRoom` and `ChatRoomController` all give `chat_room` and
    /// `ChatRoomController`. Words are split by `heck`, the rule of `#[controller]`'s default
    /// prefix (`HTTPStats` -> `http_stats`).
    pub(crate) fn parse(input: &str) -> anyhow::Result<Self> {
        let why = |reason: &str| -> anyhow::Result<Self> {
            bail!("`{input}` cannot be a controller name: {reason}")
        };
        let Some(first) = input.chars().next() else {
            return why("it is empty");
        };
        if !first.is_ascii_alphabetic() {
            return why("it must start with a letter (a-z, A-Z)");
        }
        if let Some(bad) = input
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return why(&format!(
                "`{bad}` is not allowed; use letters, digits, `-` and `_`"
            ));
        }
        // Checked before the conversion, which would quietly merge `a__b` into `a_b`.
        let words = input.replace('-', "_");
        if words.contains("__") || words.ends_with('_') {
            return why("its words must be separated by exactly one `_` or `-`");
        }
        let snake = words.to_snake_case();
        let module = match snake.strip_suffix("_controller") {
            Some(base) if !base.is_empty() => base.to_string(),
            _ => snake,
        };
        if KEYWORDS.contains(&module.as_str()) {
            return why(&format!(
                "`{module}` is a Rust keyword and cannot name a module"
            ));
        }
        let type_name = format!("{}Controller", module.to_upper_camel_case());
        Ok(Self { module, type_name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_names_follow_cargo() {
        assert_eq!(crate_name("chat-server").expect("accepted"), "chat_server");
        assert_eq!(crate_name("App2").expect("accepted"), "App2");
        for (bad, reason) in [
            ("", "empty"),
            ("1abc", "start with a letter"),
            ("-x", "start with a letter"),
            ("_x", "start with a letter"),
            ("my app", "` ` is not allowed"),
            ("a.b", "`.` is not allowed"),
            ("fn", "keyword"),
            ("self", "keyword"),
            ("test", "already part"),
            ("ws-core", "already part"),
            ("Tokio", "already part"),
            ("con", "Windows"),
        ] {
            let err = crate_name(bad).expect_err("refused").to_string();
            assert!(err.contains(reason), "{bad:?}: {err}");
            assert!(err.starts_with(&format!("`{bad}` cannot be the app's name")));
        }
    }

    #[test]
    fn controller_names_in_every_spelling() {
        for input in [
            "chat_room",
            "chat-room",
            "ChatRoom",
            "chatRoom",
            "ChatRoomController",
            "chat_room_controller",
        ] {
            assert_eq!(
                ControllerName::parse(input).expect("accepted"),
                ControllerName {
                    module: "chat_room".into(),
                    type_name: "ChatRoomController".into(),
                },
                "{input}"
            );
        }
        let http = ControllerName::parse("HTTPStats").expect("accepted");
        assert_eq!(
            (http.module.as_str(), http.type_name.as_str()),
            ("http_stats", "HttpStatsController")
        );
        let plain = ControllerName::parse("controller").expect("accepted");
        assert_eq!(plain.type_name, "ControllerController");
    }

    #[test]
    fn bad_controller_names() {
        for (bad, reason) in [
            ("1abc", "start with a letter"),
            ("fn", "keyword"),
            ("Fn", "keyword"),
            ("mod_controller", "keyword"),
            ("a__b", "exactly one"),
            ("chat_room_", "exactly one"),
            ("chat--room", "exactly one"),
            ("a/b", "`/` is not allowed"),
            ("", "empty"),
        ] {
            let err = ControllerName::parse(bad).expect_err("refused").to_string();
            assert!(err.contains(reason), "{bad:?}: {err}");
        }
    }
}
