//! Webhook delivery (issue #29): how fast directory events reach one product endpoint, in order,
//! and how far the product's view trails an initial sync.
//!
//! A receiver in this process stands in for the product: an HTTP/1.1 server that keeps
//! connections alive, answers every request `200 ok` as a web framework would, and records each
//! `webhook-id` with its arrival time. It does not verify signatures (the tests do); it
//! measures when events arrive.
//!
//! - **Delivery rate.** A backlog built faster than any endpoint takes it: 1,000 users and 20
//!   groups created before the endpoint is registered, then 400 member PATCHes of 50 (20,000
//!   `group.member_added` events in about a second). The rate is the events over the time from
//!   the first arrival to the last; the order is checked against the feed (each event's first
//!   arrival, in the feed's order, none missing). The endpoint is deleted afterwards.
//! - **Sync lag.** An endpoint registered before the Entra-style initial sync receives its
//!   users, groups and memberships (one event each); the figure is the time from the sync's
//!   last response to the arrival of its last event, with the rate after the last write and the
//!   server's CPU time per event then.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::acs;
use super::load::{self, Operation, Until};
use super::report::Judge;
use super::scenario::{create_each, BASE};
use super::server;
use roster_devtools::http::{Client, Request};
use roster_devtools::say;

/// The issue's must-have: events per second to one local endpoint, in order.
pub(crate) const RATE_TARGET: f64 = 2_000.0;
/// The issue's goal for the sync: the last event delivered this soon after the last write.
pub(crate) const LAG_TARGET: Duration = Duration::from_secs(5);

const ADMIN: &str = "/api/v1/admin";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Users and groups of the rate row: every user joins every group, 50 per PATCH.
const USERS: u64 = 1_000;
const GROUPS: u64 = 20;
const MEMBERS_PER_PATCH: u64 = 50;
/// How long to wait for the next arrival before giving up on the rest.
const STALL: Duration = Duration::from_secs(30);

/// `(webhook-id, arrival)`, in arrival order.
type Arrivals = Arc<Mutex<Vec<(String, Instant)>>>;

/// The stand-in product endpoint.
struct Receiver {
    url: String,
    arrivals: Arrivals,
    /// Connections accepted.
    connections: Arc<AtomicUsize>,
}

