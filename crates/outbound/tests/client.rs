//! The client against real local servers: what reaches them and what the caller gets back.
//!
//! Everything here runs on loopback, which the default policy forbids; the tests that need to
//! talk to a server allow exactly `127.0.0.1/32` and keep the rest of 127/8 forbidden (on Linux
//! the whole of 127/8 is loopback, so a server on 127.0.0.2 plays the internal target).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use roster_outbound::{Client, NetworkPolicy, OutboundError, ReadBody, Timeouts};

/// What a test server does with a request.
#[derive(Clone)]
enum Answer {
    /// This raw HTTP response.
    Raw(String),
    /// 200 with a chunked body of this many bytes, written in 64 KiB chunks.
    Chunked(usize),
    /// Read the request and never answer.
    Hang,
}

#[derive(Debug, Clone)]
struct Seen {
    head: String,
    body: String,
}

struct Server {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Bytes of response body the server managed to write.
    body_written: Arc<AtomicUsize>,
}

impl Server {
    fn start(ip: &str, answer: Answer) -> Self {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let body_written = Arc::new(AtomicUsize::new(0));
        let (record, written) = (Arc::clone(&seen), Arc::clone(&body_written));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (record, written, answer) =
                    (Arc::clone(&record), Arc::clone(&written), answer.clone());
                std::thread::spawn(move || serve(stream, &record, &written, &answer));
            }
        });
        Self {
            url,
            seen,
            body_written,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Seen>>, written: &AtomicUsize, answer: &Answer) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    seen.lock().unwrap().push(Seen {
        head,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let mut stream = stream;
    match answer {
        Answer::Raw(response) => {
            let _ = stream.write_all(response.as_bytes());
        }
        Answer::Chunked(total) => {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            );
            let chunk = vec![b'a'; 64 * 1024];
            let mut sent = 0;
            while sent < *total {
                let piece = format!("{:x}\r\n", chunk.len());
                if stream.write_all(piece.as_bytes()).is_err()
                    || stream.write_all(&chunk).is_err()
                    || stream.write_all(b"\r\n").is_err()
                {
                    return;
                }
                sent += chunk.len();
                written.store(sent, Ordering::SeqCst);
            }
            let _ = stream.write_all(b"0\r\n\r\n");
        }
        Answer::Hang => std::thread::sleep(Duration::from_secs(30)),
    }
}

