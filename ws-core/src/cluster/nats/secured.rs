//! How a NATS node proves itself to its server: the URL's credentials and TLS.
//!
//! async-nats reads no credentials from a URL: `nats://app:s3cret@host` used to connect with
//! none, and the server's "authorization violation" was all one saw. So the userinfo is taken
//! out of the URL here and handed to the client's own options: `USER:PASSWORD` as user and
//! password, a lone `TOKEN` as a token (percent-decoded, as URLs carry them).

use async_nats::ConnectOptions;
use percent_encoding::percent_decode_str;

use crate::cluster::tls;
use crate::config::ClusterConfig;
use crate::error::ClusterError;

/// What the client connects with: the URL without its userinfo and the options carrying it.
pub(super) fn secure(
    config: &ClusterConfig,
    masked_url: &str,
    options: ConnectOptions,
) -> Result<(String, ConnectOptions), ClusterError> {
    let (url, credentials) =
        split_credentials(&config.url).map_err(|reason| ClusterError::BadUrl {
            broker: "NATS",
            url: masked_url.to_string(),
            reason,
        })?;
    let options = match credentials {
        Some(Credentials::UserPassword(user, password)) => {
            options.user_and_password(user, password)
        }
        Some(Credentials::Token(token)) => options.token(token),
        None => options,
    };
    let options = match tls::load(config, "NATS", masked_url)? {
        Some(tls) => options
            .require_tls(true)
            .tls_client_config(tls.client_config),
        None => options,
    };
    Ok((url, options))
}

/// The userinfo of a NATS URL.
#[derive(Debug, PartialEq, Eq)]
enum Credentials {
    UserPassword(String, String),
    Token(String),
}

/// `url` without its userinfo, and the userinfo. It ends at the last `@`, as
/// [`mask_url`](crate::secret::mask_url) reads it, so an unescaped `@` in a password stays in
/// the password.
fn split_credentials(url: &str) -> Result<(String, Option<Credentials>), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok((url.to_string(), None));
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return Ok((url.to_string(), None));
    };
    let decode = |part: &str, what: &str| {
        percent_decode_str(part)
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
            .map_err(|_| format!("the {what} is not UTF-8 once percent-decoded"))
    };
    let credentials = match userinfo.split_once(':') {
        Some((user, password)) => {
            Credentials::UserPassword(decode(user, "user")?, decode(password, "password")?)
        }
        None => Credentials::Token(decode(userinfo, "token")?),
    };
    Ok((format!("{scheme}://{host}"), Some(credentials)))
}

#[cfg(test)]
mod tests {
    use super::{Credentials, split_credentials};

    #[test]
    fn user_and_password_leave_the_url() {
        assert_eq!(
            split_credentials("nats://app:s%40cret@127.0.0.1:4222").unwrap(),
            (
                "nats://127.0.0.1:4222".to_string(),
                Some(Credentials::UserPassword("app".into(), "s@cret".into()))
            )
        );
        assert_eq!(
            split_credentials("nats://app:p@ss@host:4222").unwrap().1,
            Some(Credentials::UserPassword("app".into(), "p@ss".into()))
        );
    }

    #[test]
    fn a_lone_userinfo_is_a_token() {
        assert_eq!(
            split_credentials("nats://s3cr3t@host:4222").unwrap(),
            (
                "nats://host:4222".to_string(),
                Some(Credentials::Token("s3cr3t".into()))
            )
        );
    }

    #[test]
    fn a_url_without_userinfo_is_kept() {
        assert_eq!(
            split_credentials("nats://127.0.0.1:4222").unwrap(),
            ("nats://127.0.0.1:4222".to_string(), None)
        );
    }
}
