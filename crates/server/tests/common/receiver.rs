//! A real local HTTP receiver for webhook tests: records every request (headers and body) and
//! answers with the status it is told to (and a `Location`, to play a redirect), optionally
//! after a delay. By default it closes each connection after its answer; [`Receiver::keep_alive`]
//! answers as most web servers do (a short body, the connection kept for the next request) and
//! counts the connections, and [`Receiver::fail_request`] fails one request of a run.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One received request.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub status: Arc<AtomicU16>,
    pub delay_ms: Arc<AtomicU64>,
    /// A `Location` header to answer with (set it with a 3xx status).
    pub location: Arc<Mutex<Option<String>>>,
    /// Connections accepted.
    pub connections: Arc<AtomicUsize>,
    /// The number (from 1, over every request received) of one request to answer 503 instead
    /// of `status`; 0: none.
    pub fail_request: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

/// How the receiver answers, shared with its connection threads.
#[derive(Clone)]
struct Answers {
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    location: Arc<Mutex<Option<String>>>,
    fail_request: Arc<AtomicUsize>,
    keep_alive: bool,
}

impl Receiver {
    /// Answers with an empty body and closes the connection.
    pub fn start() -> Self {
        Self::listen(false)
    }

    /// Answers `ok` and keeps the connection for the next request.
    pub fn keep_alive() -> Self {
        Self::listen(true)
    }

    fn listen(keep_alive: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let answers = Answers {
            received: Arc::new(Mutex::new(Vec::new())),
            status: Arc::new(AtomicU16::new(200)),
            delay_ms: Arc::new(AtomicU64::new(0)),
            location: Arc::new(Mutex::new(None)),
            fail_request: Arc::new(AtomicUsize::new(0)),
            keep_alive,
        };
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, accepted, st) = (answers.clone(), connections.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        accepted.fetch_add(1, Ordering::SeqCst);
                        let answers = shared.clone();
                        std::thread::spawn(move || serve(stream, &answers));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            url,
            received: answers.received,
            status: answers.status,
            delay_ms: answers.delay_ms,
            location: answers.location,
            connections,
            fail_request: answers.fail_request,
            stop,
        }
    }

    /// Answers every request with `status` and `Location: url`.
    pub fn redirect_to(&self, status: u16, url: &str) {
        *self.location.lock().unwrap() = Some(url.to_owned());
        self.status.store(status, Ordering::SeqCst);
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `condition` holds on what was received (at most 30 s).
    pub fn wait_for(&self, what: &str, condition: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let all = self.all();
            if condition(&all) {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; received {} requests",
                all.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Answers the requests of one connection: one, or with keep-alive every request until the
/// sender closes it.
fn serve(stream: std::net::TcpStream, answers: &Answers) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    while serve_one(&mut reader, &mut stream, answers) && answers.keep_alive {}
}

/// Reads one request and answers it; `false` when the connection ended first.
fn serve_one(
    reader: &mut BufReader<std::net::TcpStream>,
    stream: &mut std::net::TcpStream,
    answers: &Answers,
) -> bool {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return false;
    }
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            // The connection ended inside the header section (the sender was killed mid-request):
            // a truncated request is not a delivery.
            Err(_) | Ok(0) => return false,
            Ok(_) if header.trim().is_empty() => break,
            Ok(_) => {}
        }
        if let Some((name, value)) = header.trim_end().split_once(':') {
            headers.push((name.trim().to_lowercase(), value.trim().to_owned()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return false;
    }
    std::thread::sleep(Duration::from_millis(
        answers.delay_ms.load(Ordering::SeqCst),
    ));
    let number = {
        let mut received = answers.received.lock().unwrap();
        received.push(Received {
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        received.len()
    };
    let code = if number == answers.fail_request.load(Ordering::SeqCst) {
        503
    } else {
        answers.status.load(Ordering::SeqCst)
    };
    let location = answers
        .location
        .lock()
        .unwrap()
        .as_ref()
        .map(|url| format!("Location: {url}\r\n"))
        .unwrap_or_default();
    let written = if answers.keep_alive {
        write!(
            stream,
            "HTTP/1.1 {code} X\r\n{location}Content-Length: 2\r\n\r\nok"
        )
    } else {
        write!(
            stream,
            "HTTP/1.1 {code} X\r\n{location}Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
    };
    written.is_ok()
}
