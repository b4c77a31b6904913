//! The literal values attributes take, refused as they are read when they cannot be what they
//! name: route paths, server names, subprotocols, config keys, HTTP methods.
//!
//! A refused value is still returned: the item has an error either way, and keeping the value
//! lets the checks that follow look at the rest of the item (serde's `attr.rs` reads and
//! refuses attribute values the same way).

use proc_macro2::Span;
use syn::LitStr;

use crate::errors::Errors;

/// The HTTP methods a route may name.
pub(crate) const HTTP_METHODS: &[&str] =
    &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// A route path or prefix: starts with `/`, no whitespace, balanced `{param}`s. `what` names
/// the value in messages (`` `path` ``, `a route path`).
pub(crate) fn validate_path(lit: &LitStr, what: &str, errors: &mut Errors) {
    let path = lit.value();
    if !path.starts_with('/') {
        errors.at(
            lit,
            format!(
                "{what} must start with `/`, e.g. \"/{}\"",
                path.trim_start_matches('/')
            ),
        );
        return;
    }
    if path.chars().any(char::is_whitespace) {
        errors.at(lit, format!("{what} must not contain whitespace"));
        return;
    }
    let mut open = false;
    for c in path.chars() {
        match (c, open) {
            ('{', false) => open = true,
            ('}', true) => open = false,
            ('{', true) | ('}', false) => {
                errors.at(
                    lit,
                    format!("{what} has unbalanced braces; path parameters are written `{{name}}`"),
                );
                return;
            }
            _ => {}
        }
    }
    if open {
        errors.at(
            lit,
            format!("{what} has an unclosed `{{`; path parameters are written `{{name}}`"),
        );
    }
}

/// A `server` names a `[[servers]]` entry: one word.
pub(crate) fn validate_server(server: &LitStr, errors: &mut Errors) {
    let name = server.value();
    if name.trim().is_empty() || name.chars().any(char::is_whitespace) {
        errors.at(
            server,
            "`server` names a `[[servers]]` entry of server.toml, e.g. \"ws\"",
        );
    }
}

/// Subprotocol names are HTTP tokens (RFC 6455 §4.1, RFC 9110 §5.6.2), each listed once.
pub(crate) fn validate_protocols(protocols: &[LitStr], errors: &mut Errors) {
    let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    for (i, protocol) in protocols.iter().enumerate() {
        let name = protocol.value();
        if name.is_empty() || !name.chars().all(is_tchar) {
            errors.at(protocol, "a subprotocol is a non-empty token without spaces, commas or quotes, e.g. \"chat.v1\"");
        } else if protocols[..i].iter().any(|p| p.value() == name) {
            errors.at(protocol, format!("duplicate subprotocol \"{name}\""));
        }
    }
}

/// `#[value]` keys name a value of the `[app]` table of server.toml by its full dotted path;
/// `false` if `key` does not.
pub(crate) fn validate_config_key(key: &LitStr, errors: &mut Errors) -> bool {
    let text = key.value();
    let ok = text.strip_prefix("app.").is_some_and(|rest| {
        !rest.is_empty() && rest.split('.').all(|part| !part.trim().is_empty())
    });
    if !ok {
        errors.at(
            key,
            format!(
                "`#[value]` reads the `[app]` table of server.toml: write the full dotted key, e.g. \"app.{}\"",
                text.trim_start_matches("app.").trim_matches('.')
            ),
        );
    }
    ok
}

/// The `methods = [..]` of a `#[route]`, upper-cased; unknown and repeated ones are refused and
/// left out. `span` is the list's, for an empty list.
pub(crate) fn http_methods(methods: &[LitStr], span: Span, errors: &mut Errors) -> Vec<String> {
    if methods.is_empty() {
        errors.at_span(
            span,
            "`methods` must name at least one HTTP method, e.g. `[\"GET\"]`",
        );
    }
    let mut names: Vec<String> = Vec::new();
    for method in methods {
        let name = method.value().to_ascii_uppercase();
        if !HTTP_METHODS.contains(&name.as_str()) {
            errors.at(
                method,
                format!(
                    "unknown HTTP method \"{}\"; expected one of {}",
                    method.value(),
                    HTTP_METHODS.join(", ")
                ),
            );
        } else if names.contains(&name) {
            errors.at(method, format!("duplicate method \"{name}\""));
        } else {
            names.push(name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(check: impl FnOnce(&mut Errors)) -> Vec<String> {
        let mut errors = Errors::default();
        check(&mut errors);
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn lit(value: &str) -> LitStr {
        LitStr::new(value, Span::call_site())
    }

    #[test]
    fn paths_start_with_a_slash_and_balance_their_braces() {
        for good in ["/", "/chat", "/room/{id}", "/a/{b}/c/{d}"] {
            assert!(errors_of(|e| validate_path(&lit(good), "`path`", e)).is_empty());
        }
        for (bad, why) in [
            ("chat", "must start with `/`, e.g. \"/chat\""),
            ("/a b", "must not contain whitespace"),
            ("/room/{id", "unclosed `{`"),
            ("/room/id}", "unbalanced braces"),
            ("/{{id}}", "unbalanced braces"),
        ] {
            let errors = errors_of(|e| validate_path(&lit(bad), "`path`", e));
            assert!(
                errors.len() == 1 && errors[0].contains(why),
                "{bad}: {errors:?}"
            );
        }
    }

    #[test]
    fn config_keys_are_full_dotted_paths_under_app() {
        for good in ["app.name", "app.db.url"] {
            let mut errors = Errors::default();
            assert!(validate_config_key(&lit(good), &mut errors));
            assert!(errors.is_empty());
        }
        for bad in ["name", "app.", "app", "app..x", "server.port"] {
            let mut errors = Errors::default();
            assert!(!validate_config_key(&lit(bad), &mut errors), "{bad}");
        }
    }

    #[test]
    fn http_methods_are_upper_cased_once_each() {
        let mut errors = Errors::default();
        let methods = [lit("get"), lit("Post"), lit("GET"), lit("FETCH")];
        let names = http_methods(&methods, Span::call_site(), &mut errors);
        assert_eq!(names, ["GET", "POST"]);
        let errors = errors_of(|e| {
            let _ = http_methods(&methods, Span::call_site(), e);
        });
        assert_eq!(errors.len(), 2);
        assert!(errors[0].contains("duplicate method \"GET\""));
        assert!(errors[1].contains("unknown HTTP method \"FETCH\""));
        assert!(
            errors_of(|e| {
                let _ = http_methods(&[], Span::call_site(), e);
            })[0]
                .contains("at least one")
        );
    }

    #[test]
    fn subprotocols_are_tokens_listed_once() {
        let errors = errors_of(|e| {
            validate_protocols(
                &[lit("chat.v1"), lit("chat v2"), lit(""), lit("chat.v1")],
                e,
            )
        });
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[2].contains("duplicate subprotocol \"chat.v1\""));
    }
}
