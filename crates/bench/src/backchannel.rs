//! Back-channel logouts under deactivations (issue #23): users signed into an app with a
//! back-channel logout URI are deactivated over SCIM at 100 per second, and a local receiver
//! (an HTTP server in this process, standing in for the product) times each logout token from
//! the moment its deactivation was sent. The target: p99 below one second.
//!
//! Set-up, on the running server: an app registered with the `roster` CLI
//! (`--backchannel-logout-uri` pointing at the receiver; the bench's server allows
//! `127.0.0.1/32` for that), the users created over SCIM, and one grant per user written by the
//! `seed_grants` tool of `roster-store` (the authorization endpoint's logins are not what this
//! row measures). The receiver reads the `sub` of each token (a base64url JSON payload) without
//! verifying it: the tests verify tokens; this measures when they arrive.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::report::Judge;
use super::scenario::BASE;
use super::server;
use roster_devtools::http::Client;
use roster_devtools::{json_field, repo_root, run_checked, say};

/// Deactivations per second, as the issue sets them.
const RATE_PER_SECOND: u64 = 100;
/// The issue's target for the 99th percentile, in milliseconds.
const P99_TARGET_MS: f64 = 1_000.0;
/// Client threads sending the deactivations on their schedule.
const SENDERS: usize = 8;
/// How long to wait for the last logouts after the last deactivation.
const GRACE: Duration = Duration::from_secs(10);

/// When each user's logout token arrived, by `sub`.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

/// Runs the row against the server at `addr` (database `database_url`); returns its report line
/// and the number of failures (deactivations refused, logouts that did not arrive).
pub(crate) fn run(
    binary: &Path,
    dir: &Path,
    database_url: &str,
    addr: &str,
    token: &str,
    seconds: u64,
    judge: Judge,
) -> Result<(String, u64), String> {
    let users = RATE_PER_SECOND * seconds.max(1);
    let arrivals: Arrivals = Arc::default();
    let receiver = receive(Arc::clone(&arrivals))?;
    let created = server::capture(server::roster(binary, dir, database_url, addr).args([
        "app",
        "create",
        "--name",
        "bench-backchannel",
        "--redirect-uri",
        "https://bench.example/callback",
        "--backchannel-logout-uri",
        &format!("http://{receiver}/logout"),
    ]))?;
    let client_id =
        json_field(&created, "client_id").ok_or_else(|| format!("no client_id in {created}"))?;
    say(&format!(
        "  back-channel logouts: {users} users signed into an app, deactivated at {RATE_PER_SECOND}/s"
    ));
    let ids = create_users(addr, token, users)?;
    seed_grants(binary, database_url, &client_id, &ids)?;
    let sent = deactivate(addr, token, &ids)?;
    let deadline = sent.last_sent + GRACE;
    while arrivals_count(&arrivals) < ids.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let arrived = arrivals
        .lock()
        .map_err(|_| "the receiver panicked".to_owned())?
        .clone();
    let mut latencies: Vec<Duration> = sent
        .at
        .iter()
        .filter_map(|(sub, sent_at)| arrived.get(sub).map(|at| at.duration_since(*sent_at)))
        .collect();
    latencies.sort_unstable();
    let missing = ids.len() - latencies.len();
    let failures = sent.refused + missing as u64;
    Ok((line(&latencies, ids.len(), sent.refused, judge), failures))
}

fn arrivals_count(arrivals: &Arrivals) -> usize {
    arrivals.lock().map_or(0, |arrived| arrived.len())
}

/// The report line.
fn line(sorted: &[Duration], users: usize, refused: u64, judge: Judge) -> String {
    let name = format!("back-channel logout ({RATE_PER_SECOND} deact./s)");
    // Nearest rank: the smallest latency at least `fraction` of the deliveries did not exceed.
    let percentile = |fraction: f64| -> Option<f64> {
        let rank = ((sorted.len() as f64) * fraction).ceil() as usize;
        sorted
            .get(rank.saturating_sub(1))
            .map(|latency| latency.as_secs_f64() * 1000.0)
    };
    match (percentile(0.50), percentile(0.99)) {
        (Some(p50), Some(p99)) => format!(
            "  {name:<32} {} of {users} delivered, {refused} deactivations refused, p50 {p50:.1} ms, \
             p99 {p99:.1} ms  p99 < {P99_TARGET_MS:.0} ms: {}",
            sorted.len(),
            judge.verdict(p99 < P99_TARGET_MS && sorted.len() == users)
        ),
        _ => format!(
            "  {name:<32} none of {users} delivered  p99 < {P99_TARGET_MS:.0} ms: {}",
            judge.verdict(false)
        ),
    }
}

fn create_users(addr: &str, token: &str, users: u64) -> Result<Vec<String>, String> {
    let mut client = Client::new(addr, token);
    (0..users)
        .map(|index| {
            let body = format!(
                r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"logout{index}@bench.example","externalId":"bcl-{index}","active":true}}"#
            );
            let response = client.request("POST", &format!("{BASE}/Users"), Some(&body))?;
            match (response.status, response.resource_id()) {
                (201, Some(id)) => Ok(id),
                (status, _) => Err(format!("creating a user answered {status}")),
            }
        })
        .collect()
}

