//! Secrets kept out of logs, errors and printed configs.

/// `url` with its userinfo masked: `redis://app:secret@host` becomes `redis://app:***@host`.
///
/// The userinfo ends at the *last* `@`: clients take everything before it as the user and
/// password (a password may hold an unescaped `@`), so splitting at the first one would print
/// the password's tail. Splitting at the last `@` of the whole URL also covers passwords that
/// hold an unescaped `/`, `?` or `#`, which a parser that stops the authority there would
/// print whole; an `@` in a query is the price, masking more than needed and never less.
/// A userinfo without `:` is masked whole, since NATS reads it as a token
/// (`nats://TOKEN@host`).
pub(crate) fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => format!("{scheme}://***@{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::mask_url;

    #[test]
    fn the_password_is_masked() {
        assert_eq!(
            mask_url("redis://app:secret@127.0.0.1:6379/0"),
            "redis://app:***@127.0.0.1:6379/0"
        );
        assert_eq!(mask_url("rediss://:secret@host"), "rediss://:***@host");
    }

    #[test]
    fn a_password_may_hold_at_signs_and_delimiters() {
        assert_eq!(
            mask_url("redis://app:p@ss@host:6379"),
            "redis://app:***@host:6379"
        );
        assert_eq!(mask_url("redis://app:a/b?c#d@host"), "redis://app:***@host");
        for password in ["p@ss", "a/b@c", "x?y#z", "::", "@"] {
            let masked = mask_url(&format!("nats://user:{password}@host:4222"));
            assert_eq!(masked, "nats://user:***@host:4222", "{password}");
        }
    }

    #[test]
    fn a_lone_userinfo_is_a_token() {
        assert_eq!(mask_url("nats://s3cr3t@host:4222"), "nats://***@host:4222");
    }

    #[test]
    fn urls_without_userinfo_are_unchanged() {
        for url in [
            "memory://",
            "nats://127.0.0.1:4222",
            "redis://host/0",
            "not a url",
        ] {
            assert_eq!(mask_url(url), url);
        }
    }
}
