//! Templates: files under `ws-cli/templates/`, embedded in the binary, with `{{key}}` holes.
//!
//! The engine is deliberately tiny: `{{key}}` (a lower-case identifier, spaces allowed inside
//! the braces) is replaced by its value; anything else, including Rust's own `{{` escapes in
//! format strings, passes through untouched. An unknown key is an error, so a typo in a template
//! fails the unit tests instead of reaching a user's file.

use anyhow::bail;

/// One file to generate: where it goes (relative to the app root) and its template text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Template {
    pub(crate) to: &'static str,
    pub(crate) body: &'static str,
}

macro_rules! template {
    ($to:literal, $file:literal) => {
        Template {
            to: $to,
            body: include_str!(concat!("../../templates/", $file)),
        }
    };
}

/// The files of `ws-cli new`. Template files end in `.t` so that no tool mistakes them for the
/// real thing (a `Cargo.toml` under `templates/` would be taken for a package by `cargo package`).
pub(crate) const APP: &[Template] = &[
    template!("Cargo.toml", "app/Cargo.toml.t"),
    template!("config/server.toml", "app/config/server.toml.t"),
    template!(".env.example", "app/env.example.t"),
    template!(".gitignore", "app/gitignore.t"),
    template!("README.md", "app/README.md.t"),
    template!("src/lib.rs", "app/src/lib.rs.t"),
    template!("src/main.rs", "app/src/main.rs.t"),
    template!("src/controller/mod.rs", "app/src/controller/mod.rs.t"),
    template!(
        "src/controller/websocket.rs",
        "app/src/controller/websocket.rs.t"
    ),
    template!("src/controller/server.rs", "app/src/controller/server.rs.t"),
    template!("tests/app.rs", "app/tests/app.rs.t"),
];

/// `gen:controller --ws`: the controller and its test (`{{module}}` in the paths).
pub(crate) const WS_CONTROLLER: [Template; 2] = [
    template!("src/controller/{{module}}.rs", "controller/ws.rs.t"),
    template!("tests/{{module}}.rs", "controller/ws_test.rs.t"),
];

/// `gen:controller --http`: the controller and its test.
pub(crate) const HTTP_CONTROLLER: [Template; 2] = [
    template!("src/controller/{{module}}.rs", "controller/http.rs.t"),
    template!("tests/{{module}}.rs", "controller/http_test.rs.t"),
];

/// The values of a template's holes.
#[derive(Debug, Default, Clone)]
pub(crate) struct Vars(Vec<(&'static str, String)>);

impl Vars {
    pub(crate) fn set(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.0.retain(|(k, _)| *k != key);
        self.0.push((key, value.into()));
        self
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Replaces every `{{key}}` of `text` by its value in `vars`.
pub(crate) fn render(text: &str, vars: &Vars) -> anyhow::Result<String> {
    let mut out = String::with_capacity(text.len() + 256);
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let key = after[..end].trim();
        if !is_key(key) {
            // Not a hole (e.g. `format!("{{{x}}}")`): keep the braces and move past them.
            out.push_str(&rest[..start + 2]);
            rest = after;
            continue;
        }
        let Some(value) = vars.get(key) else {
            bail!("template hole `{{{{{key}}}}}` has no value");
        };
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_key(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `text` as a TOML basic string, quotes included.
pub(crate) fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_holes_and_leaves_other_braces_alone() {
        let vars = Vars::default().set("name", "chat").set("n", "2");
        let text = "x {{name}} {{ n }} format!(\"{{{{}}}}\") {x} {{Name}} {{";
        assert_eq!(
            render(text, &vars).expect("accepted"),
            "x chat 2 format!(\"{{{{}}}}\") {x} {{Name}} {{"
        );
    }

    #[test]
    fn an_unknown_hole_is_an_error() {
        let err = render("a {{nope}} b", &Vars::default()).expect_err("refused");
        assert_eq!(err.to_string(), "template hole `{{nope}}` has no value");
    }

    #[test]
    fn later_values_replace_earlier_ones() {
        let vars = Vars::default().set("a", "1").set("a", "2");
        assert_eq!(render("{{a}}", &vars).expect("accepted"), "2");
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
        assert_eq!(toml_string("/tmp/x"), "\"/tmp/x\"");
    }
}
