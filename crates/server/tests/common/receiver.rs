//! A real local HTTP receiver for webhook tests: records every request (headers and body) and
//! answers with the status it is told to (and a `Location`, to play a redirect), optionally
//! after a delay.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
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
    stop: Arc<AtomicBool>,
}

impl Receiver {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let location = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s, d, l, st) = (
            received.clone(),
            status.clone(),
            delay_ms.clone(),
            location.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        let (r, s, d, l) = (r.clone(), s.clone(), d.clone(), l.clone());
                        std::thread::spawn(move || serve(stream, &r, &s, &d, &l));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            url,
            received,
            status,
            delay_ms,
            location,
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

fn serve(
    stream: std::net::TcpStream,
    received: &Mutex<Vec<Received>>,
    status: &AtomicU16,
    delay_ms: &AtomicU64,
    location: &Mutex<Option<String>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            // The connection ended inside the header section (the sender was killed mid-request):
            // a truncated request is not a delivery.
            Err(_) | Ok(0) => return,
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
        return;
    }
    std::thread::sleep(Duration::from_millis(delay_ms.load(Ordering::SeqCst)));
    received.lock().unwrap().push(Received {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let code = status.load(Ordering::SeqCst);
    let location = location
        .lock()
        .unwrap()
        .as_ref()
        .map(|url| format!("Location: {url}\r\n"))
        .unwrap_or_default();
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {code} X\r\n{location}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
}
