//! Settings about who a client is: the proxies whose forwarding headers are believed, and which
//! header they write.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One entry of `trusted_proxies`: an address (`10.0.0.5`, `::1`) or a CIDR block
/// (`10.0.0.0/8`, `fd00::/8`) whose connections may say which client they forward.
///
/// ```
/// use ws_core::TrustedProxy;
///
/// let proxies: TrustedProxy = "10.0.0.0/8".parse().unwrap();
/// assert!(proxies.contains("10.1.2.3".parse().unwrap()));
/// assert!(!proxies.contains("192.0.2.1".parse().unwrap()));
/// assert!("10.0.0.0/33".parse::<TrustedProxy>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy(IpNet);

impl TrustedProxy {
    /// Whether `addr` is this proxy (or inside this block). An IPv4 address mapped into IPv6
    /// (`::ffff:10.0.0.5`, as a dual-stack socket reports it) matches its IPv4 block.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.contains(&canonical(addr))
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`: a dual-stack listener reports IPv4 peers that way.
pub(crate) fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Why a `trusted_proxies` entry did not parse.
#[derive(Debug, Clone, thiserror::Error)]
#[error("`{0}` is not an IP address or CIDR block (e.g. `10.0.0.5`, `10.0.0.0/8`, `fd00::/8`)")]
pub struct TrustedProxyError(String);

impl FromStr for TrustedProxy {
    type Err = TrustedProxyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Ok(net) = text.parse::<IpNet>() {
            // `10.1.2.3/8` means the block `10.0.0.0/8`; nobody writes host bits on purpose.
            return Ok(Self(net.trunc()));
        }
        text.parse::<IpAddr>()
            .map(|addr| Self(IpNet::from(canonical(addr))))
            .map_err(|_| TrustedProxyError(text.to_string()))
    }
}

impl fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A single address prints without its `/32` or `/128`, as it was most likely written.
        if self.0.prefix_len() == self.0.max_prefix_len() {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl Serialize for TrustedProxy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TrustedProxy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Which header a trusted proxy names the client in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx's `$proxy_add_x_forwarded_for`).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_blocks_parse() {
        let one: TrustedProxy = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(one.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert_eq!(one.to_string(), "127.0.0.1");
        let block: TrustedProxy = "10.9.8.7/8".parse().unwrap();
        assert_eq!(block.to_string(), "10.0.0.0/8");
        let v6: TrustedProxy = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        for bad in ["", "10.0.0.0/33", "nginx", "10.0.0"] {
            assert!(bad.parse::<TrustedProxy>().is_err(), "{bad}");
        }
    }
}