impl Receiver {
    fn start() -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|err| format!("no port for the webhook receiver: {err}"))?;
        let addr = listener
            .local_addr()
            .map_err(|err| format!("webhook receiver: {err}"))?;
        let arrivals: Arrivals = Arc::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let (shared, accepted) = (Arc::clone(&arrivals), Arc::clone(&connections));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                accepted.fetch_add(1, Ordering::Relaxed);
                let arrivals = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &arrivals));
            }
        });
        Ok(Self {
            url: format!("http://{addr}/hooks/roster"),
            arrivals,
            connections,
        })
    }

    fn count(&self) -> usize {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Waits until `want` events arrived, or none arrived for [`STALL`]; returns the arrivals.
    fn wait_for(&self, want: usize) -> Vec<(String, Instant)> {
        let (mut last_count, mut last_progress) = (self.count(), Instant::now());
        loop {
            let count = self.count();
            if count >= want || last_progress.elapsed() > STALL {
                return self
                    .arrivals
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
            }
            if count != last_count {
                (last_count, last_progress) = (count, Instant::now());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Serves one connection: every request answered `200 ok`, its `webhook-id` recorded.
fn serve(stream: TcpStream, arrivals: &Mutex<Vec<(String, Instant)>>) {
    let _ = stream.set_nodelay(true);
    let Ok(reading) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(reading);
    let mut stream = stream;
    let mut line = String::new();
    loop {
        let (mut length, mut id) = (0usize, None);
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("webhook-id") {
                    id = Some(value.trim().to_owned());
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Some(id) = id {
            arrivals
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((id, Instant::now()));
        }
        if stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .is_err()
        {
            return;
        }
    }
}

/// The admin API of the bench workspace, with an API key made by the CLI.
struct Admin {
    client: Client,
}

impl Admin {
    fn new(server: &acs::Server<'_>) -> Result<Self, String> {
        let key = server.cli(&[
            "api-key",
            "create",
            "--workspace",
            server::WORKSPACE,
            "--name",
            "bench-webhooks",
        ])?;
        Ok(Self {
            client: Client::new(server.addr, key.trim()),
        })
    }

    /// One request; once more on a new connection when the kept one was closed while idle (the
    /// server closes idle keep-alive connections after a few seconds).
    fn request(
        &mut self,
        method: &'static str,
        path: &str,
        body: Option<&str>,
    ) -> Result<roster_devtools::http::Response, String> {
        self.client
            .request(method, path, body)
            .or_else(|_| self.client.request(method, path, body))
    }

    /// Registers an endpoint for every event type at `url`; returns its id.
    fn register(&mut self, url: &str) -> Result<String, String> {
        let body = format!(r#"{{"url":"{url}"}}"#);
        let response = self.request("POST", &format!("{ADMIN}/webhooks"), Some(&body))?;
        match (response.status, response.json_string("id")) {
            (201, Some(id)) => Ok(id),
            (status, _) => Err(format!(
                "registering the webhook answered {status}: {}",
                String::from_utf8_lossy(&response.body)
            )),
        }
    }

    fn delete(&mut self, id: &str) -> Result<(), String> {
        let response = self.request("DELETE", &format!("{ADMIN}/webhooks/{id}"), None)?;
        match response.status {
            204 => Ok(()),
            status => Err(format!("deleting the webhook answered {status}")),
        }
    }

    /// The feed's event ids after `cursor` (all of them when `None`), in order, and the cursor
    /// after the last.
    fn feed(&mut self, cursor: Option<&str>) -> Result<(Vec<String>, String), String> {
        let mut cursor = cursor.unwrap_or("ev_0").to_owned();
        let mut ids = Vec::new();
        loop {
            let path = format!("{ADMIN}/events?after={cursor}&limit=1000");
            let response = self.request("GET", &path, None)?;
            if response.status != 200 {
                return Err(format!("the feed answered {}", response.status));
            }
            let page = event_ids(&String::from_utf8_lossy(&response.body));
            let next = response
                .json_string("next")
                .ok_or("a feed page without `next`")?;
            if page.is_empty() {
                return Ok((ids, next));
            }
            ids.extend(page);
            cursor = next;
        }
    }
}

/// The ids of the events of a feed page, in order: each event object starts
/// `{"id":"…","type":"` (a resource's own `id` is followed by other fields).
fn event_ids(page: &str) -> Vec<String> {
    const START: &str = "{\"id\":\"";
    const THEN: &str = "\",\"type\":\"";
    let mut ids = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find(START) {
        rest = &rest[at + START.len()..];
        if let Some(end) = rest.find('"') {
            if rest[end..].starts_with(THEN) {
                ids.push(rest[..end].to_owned());
            }
        }
    }
    ids
}

/// Each event's first arrival, in arrival order, and the number of repeats.
fn first_arrivals(arrivals: &[(String, Instant)]) -> (Vec<&str>, usize) {
    let mut seen = HashSet::new();
    let mut firsts = Vec::with_capacity(arrivals.len());
    for (id, _) in arrivals {
        if seen.insert(id.as_str()) {
            firsts.push(id.as_str());
        }
    }
    let repeats = arrivals.len() - firsts.len();
    (firsts, repeats)
}

/// Events per second from the first arrival to the last.
fn rate(arrivals: &[(String, Instant)]) -> Option<f64> {
    let (first, last) = (arrivals.first()?.1, arrivals.last()?.1);
    let seconds = last.duration_since(first).as_secs_f64();
    (seconds > 0.0).then(|| arrivals.len() as f64 / seconds)
}

/// The server's CPU time since `since` (a `cpu::server_time` sample) per event of `events`, for
/// the report ("-" when unknown).
fn server_us_per_event(since: Option<Duration>, events: usize) -> String {
    match (since, super::cpu::server_time()) {
        (Some(before), Some(now)) if events > 0 => format!(
            "{:.1}",
            now.saturating_sub(before).as_secs_f64() * 1e6 / events as f64
        ),
        _ => "-".to_owned(),
    }
}

fn add_members(user_ids: &[String]) -> String {
    let values: Vec<String> = user_ids
        .iter()
        .map(|id| format!(r#"{{"value":"{id}"}}"#))
        .collect();
    format!(
        r#"{{"schemas":["{PATCH_OP}"],"Operations":[{{"op":"Add","path":"members","value":[{}]}}]}}"#,
        values.join(",")
    )
}

/// The delivery-rate row: returns its report line and its failures (events missing or out of
/// order, writes refused).
pub(crate) fn rate_row(
    server: &acs::Server<'_>,
    token: &str,
    concurrency: usize,
    judge: Judge,
) -> Result<(String, u64), String> {
    let events = GROUPS * USERS;
    say(&format!(
        "  webhook delivery: {events} membership events to one local endpoint"
    ));
    let receiver = Receiver::start()?;
    let mut admin = Admin::new(server)?;
    let (users, user_ids) = create_each(server.addr, token, concurrency, USERS, || {
        load::single(|index| {
            let body = format!(
                r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"hook{index}@bench.example","externalId":"hook-{index}","active":true}}"#
            );
            Request::scim("POST", format!("{BASE}/Users"), Some(body))
        })
    });
    let (groups, group_ids) = create_each(server.addr, token, concurrency, GROUPS, || {
        load::single(|index| {
            let body = format!(
                r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Hook Group {index}","members":[]}}"#
            );
            Request::scim("POST", format!("{BASE}/Groups"), Some(body))
        })
    });
    if users.errors + groups.errors > 0 || user_ids.len() as u64 != USERS {
        return Err("the webhook row could not create its users and groups".to_owned());
    }
    let (_, head) = admin.feed(None)?;
    let endpoint = admin.register(&receiver.url)?;
    let patches_per_group = USERS / MEMBERS_PER_PATCH;
    let (user_ids, group_ids) = (&user_ids, &group_ids);
    let writes = load::run(
        server.addr,
        token,
        concurrency,
        Until::Count(GROUPS * patches_per_group),
        |_| -> Operation<'_> {
            load::single(move |patch| {
                let group = usize::try_from(patch / patches_per_group).unwrap_or(0);
                let first =
                    usize::try_from((patch % patches_per_group) * MEMBERS_PER_PATCH).unwrap_or(0);
                let last = first + usize::try_from(MEMBERS_PER_PATCH).unwrap_or(0);
                let members = user_ids.get(first..last).unwrap_or_default();
                let group = group_ids.get(group).map_or("", String::as_str);
                Request::scim(
                    "PATCH",
                    format!("{BASE}/Groups/{group}"),
                    Some(add_members(members)),
                )
            })
        },
    );
    let (during_writes, cpu_after_writes) = (receiver.count(), super::cpu::server_time());
    let arrivals = receiver.wait_for(usize::try_from(events).unwrap_or(usize::MAX));
    let drain_us = server_us_per_event(cpu_after_writes, arrivals.len() - during_writes);
    admin.delete(&endpoint)?;
    let (expected, _) = admin.feed(Some(&head))?;
    let (firsts, repeats) = first_arrivals(&arrivals);
    let in_order = firsts == expected;
    let name = "webhook delivery (1 endpoint)";
    let line = match rate(&arrivals) {
        Some(per_second) => format!(
            "  {name:<32} {per_second:>8.0} events/s  ({} of {} events, {}, {repeats} repeats, \
             {} connections; first to last arrival; the writes took {:.1} s; {drain_us} server \
             µs per event after them)  >= {RATE_TARGET:.0}/s in order: {}",
            firsts.len(),
            expected.len(),
            if in_order { "in order" } else { "NOT in order" },
            receiver.connections.load(Ordering::Relaxed),
            writes.elapsed.as_secs_f64(),
            judge.verdict(in_order && per_second >= RATE_TARGET)
        ),
        None => format!(
            "  {name:<32} {} of {} events arrived  >= {RATE_TARGET:.0}/s in order: {}",
            arrivals.len(),
            expected.len(),
            judge.verdict(false)
        ),
    };
    let missing = expected.len().saturating_sub(firsts.len()) as u64;
    let failures = writes.errors + missing + u64::from(!in_order && missing == 0);
    Ok((line, failures))
}

/// An endpoint watching the initial sync.
pub(crate) struct SyncWatch {
    receiver: Receiver,
}

impl SyncWatch {
    /// Registers an endpoint for every event before the sync starts.
    pub(crate) fn start(server: &acs::Server<'_>) -> Result<Self, String> {
        let receiver = Receiver::start()?;
        Admin::new(server)?.register(&receiver.url)?;
        Ok(Self { receiver })
    }

    /// Waits for the sync's `events` (its last write answered at `last_write`) and returns the
    /// report line and the events that did not arrive. The endpoint stays: what follows (the
    /// directory-size rows) writes no event of this workspace, so there is nothing to stop.
    pub(crate) fn finish(
        self,
        events: u64,
        last_write: Instant,
        judge: Judge,
    ) -> Result<(String, u64), String> {
        let (at_last_write, cpu_at_last_write) = (self.receiver.count(), super::cpu::server_time());
        let arrivals = self
            .receiver
            .wait_for(usize::try_from(events).unwrap_or(usize::MAX));
        let drain_us = server_us_per_event(cpu_at_last_write, arrivals.len() - at_last_write);
        let (firsts, repeats) = first_arrivals(&arrivals);
        let missing = (events as usize).saturating_sub(firsts.len());
        let name = "sync: last event delivered";
        let line = match arrivals.last() {
            Some((_, last)) => {
                let lag = last.saturating_duration_since(last_write);
                let after = &arrivals[at_last_write.min(arrivals.len())..];
                let drain = rate(after)
                    .map(|rate| format!("{rate:.0} events/s after it, {drain_us} server µs each"))
                    .unwrap_or_else(|| "none after it".to_owned());
                format!(
                    "  {name:<32} {:>8.1} s  after the last write ({} of {events} events, \
                     {at_last_write} by the last write, {drain}, {repeats} repeats, {} \
                     connections)  < {} s: {}",
                    lag.as_secs_f64(),
                    firsts.len(),
                    self.receiver.connections.load(Ordering::Relaxed),
                    LAG_TARGET.as_secs(),
                    judge.verdict(lag < LAG_TARGET && missing == 0)
                )
            }
            None => format!(
                "  {name:<32} none of {events} events arrived  < {} s: {}",
                LAG_TARGET.as_secs(),
                judge.verdict(false)
            ),
        };
        Ok((line, missing as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_event_ids_of_a_feed_page_not_the_resources_ids() {
        let page = r#"{"events":[{"id":"e1","type":"user.created","workspace":"w","resource":{"id":"u1","userName":"a"}},{"id":"e2","type":"group.member_added","resource":{"group":{"id":"g1","displayName":"G"},"userId":"u1"}}],"next":"ev_7"}"#;
        assert_eq!(event_ids(page), ["e1", "e2"]);
        assert!(event_ids(r#"{"events":[],"next":"ev_7"}"#).is_empty());
    }

    #[test]
    fn first_arrivals_keep_the_order_and_count_repeats() {
        let now = Instant::now();
        let arrivals: Vec<(String, Instant)> = ["a", "b", "a", "c", "b"]
            .iter()
            .map(|id| ((*id).to_owned(), now))
            .collect();
        assert_eq!(first_arrivals(&arrivals), (vec!["a", "b", "c"], 2));
        let spread = vec![
            ("a".to_owned(), now),
            ("b".to_owned(), now + Duration::from_millis(500)),
        ];
        assert_eq!(rate(&spread), Some(4.0));
        assert_eq!(rate(&spread[..1]), None);
    }
}
