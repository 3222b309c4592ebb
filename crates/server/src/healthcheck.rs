//! `roster healthcheck`: asks the `roster serve` of this configuration whether it is ready.
//!
//! **Why a subcommand.** A container runtime's health check (Docker's `HEALTHCHECK`, Compose's
//! `healthcheck:`) runs a command *inside* the container, and the image deliberately has no HTTP
//! client (no curl, no wget, no shell tool that speaks HTTP) to keep its attack surface small. The
//! binary that is already there asks instead: one plain HTTP/1.1 `GET /readyz` to the address
//! `serve` binds (`server.bind`, read from the same configuration file and environment), where
//! an unspecified address (`0.0.0.0`, `[::]`) is reached on loopback.
//!
//! **Contract.** Exit 0 with one `ready: …` line on stdout when `/readyz` answers 200; exit 1
//! with one `error: not ready: …` line on stderr otherwise — nothing listening, no answer within
//! the timeout, or another status (a 503 names the database's reason). It never opens the
//! database nor migrates it: the server's own readiness check is the one that counts.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::settings::Settings;

/// The longest answer read: `/readyz` answers a few dozen bytes.
const MAX_RESPONSE_BYTES: u64 = 16 * 1024;
/// The longest reason quoted from a `/readyz` body.
const MAX_DETAIL_CHARS: usize = 200;

/// Why the server is not ready, in one line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotReady {
    #[error("not ready: cannot connect to {addr}: {error}")]
    Unreachable { addr: SocketAddr, error: String },
    #[error("not ready: {addr} did not answer /readyz within {seconds} s")]
    NoAnswer { addr: SocketAddr, seconds: u64 },
    #[error("not ready: {addr} answered /readyz with {status}{detail}")]
    Status {
        addr: SocketAddr,
        status: u16,
        /// `: database: <reason>` when the body says why, else empty.
        detail: String,
    },
    #[error("not ready: {addr} sent something that is not an HTTP response")]
    NotHttp { addr: SocketAddr },
}

/// Probes the configured server and prints the `ready: …` line, or fails with the reason.
pub fn run(settings: &Settings, timeout: Duration) -> anyhow::Result<()> {
    let addr = probe_addr(settings.bind_addr()?);
    probe(addr, timeout)?;
    crate::output::line(&format!("ready: http://{addr}/readyz answered 200"))
}

/// Where a server bound to `bind` is reached from the same host: loopback for an unspecified
/// address, else the address itself.
pub fn probe_addr(bind: SocketAddr) -> SocketAddr {
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bind.port())
}

/// One `GET /readyz` to `addr`, answered within `timeout` (connecting, and then reading).
pub fn probe(addr: SocketAddr, timeout: Duration) -> Result<(), NotReady> {
    let no_answer = || NotReady::NoAnswer {
        addr,
        seconds: timeout.as_secs().max(1),
    };
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|err| NotReady::Unreachable {
            addr,
            error: err.to_string(),
        })?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|_| no_answer())?;
    write!(
        stream,
        "GET /readyz HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: roster-healthcheck\r\n\
         Accept: application/json\r\nConnection: close\r\n\r\n"
    )
    .map_err(|_| no_answer())?;
    let mut response = Vec::new();
    stream
        .take(MAX_RESPONSE_BYTES)
        .read_to_end(&mut response)
        .map_err(|_| no_answer())?;
    if response.is_empty() {
        return Err(no_answer());
    }
    judge(addr, &response)
}

/// Reads the verdict off a raw HTTP response: ready only on `200`.
fn judge(addr: SocketAddr, response: &[u8]) -> Result<(), NotReady> {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .filter(|line| line.starts_with("HTTP/1."))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or(NotReady::NotHttp { addr })?;
    if status == 200 {
        return Ok(());
    }
    Err(NotReady::Status {
        addr,
        status,
        detail: database_reason(body)
            .map(|reason| format!(": database: {reason}"))
            .unwrap_or_default(),
    })
}

/// The `database` field of a `/readyz` answer, on one line and shortened.
fn database_reason(body: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(body.trim()).ok()?;
    let reason = json.get("database")?.as_str()?;
    let one_line = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(one_line.chars().take(MAX_DETAIL_CHARS).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:8080".parse().unwrap()
    }

    #[test]
    fn unspecified_bind_addresses_are_probed_on_loopback() {
        for (bind, probed) in [
            ("0.0.0.0:8080", "127.0.0.1:8080"),
            ("[::]:9000", "[::1]:9000"),
            ("127.0.0.1:8080", "127.0.0.1:8080"),
            ("10.1.2.3:80", "10.1.2.3:80"),
            ("[fd00::5]:8443", "[fd00::5]:8443"),
        ] {
            assert_eq!(
                probe_addr(bind.parse().unwrap()),
                probed.parse().unwrap(),
                "{bind}"
            );
        }
    }

    #[test]
    fn only_a_200_is_ready() {
        let cases: &[(&str, Result<(), NotReady>)] = &[
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 35\r\n\r\n{\"database\":\"ok\",\"status\":\"ready\"}",
                Ok(()),
            ),
            ("HTTP/1.0 200 OK\r\n\r\n", Ok(())),
            (
                "HTTP/1.1 503 Service Unavailable\r\nretry-after: 5\r\n\r\n\
                 {\"status\":\"unavailable\",\"database\":\"connection refused\\n  is the server up?\"}",
                Err(NotReady::Status {
                    addr: addr(),
                    status: 503,
                    detail: ": database: connection refused is the server up?".to_owned(),
                }),
            ),
            (
                "HTTP/1.1 404 Not Found\r\n\r\n{\"code\":\"not_found\"}",
                Err(NotReady::Status {
                    addr: addr(),
                    status: 404,
                    detail: String::new(),
                }),
            ),
            (
                "HTTP/1.1 500 Internal Server Error\r\n\r\nnot json",
                Err(NotReady::Status {
                    addr: addr(),
                    status: 500,
                    detail: String::new(),
                }),
            ),
            ("SSH-2.0-OpenSSH_9.2\r\n", Err(NotReady::NotHttp { addr: addr() })),
            ("HTTP/1.1 abc\r\n\r\n", Err(NotReady::NotHttp { addr: addr() })),
        ];
        for (response, verdict) in cases {
            assert_eq!(&judge(addr(), response.as_bytes()), verdict, "{response}");
        }
    }

    #[test]
    fn a_long_database_reason_is_cut_to_one_short_line() {
        let body = format!("{{\"database\":\"{}\"}}", "x".repeat(500));
        let reason = database_reason(&body).unwrap();
        assert_eq!(reason.len(), MAX_DETAIL_CHARS);
        assert_eq!(database_reason("{\"status\":\"ok\"}"), None);
    }

    #[test]
    fn reasons_read_as_one_line() {
        let reason = NotReady::Status {
            addr: addr(),
            status: 503,
            detail: ": database: timed out".to_owned(),
        };
        assert_eq!(
            reason.to_string(),
            "not ready: 127.0.0.1:8080 answered /readyz with 503: database: timed out"
        );
    }
}
