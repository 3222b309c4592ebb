//! Where Roster may connect: the outbound-address policy.
//!
//! A URL an admin or an IdP gives (a webhook endpoint, SAML metadata, an OIDC issuer and every
//! endpoint its discovery document names) must not turn Roster into a proxy into the network it
//! runs in. So an outbound URL must be plain `http(s)://host[:port]/...` without credentials, and
//! every address its host resolves to must be public. Non-public means the ranges of
//! [`NON_PUBLIC`]: loopback, private, link-local (cloud metadata), CGNAT, multicast, reserved,
//! and the IPv6 forms that embed an IPv4 address (mapped, NAT64) are judged by that address.
//!
//! The operator can open non-public ranges two ways: `allow_private` (the
//! `security.allow_private_network_urls` switch: all of them, for tests and trusted networks), or
//! a list of networks (`security.allowed_private_networks`, e.g. the subnet of an on-premises
//! ADFS) that opens exactly those.
//!
//! [`NetworkPolicy::check_address`] is the decision; the client calls it on every resolved
//! address at connect time ([`crate::Client`]), and [`NetworkPolicy::check_url`] lets a caller
//! refuse a URL early, when it is saved, with the same answer.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::str::FromStr;

use crate::OutboundError;

/// An IP network in CIDR notation (`10.1.2.0/24`, `fd00::/8`, or one address `127.0.0.1/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Self {
        Self {
            address: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
        }
    }

    const fn v6(segments: [u16; 8], prefix: u8) -> Self {
        let [a, b, c, d, e, f, g, h] = segments;
        Self {
            address: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
            prefix,
        }
    }

    /// Whether `ip` is in this network (an IPv4 network never contains an IPv6 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

impl FromStr for IpNetwork {
    type Err = OutboundError;

    /// `ADDRESS/PREFIX`, or a bare address (the network of that one address). The address must
    /// be the network's first one (`10.1.2.0/24`, not `10.1.2.3/24`), so a typo cannot open more
    /// than was meant.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |why: &str| {
            OutboundError::InvalidNetwork(format!(
                "{text:?} is not a network like 10.1.2.0/24 or fd00::/8: {why}"
            ))
        };
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let address: IpAddr = address.parse().map_err(|_| invalid("not an IP address"))?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| invalid(&format!("the prefix must be 0 to {bits}")))?,
            None => bits,
        };
        let network = Self { address, prefix };
        let first = match address {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(
                u32::from(v4) & u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0),
            )),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(
                u128::from(v6) & u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0),
            )),
        };
        if first != address {
            return Err(invalid(&format!(
                "the address has bits set past the prefix (did you mean {first}/{prefix}?)"
            )));
        }
        Ok(network)
    }
}