fn ok(body: &str) -> Answer {
    Answer::Raw(format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
}

/// A client allowed to reach 127.0.0.1 and nothing else non-public.
fn client_for_127_0_0_1() -> Client {
    Client::new(
        NetworkPolicy::new(false, vec!["127.0.0.1/32".parse().unwrap()]),
        Timeouts::default(),
    )
}

fn within(limit: u64) -> ReadBody {
    ReadBody::AtMost(limit)
}

#[test]
fn an_allowed_server_answers_and_4xx_is_an_answer() {
    let server = Server::start("127.0.0.1", ok(r#"{"a":1}"#));
    let response = client_for_127_0_0_1()
        .get(&format!("{}/doc", server.url), within(1024))
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), br#"{"a":1}"#);

    let refusing = Server::start(
        "127.0.0.1",
        Answer::Raw("HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno".to_owned()),
    );
    let response = client_for_127_0_0_1()
        .get(&refusing.url, within(1024))
        .unwrap();
    assert_eq!(
        (response.status().as_u16(), response.body().as_slice()),
        (400, &b"no"[..])
    );
}

#[test]
fn redirects_are_errors_and_their_location_is_never_requested() {
    let target = Server::start("127.0.0.1", ok("{}"));
    for status in [301, 302, 303, 307, 308] {
        let redirecting = Server::start(
            "127.0.0.1",
            Answer::Raw(format!(
                "HTTP/1.1 {status} Moved\r\nLocation: {}/internal\r\nContent-Length: 0\r\n\r\n",
                target.url
            )),
        );
        let client = client_for_127_0_0_1();
        let got = client.get(&redirecting.url, within(1024)).unwrap_err();
        assert_eq!(got, OutboundError::Redirect { status });
        assert!(got.to_string().contains(&status.to_string()), "{got}");
        let got = client
            .post_json(&redirecting.url, &[], "{}", ReadBody::Discard)
            .unwrap_err();
        assert_eq!(got, OutboundError::Redirect { status });
        assert_eq!(redirecting.seen().len(), 2);
    }
    assert_eq!(target.seen().len(), 0, "no Location was followed");
}

#[test]
fn bodies_over_the_cap_fail_without_being_read_to_the_end() {
    let client = client_for_127_0_0_1();
    // Exactly the cap is fine.
    let exact = Server::start("127.0.0.1", ok(&"x".repeat(1000)));
    assert_eq!(
        client.get(&exact.url, within(1000)).unwrap().body().len(),
        1000
    );

    // A declared length over the cap is refused before reading.
    let declared = Server::start(
        "127.0.0.1",
        Answer::Raw("HTTP/1.1 200 OK\r\nContent-Length: 300000000\r\n\r\n{".to_owned()),
    );
    assert_eq!(
        client.get(&declared.url, within(1024 * 1024)).unwrap_err(),
        OutboundError::TooLarge { limit: 1024 * 1024 }
    );

    // A chunked body of 300 MB: the read stops at the cap, and the server could not write it
    // all (the connection is closed once the cap is passed).
    let huge = 300 * 1024 * 1024;
    let chunked = Server::start("127.0.0.1", Answer::Chunked(huge));
    let started = Instant::now();
    assert_eq!(
        client.get(&chunked.url, within(1024 * 1024)).unwrap_err(),
        OutboundError::TooLarge { limit: 1024 * 1024 }
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(200));
    let written = chunked.body_written.load(Ordering::SeqCst);
    assert!(
        written < huge / 10,
        "the server wrote {written} bytes: the client kept reading"
    );
}

#[test]
fn a_silent_server_times_out() {
    let server = Server::start("127.0.0.1", Answer::Hang);
    let client = Client::new(
        NetworkPolicy::new(false, vec!["127.0.0.1/32".parse().unwrap()]),
        Timeouts {
            connect: Duration::from_millis(500),
            total: Duration::from_millis(700),
        },
    );
    let started = Instant::now();
    let err = client.get(&server.url, within(1024)).unwrap_err();
    assert!(matches!(err, OutboundError::Timeout { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        server.seen().len(),
        1,
        "the request was sent; the answer never came"
    );
}

#[test]
fn host_names_and_ip_literals_are_checked_where_they_resolve() {
    let server = Server::start("127.0.0.1", ok("{}"));
    let port = server.url.rsplit(':').next().unwrap().to_owned();
    let strict = Client::default();
    for url in [
        format!("http://localhost:{port}/"),
        format!("http://127.0.0.1:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://2130706433:{port}/"),
    ] {
        let err = strict.get(&url, within(1024)).unwrap_err();
        assert!(
            matches!(err, OutboundError::Forbidden { .. }),
            "{url}: {err}"
        );
        assert!(err.to_string().contains("127.0.0.1"), "{url}: {err}");
    }
    assert_eq!(server.seen().len(), 0, "nothing reached the server");

    // Allowing 127.0.0.1 opens exactly that address, not the rest of loopback.
    let internal = Server::start("127.0.0.2", ok("{}"));
    let client = client_for_127_0_0_1();
    let err = client.get(&internal.url, within(1024)).unwrap_err();
    assert!(matches!(err, OutboundError::Forbidden { .. }), "{err}");
    assert!(err.to_string().contains("127.0.0.2"), "{err}");
    assert_eq!(internal.seen().len(), 0);
    // The blanket switch opens it.
    let open = Client::new(NetworkPolicy::new(true, vec![]), Timeouts::default());
    assert_eq!(open.get(&internal.url, within(1024)).unwrap().status(), 200);
}

#[test]
fn malformed_urls_are_refused_before_any_connection() {
    let server = Server::start("127.0.0.1", ok("{}"));
    let authority = server.url.trim_start_matches("http://").to_owned();
    let open = Client::new(NetworkPolicy::new(true, vec![]), Timeouts::default());
    for url in [
        format!("ftp://{authority}/"),
        format!("http://user:pw@{authority}/"),
        format!("//{authority}/"),
        "not a url".to_owned(),
    ] {
        let err = open.get(&url, within(1024)).unwrap_err();
        assert!(matches!(err, OutboundError::InvalidUrl(_)), "{url}: {err}");
    }
    assert_eq!(server.seen().len(), 0);
}

#[test]
fn form_and_json_posts_carry_their_headers_and_body() {
    let server = Server::start("127.0.0.1", ok("{}"));
    let client = client_for_127_0_0_1();
    client
        .post_form(
            &server.url,
            &[("authorization", "Basic abc")],
            &[("logout_token", "a b&c")],
            ReadBody::Discard,
        )
        .unwrap();
    client
        .post_json(
            &server.url,
            &[("webhook-id", "e1")],
            r#"{"k":1}"#,
            within(16),
        )
        .unwrap();
    let seen = server.seen();
    let heads: Vec<String> = seen.iter().map(|s| s.head.to_ascii_lowercase()).collect();
    assert!(heads[0].starts_with("post / http/1.1"), "{}", heads[0]);
    assert!(
        heads[0].contains("authorization: basic abc"),
        "{}",
        heads[0]
    );
    assert!(
        heads[0].contains("content-type: application/x-www-form-urlencoded"),
        "{}",
        heads[0]
    );
    assert_eq!(seen[0].body, "logout_token=a+b%26c");
    assert!(heads[1].contains("webhook-id: e1"), "{}", heads[1]);
    assert!(
        heads[1].contains("content-type: application/json"),
        "{}",
        heads[1]
    );
    assert_eq!(seen[1].body, r#"{"k":1}"#);
}

/// A keep-alive HTTP/1.1 server: answers every request on a connection with `response` until
/// the client closes it; counts the connections it accepted.
struct KeepAlive {
    url: String,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

impl KeepAlive {
    fn start(response: String) -> Self {
        Self::closing_after(response, usize::MAX)
    }

    /// A server that answers `answers` requests on a connection, then closes it when the next
    /// one arrives, without answering (as a server whose keep-alive timeout ran out just as the
    /// request came).
    fn closing_after(response: String, answers: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (accepted, served) = (Arc::clone(&connections), Arc::clone(&requests));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                accepted.fetch_add(1, Ordering::SeqCst);
                let (served, response) = (Arc::clone(&served), response.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut stream = stream;
                    for index in 0usize.. {
                        let mut length = 0;
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        loop {
                            let mut header = String::new();
                            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                                return;
                            }
                            if header == "\r\n" {
                                break;
                            }
                            if let Some(value) =
                                header.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                length = value.trim().parse().unwrap();
                            }
                        }
                        let mut body = vec![0; length];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        if index == answers {
                            // Closed unanswered (dropping both halves closes the socket).
                            return;
                        }
                        served.fetch_add(1, Ordering::SeqCst);
                        if stream.write_all(response.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            url,
            connections,
            requests,
        }
    }
}

#[test]
fn discarded_short_bodies_keep_the_connection_for_the_next_request() {
    let client = client_for_127_0_0_1();
    let short = KeepAlive::start("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_owned());
    let chunked = KeepAlive::start(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n".to_owned(),
    );
    let empty = KeepAlive::start("HTTP/1.1 204 No Content\r\n\r\n".to_owned());
    for server in [&short, &chunked, &empty] {
        for n in 0..20 {
            let status = client
                .post_json(
                    &server.url,
                    &[],
                    &format!("{{\"n\":{n}}}"),
                    ReadBody::Discard,
                )
                .unwrap()
                .status();
            assert!(status.is_success(), "{status}");
        }
        assert_eq!(server.requests.load(Ordering::SeqCst), 20);
        assert_eq!(
            server.connections.load(Ordering::SeqCst),
            1,
            "one connection for every request to {}",
            server.url
        );
    }
}

#[test]
fn a_long_discarded_body_is_not_read_and_costs_only_its_connection() {
    let client = client_for_127_0_0_1();
    let long = "x".repeat(usize::try_from(roster_outbound::DRAIN_BYTES).unwrap() + 1);
    let server = KeepAlive::start(format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{long}",
        long.len()
    ));
    for _ in 0..3 {
        let response = client
            .post_json(&server.url, &[], "{}", ReadBody::Discard)
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.body().is_empty());
    }
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        3,
        "a connection whose body was left unread is not reused"
    );
}

/// A pooled connection the server closed just as the next request went out fails that request
/// with a reset or an end of stream before any answer; the client sends it once more on a new
/// connection instead of failing a delivery that never reached the server's application.
#[test]
fn a_request_on_a_connection_closed_under_it_is_sent_again_on_a_new_one() {
    let client = client_for_127_0_0_1();
    let server = KeepAlive::closing_after(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_owned(),
        1,
    );
    for n in 0..3 {
        let status = client
            .post_json(
                &server.url,
                &[],
                &format!("{{\"n\":{n}}}"),
                ReadBody::Discard,
            )
            .map(|response| response.status().as_u16());
        assert_eq!(status, Ok(200), "request {n}");
    }
    // Each connection answered one request and dropped the next, which went out again.
    assert_eq!(server.requests.load(Ordering::SeqCst), 3);
    assert_eq!(server.connections.load(Ordering::SeqCst), 3);
}
