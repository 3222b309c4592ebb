//! Outbound URL checks: a webhook (or IdP metadata) URL must be http(s) and, unless the operator
//! allows it (`security.allow_private_network_urls`), must not resolve to loopback, private,
//! link-local, CGNAT, multicast or unspecified addresses — so Roster cannot be used to reach the
//! network it runs in.

use std::net::{IpAddr, ToSocketAddrs};

fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| forbidden(IpAddr::V4(v4)))
        }
    }
}

/// Checks an outbound URL; resolves its host (so the answer is about where it points now).
pub fn check_url(url: &str, allow_private: bool) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| "the URL must start with https:// or http://".to_owned())?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err("the URL needs a host (and no credentials)".to_owned());
    }
    let default_port = if url.starts_with("https://") { 443 } else { 80 };
    let target = if authority.starts_with('[')
        || authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:{default_port}")
    };
    if allow_private {
        return Ok(());
    }
    let addrs: Vec<_> = target
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve the URL's host: {err}"))?
        .collect();
    if addrs.is_empty() {
        return Err("the URL's host resolves to no address".to_owned());
    }
    if let Some(bad) = addrs.iter().find(|a| forbidden(a.ip())) {
        return Err(format!(
            "the URL points to {} (loopback, private or link-local); set security.allow_private_network_urls to allow it",
            bad.ip()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_targets_are_refused_unless_allowed() {
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
            assert!(check_url(url, false).is_err(), "{url}");
            assert!(check_url(url, true).is_ok(), "{url}");
        }
    }

    #[test]
    fn malformed_urls_are_refused() {
        for url in [
            "ftp://example.com/",
            "example.com",
            "http://",
            "http://user:pw@example.com/",
        ] {
            assert!(check_url(url, true).is_err(), "{url}");
        }
        assert!(check_url("http://8.8.8.8/hook", false).is_ok());
    }
}
