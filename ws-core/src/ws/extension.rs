//! `Sec-WebSocket-Extensions` (RFC 6455 §9.1) and the permessage-deflate negotiation
//! (RFC 7692 §5, §7.1): the client's offers in its order, the first one the server can honour
//! accepted, the agreed parameters answered.

use http::HeaderMap;
use http::header::SEC_WEBSOCKET_EXTENSIONS;

use crate::config::CompressionSettings;
use crate::ws::codec::Params;
use crate::ws::handshake::Rejection;

/// The extension's registered name.
const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// One offered extension: its name and parameters, values unquoted.
type Offer<'a> = (&'a str, Vec<(&'a str, Option<String>)>);

/// The agreed permessage-deflate parameters and the response header that states them; `None`
/// when compression is off or no offer can be honoured (the connection goes on uncompressed).
/// A header that does not parse is a 400.
pub(crate) fn negotiate(
    headers: &HeaderMap,
    settings: &CompressionSettings,
) -> Result<Option<(Params, String)>, Rejection> {
    let mut offers = Vec::new();
    for value in headers.get_all(SEC_WEBSOCKET_EXTENSIONS) {
        let text = value
            .to_str()
            .map_err(|_| malformed("is not visible ASCII"))?;
        parse_list(text, &mut offers).map_err(malformed)?;
    }
    if !settings.enabled {
        return Ok(None);
    }
    Ok(offers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .find_map(|(_, params)| accept(params, settings)))
}

fn malformed(why: &str) -> Rejection {
    Rejection::bad_request(format!(
        "malformed Sec-WebSocket-Extensions header: {why}\n"
    ))
}

/// Whether `c` may appear in a token (RFC 7230 §3.2.6).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A token at the start of `rest`; the rest after it.
fn token(rest: &str) -> Result<(&str, &str), &'static str> {
    let end = rest.find(|c| !is_token_char(c)).unwrap_or(rest.len());
    if end == 0 {
        return Err("a name or value is missing or has a character a token cannot have");
    }
    Ok((&rest[..end], &rest[end..]))
}

/// A quoted string at the start of `rest` (which begins with `"`): its unescaped text and the
/// rest after it.
fn quoted(rest: &str) -> Result<(String, &str), &'static str> {
    let mut value = String::new();
    let mut chars = rest.char_indices().skip(1);
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &rest[at + 1..])),
            '\\' => match chars.next() {
                Some((_, escaped)) => value.push(escaped),
                None => break,
            },
            c => value.push(c),
        }
    }
    Err("a quoted value is not terminated")
}

/// Appends the extensions of one header value (`name; param=value, name2`) to `offers`.
fn parse_list<'a>(text: &'a str, offers: &mut Vec<Offer<'a>>) -> Result<(), &'static str> {
    let mut rest = text.trim_start_matches([' ', '\t']);
    while !rest.is_empty() {
        // Empty list elements are allowed (RFC 7230 §7).
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start_matches([' ', '\t']);
            continue;
        }
        let (name, after) = token(rest)?;
        rest = after.trim_start_matches([' ', '\t']);
        let mut params = Vec::new();
        while let Some(after) = rest.strip_prefix(';') {
            let (param, after) = token(after.trim_start_matches([' ', '\t']))?;
            rest = after.trim_start_matches([' ', '\t']);
            let mut value = None;
            if let Some(after) = rest.strip_prefix('=') {
                let after = after.trim_start_matches([' ', '\t']);
                let (text, after) = if after.starts_with('"') {
                    quoted(after)?
                } else {
                    let (text, after) = token(after)?;
                    (text.to_owned(), after)
                };
                value = Some(text);
                rest = after.trim_start_matches([' ', '\t']);
            }
            params.push((param, value));
        }
        offers.push((name, params));
        match rest.strip_prefix(',') {
            Some(after) => rest = after.trim_start_matches([' ', '\t']),
            None if rest.is_empty() => {}
            None => return Err("extensions are not separated by commas"),
        }
    }
    Ok(())
}

/// What a server's `Sec-WebSocket-Extensions` answer agreed, read by a client (RFC 7692 §7.1):
/// `Ok(None)` when it names no permessage-deflate, an error when the answer is malformed or has
/// a parameter a server may not answer with (the client then fails the connection, §5).
pub(crate) fn agreed_by_server(answer: &str) -> Result<Option<Params>, &'static str> {
    let mut answered = Vec::new();
    parse_list(answer, &mut answered)?;
    let Some((_, agreed)) = answered
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
    else {
        return Ok(None);
    };
    let mut params = Params {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    let invalid_bits = "a window size outside 8-15";
    for (name, value) in agreed {
        match (name.to_ascii_lowercase().as_str(), value.as_deref()) {
            ("server_no_context_takeover", None) => params.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => params.client_no_context_takeover = true,
            ("server_max_window_bits", Some(bits)) => {
                params.server_max_window_bits = window_bits(bits).ok_or(invalid_bits)?;
            }
            ("client_max_window_bits", Some(bits)) => {
                params.client_max_window_bits = window_bits(bits).ok_or(invalid_bits)?;
            }
            _ => return Err("a parameter permessage-deflate does not define"),
        }
    }
    Ok(Some(params))
}

/// Window bits as RFC 7692 §7.1.2 writes them: 8 to 15, no leading zero.
fn window_bits(value: &str) -> Option<u8> {
    match value.as_bytes() {
        [b'8'..=b'9'] | [b'1', b'0'..=b'5'] => value.parse().ok(),
        _ => None,
    }
}