/// Where `seed_grants` is: beside `binary` or in its target directory's `examples/`, else built
/// with the binary's profile (never a release build for a debug binary).
fn seeder(binary: &Path) -> Result<PathBuf, String> {
    let dir = binary.parent().unwrap_or_else(|| Path::new("."));
    for candidate in [
        dir.join("seed_grants"),
        dir.join("examples").join("seed_grants"),
    ] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let release = dir.file_name().is_some_and(|name| name == "release");
    say("  building roster-store's seed_grants tool");
    let mut build = Command::new("cargo");
    build.current_dir(repo_root()).args([
        "build",
        "--locked",
        "--package",
        "roster-store",
        "--example",
        "seed_grants",
    ]);
    if release {
        build.arg("--release");
    }
    run_checked(&mut build)?;
    let profile = if release { "release" } else { "debug" };
    Ok(roster_devtools::cargo_target_dir()
        .join(profile)
        .join("examples")
        .join("seed_grants"))
}

fn seed_grants(
    binary: &Path,
    database_url: &str,
    client_id: &str,
    ids: &[String],
) -> Result<(), String> {
    let mut child = Command::new(seeder(binary)?)
        .args([database_url, server::WORKSPACE, client_id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run seed_grants: {err}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(ids.join("\n").as_bytes())
            .map_err(|err| format!("seed_grants: {err}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|err| format!("seed_grants: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "seed_grants failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(())
}

/// When each deactivation was sent, by user id, and how many were not answered 200.
struct Sent {
    at: HashMap<String, Instant>,
    last_sent: Instant,
    refused: u64,
}

/// Sends `active=false` for every user on a fixed schedule (`RATE_PER_SECOND`), spread over
/// `SENDERS` keep-alive connections so one slow answer does not delay the next deactivation.
fn deactivate(addr: &str, token: &str, ids: &[String]) -> Result<Sent, String> {
    let patch = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":false}]}"#;
    let start = Instant::now() + Duration::from_millis(50);
    let interval = Duration::from_secs(1) / u32::try_from(RATE_PER_SECOND).unwrap_or(100);
    let results: Vec<(Vec<(String, Instant)>, u64)> = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..SENDERS)
            .map(|sender| {
                scope.spawn(move || {
                    let mut client = Client::new(addr, token);
                    let mut sent = Vec::new();
                    let mut refused = 0;
                    let mine = ids.iter().enumerate().skip(sender).step_by(SENDERS);
                    for (index, id) in mine {
                        let due = start + interval * u32::try_from(index).unwrap_or(u32::MAX);
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        let at = Instant::now();
                        let answer =
                            client.request("PATCH", &format!("{BASE}/Users/{id}"), Some(patch));
                        if !matches!(answer, Ok(ref response) if response.status == 200) {
                            refused += 1;
                        }
                        sent.push((id.clone(), at));
                    }
                    (sent, refused)
                })
            })
            .collect();
        senders
            .into_iter()
            .map(|sender| sender.join().unwrap_or_default())
            .collect()
    });
    let refused = results.iter().map(|(_, refused)| refused).sum();
    let at: HashMap<String, Instant> = results.into_iter().flat_map(|(sent, _)| sent).collect();
    let last_sent = at.values().max().copied().unwrap_or_else(Instant::now);
    Ok(Sent {
        at,
        last_sent,
        refused,
    })
}

/// Starts the receiver on a free loopback port; returns its address. It answers every request
/// `200` and records when a logout token for each `sub` first arrived.
fn receive(arrivals: Arrivals) -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|err| format!("no port for the receiver: {err}"))?;
    let addr = listener
        .local_addr()
        .map_err(|err| format!("receiver: {err}"))?
        .to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let arrivals = Arc::clone(&arrivals);
            std::thread::spawn(move || {
                if let Some(sub) = logout_sub(stream) {
                    if let Ok(mut arrived) = arrivals.lock() {
                        arrived.entry(sub).or_insert_with(Instant::now);
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// Reads one request, answers `200`, and returns the `sub` of its logout token.
fn logout_sub(stream: TcpStream) -> Option<String> {
    let body = {
        let mut reader = BufReader::new(stream.try_clone().ok()?);
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).ok()? == 0 {
                return None;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().ok()?;
                }
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).ok()?;
        String::from_utf8(body).ok()?
    };
    let mut stream = stream;
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let token = body.strip_prefix("logout_token=")?;
    let payload = base64url_decode(token.split('.').nth(1)?)?;
    json_field(std::str::from_utf8(&payload).ok()?, "sub")
}

/// Unpadded base64url (RFC 4648 §5), as in a JWT (the provider rows read ID token headers too).
pub(crate) fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let value = |byte: u8| -> Option<u32> {
        Some(u32::from(match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        }))
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in text.bytes() {
        buffer = (buffer << 6) | value(byte)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sub_of_a_jwt_payload() {
        // {"sub":"u-1","sid":"s"} in unpadded base64url.
        let payload = base64url_decode("eyJzdWIiOiJ1LTEiLCJzaWQiOiJzIn0").unwrap_or_default();
        assert_eq!(
            json_field(std::str::from_utf8(&payload).unwrap_or_default(), "sub").as_deref(),
            Some("u-1")
        );
        assert_eq!(base64url_decode("a+b"), None);
    }

    #[test]
    fn the_line_judges_the_99th_percentile_and_completeness() {
        let fast: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let ok = line(&fast, 100, 0, Judge::Target);
        assert!(ok.contains("100 of 100 delivered"), "{ok}");
        assert!(ok.contains("p99 99.0 ms"), "{ok}");
        assert!(ok.ends_with(": met"), "{ok}");
        assert!(line(&fast, 101, 0, Judge::Target).ends_with("NOT met"));
        let slow = vec![Duration::from_millis(1_500); 10];
        assert!(line(&slow, 10, 0, Judge::Target).ends_with("NOT met"));
        assert!(line(&[], 10, 0, Judge::Target).contains("none of 10 delivered"));
    }
}
