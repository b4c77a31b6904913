//! Who the client is: the socket's peer, or — when that peer is a trusted proxy — the address
//! the proxy forwarded.
//!
//! A forwarding header is a list every proxy appends to, so anything left of the last proxy
//! may have been written by the client itself. The header is therefore read from the right:
//! hops that are trusted proxies are skipped, and the first hop that is not one is the client.
//! A connection from an untrusted peer is never asked: its headers say what it likes.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;

use crate::config::{ForwardedHeader, TrustedProxy, canonical};

/// The client address of a request that arrived from `peer` with `headers`.
pub(crate) fn client_addr(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[TrustedProxy],
    header: ForwardedHeader,
) -> IpAddr {
    let peer = canonical(peer);
    let is_trusted = |addr: IpAddr| trusted.iter().any(|proxy| proxy.contains(addr));
    if trusted.is_empty() || !is_trusted(peer) {
        return peer;
    }
    let name = match header {
        ForwardedHeader::XForwardedFor => "x-forwarded-for",
        ForwardedHeader::Forwarded => "forwarded",
    };
    // Several header lines form one list, in order (RFC 9110 §5.3).
    let hops: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let parsed = match header {
            ForwardedHeader::XForwardedFor => parse_node(hop),
            ForwardedHeader::Forwarded => forwarded_for(hop).and_then(parse_node),
        };
        // An unparsable hop (`unknown`, an obfuscated name, garbage) ends the walk: the trusted
        // proxy that passed it on is the last address known for certain.
        let Some(hop) = parsed else { break };
        client = canonical(hop);
        if !is_trusted(client) {
            break;
        }
    }
    client
}

/// The `for=` value of one `Forwarded` element (`for=192.0.2.60;proto=http;by=203.0.113.43`).
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Some(addr);
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    text.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(name, value.parse().unwrap());
        }
        map
    }

    fn trusted(list: &[&str]) -> Vec<TrustedProxy> {
        list.iter().map(|p| p.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let h = headers("x-forwarded-for", &["203.0.113.9"]);
        let xff = ForwardedHeader::XForwardedFor;
        assert_eq!(
            client_addr(ip("198.51.100.1"), &h, &[], xff),
            ip("198.51.100.1")
        );
        let t = trusted(&["10.0.0.0/8"]);
        assert_eq!(
            client_addr(ip("198.51.100.1"), &h, &t, xff),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_wins() {
        let t = trusted(&["10.0.0.0/8", "127.0.0.1"]);
        let xff = ForwardedHeader::XForwardedFor;
        // The client wrote `1.1.1.1` itself; nginx appended the address it saw.
        let h = headers("x-forwarded-for", &["1.1.1.1, 203.0.113.9", "10.0.0.2"]);
        assert_eq!(client_addr(ip("127.0.0.1"), &h, &t, xff), ip("203.0.113.9"));
        // No header: the proxy itself.
        assert_eq!(
            client_addr(ip("10.0.0.1"), &HeaderMap::new(), &t, xff),
            ip("10.0.0.1")
        );
        // Every hop trusted: the leftmost.
        let h = headers("x-forwarded-for", &["10.0.0.7:5000, 10.0.0.2"]);
        assert_eq!(client_addr(ip("127.0.0.1"), &h, &t, xff), ip("10.0.0.7"));
        // Garbage ends the walk at the last address known.
        let h = headers("x-forwarded-for", &["203.0.113.9, unknown, 10.0.0.2"]);
        assert_eq!(client_addr(ip("127.0.0.1"), &h, &t, xff), ip("10.0.0.2"));
    }

    #[test]
    fn rfc_7239_forwarded() {
        let t = trusted(&["127.0.0.1"]);
        let h = headers(
            "forwarded",
            &[r#"for=192.0.2.43, For="[2001:db8:cafe::17]:4711";proto=https"#],
        );
        let fwd = ForwardedHeader::Forwarded;
        assert_eq!(
            client_addr(ip("127.0.0.1"), &h, &t, fwd),
            ip("2001:db8:cafe::17")
        );
        // The other header is not read.
        let xff = headers("x-forwarded-for", &["192.0.2.43"]);
        assert_eq!(client_addr(ip("127.0.0.1"), &xff, &t, fwd), ip("127.0.0.1"));
        let hidden = headers("forwarded", &["for=_hidden"]);
        assert_eq!(
            client_addr(ip("127.0.0.1"), &hidden, &t, fwd),
            ip("127.0.0.1")
        );
    }
}