/// The agreed parameters for one offer and the response stating them; `None` to decline it.
fn accept(
    offered: &[(&str, Option<String>)],
    settings: &CompressionSettings,
) -> Option<(Params, String)> {
    let mut server_no_context_takeover = settings.server_no_context_takeover;
    let mut client_no_context_takeover = settings.client_no_context_takeover;
    let mut server_bits = None;
    let mut client_bits = None;
    let mut seen = Vec::with_capacity(offered.len());
    for (name, value) in offered {
        let name = name.to_ascii_lowercase();
        // A parameter given twice declines the offer (RFC 7692 §7).
        if seen.contains(&name) {
            return None;
        }
        match (name.as_str(), value.as_deref()) {
            ("server_no_context_takeover", None) => server_no_context_takeover = true,
            ("client_no_context_takeover", None) => client_no_context_takeover = true,
            ("server_max_window_bits", Some(value)) => server_bits = Some(window_bits(value)?),
            ("client_max_window_bits", None) => client_bits = Some(None),
            ("client_max_window_bits", Some(value)) => {
                client_bits = Some(Some(window_bits(value)?));
            }
            // An unknown parameter, or a value where none belongs: declined.
            _ => return None,
        }
        seen.push(name);
    }
    let server_max_window_bits = server_bits
        .unwrap_or(15)
        .min(settings.server_max_window_bits);
    // The client may be limited only when it offered to take a limit (§7.1.2.2).
    let client_max_window_bits = match client_bits {
        None => 15,
        Some(offered) => offered.unwrap_or(15).min(settings.client_max_window_bits),
    };
    let params = Params {
        server_no_context_takeover,
        client_no_context_takeover,
        server_max_window_bits,
        client_max_window_bits,
    };
    let mut response = String::from(PERMESSAGE_DEFLATE);
    if server_no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    if client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    if server_bits.is_some() || server_max_window_bits < 15 {
        response.push_str(&format!(
            "; server_max_window_bits={server_max_window_bits}"
        ));
    }
    if client_bits.is_some() && client_max_window_bits < 15 {
        response.push_str(&format!(
            "; client_max_window_bits={client_max_window_bits}"
        ));
    }
    Some((params, response))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(values: &[&str], settings: &CompressionSettings) -> Result<Option<String>, u16> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                SEC_WEBSOCKET_EXTENSIONS,
                value.parse().expect("a header value"),
            );
        }
        negotiate(&headers, settings)
            .map(|agreed| agreed.map(|(_, response)| response))
            .map_err(|rejection| rejection.status().as_u16())
    }

    #[test]
    fn the_first_offer_the_server_can_honour_is_accepted() {
        let defaults = CompressionSettings::default();
        let both = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
        let cases: Vec<(&[&str], Option<String>)> = vec![
            (&[], None),
            (&["x-webkit-deflate-frame"], None),
            // What Chromium sends.
            (
                &["permessage-deflate; client_max_window_bits"],
                Some(both.into()),
            ),
            (
                &["permessage-deflate; server_max_window_bits=10"],
                Some(format!("{both}; server_max_window_bits=10")),
            ),
            (
                &["permessage-deflate; client_max_window_bits=9"],
                Some(format!("{both}; client_max_window_bits=9")),
            ),
            // Declined offers fall through to the next, in the client's order.
            (
                &[
                    "permessage-deflate; unknown_param",
                    "permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits=08",
                    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                    "permessage-deflate; server_max_window_bits=\"12\"",
                ],
                Some(format!("{both}; server_max_window_bits=12")),
            ),
            (&["permessage-deflate; client_no_context_takeover=1"], None),
            (&["permessage-deflate; server_max_window_bits"], None),
        ];
        for (values, expected) in cases {
            assert_eq!(offer(values, &defaults), Ok(expected), "{values:?}");
        }
    }

    #[test]
    fn settings_shape_the_answer() {
        let takeover = CompressionSettings {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            client_max_window_bits: 10,
            ..CompressionSettings::default()
        };
        assert_eq!(
            offer(&["permessage-deflate; client_max_window_bits"], &takeover),
            Ok(Some("permessage-deflate; client_max_window_bits=10".into()))
        );
        // A client's own request for no context takeover is honoured whatever the settings.
        assert_eq!(
            offer(
                &["permessage-deflate; server_no_context_takeover"],
                &takeover
            ),
            Ok(Some(
                "permessage-deflate; server_no_context_takeover".into()
            ))
        );
        let off = CompressionSettings {
            enabled: false,
            ..CompressionSettings::default()
        };
        assert_eq!(offer(&["permessage-deflate"], &off), Ok(None));
    }

    #[test]
    fn a_malformed_header_is_a_400() {
        let defaults = CompressionSettings::default();
        for value in [
            "permessage-deflate;",
            "permessage-deflate; =1",
            "permessage-deflate; a=\"open",
            "permessage-deflate x",
            ";",
            "permessage-deflate; server_max_window_bits=",
        ] {
            assert_eq!(offer(&[value], &defaults), Err(400), "{value}");
        }
    }

    #[test]
    fn a_client_reads_what_the_server_agreed() {
        let agreed = agreed_by_server(
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
        )
        .expect("valid")
        .expect("agreed");
        assert!(agreed.server_no_context_takeover);
        assert!(!agreed.client_no_context_takeover);
        assert_eq!(
            (agreed.server_max_window_bits, agreed.client_max_window_bits),
            (15, 10)
        );
        let mine = agreed.seen_by_client();
        assert_eq!(mine.server_max_window_bits, 10);
        assert!(mine.client_no_context_takeover);
        assert_eq!(agreed_by_server("x-other"), Ok(None));
        for invalid in [
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; unknown",
            "permessage-deflate;",
        ] {
            assert!(agreed_by_server(invalid).is_err(), "{invalid}");
        }
    }
}