/// The address ranges that are not the public internet, with the name an error shows.
pub const NON_PUBLIC: [(IpNetwork, &str); 19] = [
    (IpNetwork::v4(0, 0, 0, 0, 8), "\"this network\""),
    (IpNetwork::v4(10, 0, 0, 0, 8), "private"),
    (IpNetwork::v4(100, 64, 0, 0, 10), "shared (CGNAT)"),
    (IpNetwork::v4(127, 0, 0, 0, 8), "loopback"),
    (IpNetwork::v4(169, 254, 0, 0, 16), "link-local"),
    (IpNetwork::v4(172, 16, 0, 0, 12), "private"),
    (IpNetwork::v4(192, 0, 0, 0, 24), "IETF protocol assignments"),
    (IpNetwork::v4(192, 168, 0, 0, 16), "private"),
    (IpNetwork::v4(198, 18, 0, 0, 15), "benchmarking"),
    (IpNetwork::v4(224, 0, 0, 0, 4), "multicast"),
    (IpNetwork::v4(240, 0, 0, 0, 4), "reserved"),
    (IpNetwork::v6([0, 0, 0, 0, 0, 0, 0, 0], 128), "unspecified"),
    (IpNetwork::v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "loopback"),
    (
        IpNetwork::v6([0, 0, 0, 0, 0, 0, 0, 0], 96),
        "IPv4-compatible",
    ),
    (
        IpNetwork::v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        "local NAT64",
    ),
    (
        IpNetwork::v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "unique local",
    ),
    (
        IpNetwork::v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        "link-local",
    ),
    (
        IpNetwork::v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        "site-local",
    ),
    (IpNetwork::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast"),
];

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`, which the
/// kernel connects over IPv4) and well-known-prefix NAT64 (`64:ff9b::a.b.c.d`).
fn embedded_v4(ip: IpAddr) -> Option<IpAddr> {
    let IpAddr::V6(v6) = ip else { return None };
    let nat64 = IpNetwork::v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(IpAddr::V4(v4));
    }
    if nat64.contains(ip) {
        let [.., a, b, c, d] = v6.octets();
        return Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
    }
    None
}

/// The non-public range `ip` is in, if any (judging an embedded IPv4 address by itself).
pub fn non_public_range(ip: IpAddr) -> Option<(IpNetwork, &'static str)> {
    let ip = embedded_v4(ip).unwrap_or(ip);
    NON_PUBLIC
        .iter()
        .find(|(network, _)| network.contains(ip))
        .copied()
}

/// Which non-public addresses Roster may connect to. The default allows none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    allow_private: bool,
    allowed_networks: Vec<IpNetwork>,
}

impl NetworkPolicy {
    /// Public addresses only.
    pub fn public_only() -> Self {
        Self::default()
    }

    /// `allow_private` opens every non-public range; otherwise only `allowed_networks` are.
    pub fn new(allow_private: bool, allowed_networks: Vec<IpNetwork>) -> Self {
        Self {
            allow_private,
            allowed_networks,
        }
    }

    /// Whether Roster may connect to `ip`; if not, the range that forbids it.
    pub fn check_address(&self, ip: IpAddr) -> Result<(), (IpNetwork, &'static str)> {
        let Some(range) = non_public_range(ip) else {
            return Ok(());
        };
        let candidates = [Some(ip), embedded_v4(ip)];
        let allowed = self.allow_private
            || self.allowed_networks.iter().any(|network| {
                candidates
                    .iter()
                    .flatten()
                    .any(|candidate| network.contains(*candidate))
            });
        if allowed {
            Ok(())
        } else {
            Err(range)
        }
    }

    /// Checks a URL's shape, resolves its host (blocking) and checks every address, so a caller
    /// can refuse a URL when it is saved. The client checks again when it connects.
    pub fn check_url(&self, url: &str) -> Result<(), OutboundError> {
        let uri: ureq::http::Uri = url
            .parse()
            .map_err(|_| OutboundError::InvalidUrl(url_shape_message()))?;
        let (host, port) = host_and_port(&uri)?;
        let addresses: Vec<_> = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|err| OutboundError::Unresolvable {
                host: host.clone(),
                message: err.to_string(),
            })?
            .collect();
        if addresses.is_empty() {
            return Err(OutboundError::Unresolvable {
                host,
                message: "no address".to_owned(),
            });
        }
        for address in addresses {
            self.check_address(address.ip())
                .map_err(|range| OutboundError::forbidden(&host, address.ip(), range))?;
        }
        Ok(())
    }
}

fn url_shape_message() -> String {
    "the URL must be http:// or https:// with a host and no credentials".to_owned()
}

/// The host (IPv6 literals without brackets) and port of an outbound URL, after the shape
/// checks: http or https, a host, no user name or password.
pub(crate) fn host_and_port(uri: &ureq::http::Uri) -> Result<(String, u16), OutboundError> {
    let default_port = match uri.scheme_str() {
        Some(scheme) if scheme.eq_ignore_ascii_case("https") => 443,
        Some(scheme) if scheme.eq_ignore_ascii_case("http") => 80,
        _ => return Err(OutboundError::InvalidUrl(url_shape_message())),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| OutboundError::InvalidUrl(url_shape_message()))?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return Err(OutboundError::InvalidUrl(url_shape_message()));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok((host, authority.port_u16().unwrap_or(default_port)))
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn non_public_ranges_by_address() {
        let table = [
            ("127.0.0.1", Some("loopback")),
            ("127.0.0.2", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.5.5", Some("private")),
            ("172.32.0.1", None),
            ("192.168.0.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("100.64.0.1", Some("shared (CGNAT)")),
            ("100.128.0.1", None),
            ("0.0.0.0", Some("\"this network\"")),
            ("198.19.255.255", Some("benchmarking")),
            ("224.0.0.1", Some("multicast")),
            ("255.255.255.255", Some("reserved")),
            ("8.8.8.8", None),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.0.0.1", Some("private")),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::169.254.169.254", Some("link-local")),
            ("64:ff9b::8.8.8.8", None),
            ("::127.0.0.1", Some("IPv4-compatible")),
            ("fd00::1", Some("unique local")),
            ("fe80::1", Some("link-local")),
            ("ff02::1", Some("multicast")),
            ("2001:4860:4860::8888", None),
        ];
        for (address, want) in table {
            assert_eq!(
                non_public_range(ip(address)).map(|(_, name)| name),
                want,
                "{address}"
            );
        }
    }

    #[test]
    fn the_policy_opens_all_private_ranges_or_only_the_listed_networks() {
        let strict = NetworkPolicy::public_only();
        let open = NetworkPolicy::new(true, vec![]);
        let listed = NetworkPolicy::new(
            false,
            vec![
                "127.0.0.1/32".parse().unwrap(),
                "10.1.2.0/24".parse().unwrap(),
            ],
        );
        let table = [
            // address, strict, open, listed
            ("8.8.8.8", true, true, true),
            ("127.0.0.1", false, true, true),
            ("::ffff:127.0.0.1", false, true, true),
            ("127.0.0.2", false, true, false),
            ("10.1.2.200", false, true, true),
            ("10.1.3.1", false, true, false),
            ("169.254.169.254", false, true, false),
            ("::1", false, true, false),
        ];
        for (address, want_strict, want_open, want_listed) in table {
            let got = (
                strict.check_address(ip(address)).is_ok(),
                open.check_address(ip(address)).is_ok(),
                listed.check_address(ip(address)).is_ok(),
            );
            assert_eq!(got, (want_strict, want_open, want_listed), "{address}");
        }
    }

    #[test]
    fn networks_parse_strictly() {
        for (text, want) in [
            ("10.1.2.0/24", "10.1.2.0/24"),
            ("127.0.0.1", "127.0.0.1/32"),
            (" fd00::/8 ", "fd00::/8"),
            ("::1", "::1/128"),
            ("0.0.0.0/0", "0.0.0.0/0"),
        ] {
            assert_eq!(
                text.parse::<IpNetwork>().unwrap().to_string(),
                want,
                "{text}"
            );
        }
        for text in [
            "10.1.2.3/24",
            "10.1.2.0/33",
            "fd00::/129",
            "example.com/8",
            "",
            "10.1.2.0/x",
        ] {
            assert!(text.parse::<IpNetwork>().is_err(), "{text}");
        }
        let network: IpNetwork = "10.1.2.0/24".parse().unwrap();
        assert!(network.contains(ip("10.1.2.255")));
        assert!(!network.contains(ip("10.1.3.0")));
        assert!(
            !network.contains(ip("::ffff:10.1.2.1")),
            "families do not mix"
        );
    }

    #[test]
    fn private_targets_are_refused_unless_allowed() {
        let strict = NetworkPolicy::public_only();
        let open = NetworkPolicy::new(true, vec![]);
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://172.16.5.5/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://[::1]:80/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
        ] {
            let refused = strict.check_url(url).unwrap_err();
            assert!(
                matches!(refused, OutboundError::Forbidden { .. }),
                "{url}: {refused}"
            );
            assert!(open.check_url(url).is_ok(), "{url}");
        }
        assert!(strict.check_url("http://8.8.8.8/hook").is_ok());
    }

    #[test]
    fn malformed_urls_are_refused() {
        let open = NetworkPolicy::new(true, vec![]);
        for url in [
            "ftp://example.com/",
            "example.com",
            "/relative",
            "http://",
            "http://user:pw@example.com/",
            "http://user@example.com/",
        ] {
            let refused = open.check_url(url).unwrap_err();
            assert!(
                matches!(refused, OutboundError::InvalidUrl(_)),
                "{url}: {refused}"
            );
        }
    }
}
