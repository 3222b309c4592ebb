//! The load generator: C keep-alive connections, all driven by one thread with epoll (mio), as
//! wrk does. They run one operation type at a time — a fixed number of operations shared among
//! them, or as many as they manage in a fixed time — and record every operation's latency.
//!
//! Connections run closed-loop (send, wait for the answer, send the next), so the figures are the
//! throughput and latency the server gives C eager clients, like an IdP's provisioning job.
//!
//! Why one thread and not one per connection: the generator shares the two CPUs with the server
//! it measures. A blocking thread per connection spent ~45 µs of CPU per request, most of it
//! waking threads; one event loop serves every ready connection per wake-up and leaves that CPU
//! to the server.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use roster_devtools::http::{parse_response, Request, Response};

/// How long a phase runs.
#[derive(Clone, Copy)]
pub(crate) enum Until {
    /// This many operations in all, shared among the connections (index 0..n, each exactly once).
    Count(u64),
    /// As many operations as the connections manage in this time.
    Elapsed(Duration),
}

/// What an operation does next.
pub(crate) enum Step {
    Send(Request),
    /// The operation is over; this response says how it went (2xx: success).
    Done(Response),
}

/// One connection's operation, a small state machine: called with the operation's index (the
/// shared index for `Until::Count`, the connection's own iteration otherwise) and `None` to
/// start it, then with each answer until it returns [`Step::Done`].
pub(crate) type Operation<'a> = Box<dyn FnMut(u64, Option<Response>) -> Step + 'a>;

/// An operation of one request, whose answer is its outcome.
pub(crate) fn single<'a>(mut request: impl FnMut(u64) -> Request + 'a) -> Operation<'a> {
    Box::new(move |index, answer| match answer {
        None => Step::Send(request(index)),
        Some(response) => Step::Done(response),
    })
}

/// What a phase measured.
pub(crate) struct Outcome {
    /// Latency of every operation, in microseconds, sorted.
    pub(crate) latencies_us: Vec<u64>,
    /// Operations answered with a status outside 2xx, or not answered at all.
    pub(crate) errors: u64,
    /// The first error seen, to say what went wrong.
    pub(crate) first_error: Option<String>,
    /// Wall-clock time of the whole phase.
    pub(crate) elapsed: Duration,
    /// CPU time the server under test spent during the phase, when known ([`super::cpu`]).
    pub(crate) server_cpu: Option<Duration>,
    /// CPU time the database cluster spent during the phase (PostgreSQL's processes).
    pub(crate) database_cpu: Option<Duration>,
}

impl Outcome {
    pub(crate) fn requests(&self) -> u64 {
        self.latencies_us.len() as u64
    }

    pub(crate) fn per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.requests() as f64 / seconds
        } else {
            0.0
        }
    }

    /// The server's CPU time per request, in microseconds, when known. `/proc` counts CPU time
    /// in 10 ms ticks, so a phase that took the server less than 100 ms (a few dozen creates)
    /// has no figure: it would be mostly rounding.
    pub(crate) fn server_us_per_request(&self) -> Option<f64> {
        self.per_request_us(self.server_cpu)
    }

    /// The database cluster's CPU time per request (PostgreSQL), as [`Self::server_us_per_request`].
    pub(crate) fn database_us_per_request(&self) -> Option<f64> {
        self.per_request_us(self.database_cpu)
    }

    fn per_request_us(&self, cpu: Option<Duration>) -> Option<f64> {
        let requests = self.requests();
        let cpu = cpu.filter(|cpu| *cpu >= Duration::from_millis(100))?;
        (requests > 0).then(|| cpu.as_secs_f64() * 1e6 / requests as f64)
    }

    /// The latency below which `fraction` of the operations finished, in milliseconds.
    pub(crate) fn percentile_ms(&self, fraction: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = (fraction * self.latencies_us.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies_us.len()) - 1;
        self.latencies_us.get(index).copied().unwrap_or_default() as f64 / 1000.0
    }

    fn record(&mut self, started: Instant, failure: Option<String>) {
        self.latencies_us.push(started.elapsed().as_micros() as u64);
        if let Some(failure) = failure {
            self.errors += 1;
            self.first_error.get_or_insert(failure);
        }
    }
}

/// A request gets no answer for this long: it fails and its connection is replaced.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// One connection and the operation in flight on it.
struct Connection<'a> {
    stream: Option<TcpStream>,
    operation: Operation<'a>,
    /// The operation's index and when it started; `None` when the connection is finished.
    current: Option<(u64, Instant)>,
    /// The connection's own operation count (the index for `Until::Elapsed`).
    iteration: u64,
    /// The request on the wire, kept to resend it once when a kept-alive connection turns out
    /// closed before any of the answer arrived.
    out: Vec<u8>,
    written: usize,
    sent_at: Instant,
    resent: bool,
    /// Whether the stream has carried an earlier exchange (a fresh one is not retried).
    reused: bool,
    input: Vec<u8>,
    /// Its operation failed: the next one starts from the event loop (not from inside the
    /// failure, so a server that refuses every connection cannot recurse).
    restart: bool,
}

/// The event loop of one phase.
struct Driver<'a, 'o> {
    addr: SocketAddr,
    host: &'a str,
    token: &'a str,
    until: Until,
    next_index: u64,
    started: Instant,
    poll: Poll,
    outcome: &'o mut Outcome,
}

/// Runs one phase: `concurrency` connections to `addr`, each with the operation `make(worker)`.
pub(crate) fn run<'a, F>(
    addr: &str,
    token: &str,
    concurrency: usize,
    until: Until,
    make: F,
) -> Outcome
where
    F: Fn(usize) -> Operation<'a>,
{
    let mut outcome = Outcome {
        latencies_us: Vec::new(),
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        server_cpu: None,
        database_cpu: None,
    };
    let cpu_before = super::cpu::server_time();
    let database_before = super::cpu::database_time();
    let started = Instant::now();
    if let Err(failure) = drive(addr, token, concurrency, until, &make, &mut outcome) {
        outcome.errors += 1;
        outcome.first_error.get_or_insert(failure);
    }
    outcome.elapsed = started.elapsed();
    outcome.server_cpu = cpu_before
        .zip(super::cpu::server_time())
        .map(|(before, after)| after.saturating_sub(before));
    outcome.database_cpu = database_before
        .zip(super::cpu::database_time())
        .map(|(before, after)| after.saturating_sub(before));
    outcome.latencies_us.sort_unstable();
    outcome
}

fn drive<'a>(
    host: &str,
    token: &str,
    concurrency: usize,
    until: Until,
    make: &dyn Fn(usize) -> Operation<'a>,
    outcome: &mut Outcome,
) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    let addr = host
        .to_socket_addrs()
        .map_err(|err| format!("address {host}: {err}"))?
        .next()
        .ok_or_else(|| format!("address {host} resolves to nothing"))?;
    let poll = Poll::new().map_err(|err| format!("epoll: {err}"))?;
    let mut driver = Driver {
        addr,
        host,
        token,
        until,
        next_index: 0,
        started: Instant::now(),
        poll,
        outcome,
    };
    let mut connections: Vec<Connection<'a>> = (0..concurrency)
        .map(|worker| Connection {
            stream: None,
            operation: make(worker),
            current: None,
            iteration: 0,
            out: Vec::new(),
            written: 0,
            sent_at: Instant::now(),
            resent: false,
            reused: false,
            input: Vec::with_capacity(16 * 1024),
            restart: false,
        })
        .collect();
    for (slot, connection) in connections.iter_mut().enumerate() {
        driver.begin(slot, connection);
    }
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        for (slot, connection) in connections.iter_mut().enumerate() {
            if std::mem::take(&mut connection.restart) {
                driver.begin(slot, connection);
            }
        }
        if connections.iter().all(|c| c.current.is_none()) {
            return Ok(());
        }
        // Operations that failed at once (a refused connect) start again without waiting.
        let wait = if connections.iter().any(|c| c.restart) {
            Duration::ZERO
        } else {
            Duration::from_millis(500)
        };
        driver
            .poll
            .poll(&mut events, Some(wait))
            .or_else(|err| match err.kind() {
                ErrorKind::Interrupted => Ok(()),
                _ => Err(format!("epoll wait: {err}")),
            })?;
        for event in &events {
            if let Some(connection) = connections.get_mut(event.token().0) {
                driver.service(event.token().0, connection, &mut buf);
            }
        }
        for connection in &mut connections {
            if connection.current.is_some()
                && !connection.restart
                && connection.sent_at.elapsed() > ANSWER_TIMEOUT
            {
                driver.fail(connection, "no answer within 60 s".to_owned());
            }
        }
    }
}

impl<'a> Driver<'a, '_> {
    /// Starts the connection's next operation, or finishes it when the phase is over.
    fn begin(&mut self, slot: usize, connection: &mut Connection<'_>) {
        let index = match self.until {
            Until::Count(total) => {
                let index = self.next_index;
                if index >= total {
                    return self.finish(connection);
                }
                self.next_index += 1;
                index
            }
            Until::Elapsed(duration) => {
                if self.started.elapsed() >= duration {
                    return self.finish(connection);
                }
                connection.iteration
            }
        };
        connection.iteration += 1;
        connection.current = Some((index, Instant::now()));
        let step = (connection.operation)(index, None);
        self.step(slot, connection, step);
    }

    fn finish(&mut self, connection: &mut Connection<'_>) {
        connection.current = None;
        if let Some(mut stream) = connection.stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
    }

    fn step(&mut self, slot: usize, connection: &mut Connection<'_>, step: Step) {
        match step {
            Step::Send(request) => {
                connection.out = request.encode(self.host, self.token);
                connection.resent = false;
                self.send(slot, connection);
            }
            Step::Done(response) => {
                let failure = (!(200..300).contains(&response.status)).then(|| {
                    format!(
                        "HTTP {}: {}",
                        response.status,
                        String::from_utf8_lossy(&response.body)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    )
                });
                if let Some((_, started)) = connection.current {
                    self.outcome.record(started, failure);
                }
                self.begin(slot, connection);
            }
        }
    }

    /// Writes `connection.out` from the start, on a new connection if it has none.
    fn send(&mut self, slot: usize, connection: &mut Connection<'_>) {
        connection.written = 0;
        connection.input.clear();
        connection.sent_at = Instant::now();
        if connection.stream.is_none() {
            match self.connect(slot) {
                Ok(stream) => {
                    connection.stream = Some(stream);
                    connection.reused = false;
                }
                Err(failure) => return self.fail(connection, failure),
            }
        }
        self.flush(slot, connection);
    }

    fn connect(&mut self, slot: usize) -> Result<TcpStream, String> {
        let stream = std::net::TcpStream::connect(self.addr)
            .map_err(|err| format!("connect {}: {err}", self.addr))?;
        let _ = stream.set_nodelay(true);
        stream
            .set_nonblocking(true)
            .map_err(|err| format!("non-blocking socket: {err}"))?;
        let mut stream = TcpStream::from_std(stream);
        self.poll
            .registry()
            .register(
                &mut stream,
                Token(slot),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|err| format!("epoll register: {err}"))?;
        Ok(stream)
    }

    fn flush(&mut self, slot: usize, connection: &mut Connection<'_>) {
        while connection.written < connection.out.len() {
            let Some(stream) = connection.stream.as_mut() else {
                return;
            };
            match stream.write(&connection.out[connection.written..]) {
                Ok(0) => return self.closed(slot, connection),
                Ok(written) => connection.written += written,
                Err(err) if err.kind() == ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.closed(slot, connection),
            }
        }
    }

    /// Handles a readiness event: writes what is left of the request, reads what arrived, and
    /// moves the operation on when its answer is whole.
    fn service(&mut self, slot: usize, connection: &mut Connection<'_>, buf: &mut [u8]) {
        if connection.current.is_none() || connection.restart || connection.stream.is_none() {
            return;
        }
        if connection.written < connection.out.len() {
            self.flush(slot, connection);
            if connection.written < connection.out.len() {
                return;
            }
        }
        let mut at_end = false;
        loop {
            let Some(stream) = connection.stream.as_mut() else {
                return;
            };
            match stream.read(buf) {
                Ok(0) => {
                    at_end = true;
                    break;
                }
                Ok(read) => connection.input.extend_from_slice(&buf[..read]),
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    at_end = true;
                    break;
                }
            }
        }
        match parse_response(&connection.input, at_end) {
            Ok(Some(parsed)) => {
                connection.reused = true;
                if parsed.close || at_end {
                    self.drop_stream(connection);
                }
                let index = connection.current.map_or(0, |(index, _)| index);
                let step = (connection.operation)(index, Some(parsed.response));
                self.step(slot, connection, step);
            }
            Ok(None) if at_end => self.closed(slot, connection),
            Ok(None) => {}
            Err(failure) => self.fail(connection, failure),
        }
    }

    /// The server closed the connection before the whole answer: a kept-alive connection it
    /// had closed meanwhile gets the request again once on a new one; anything else fails.
    fn closed(&mut self, slot: usize, connection: &mut Connection<'_>) {
        let retry = connection.reused && !connection.resent && connection.input.is_empty();
        self.drop_stream(connection);
        if retry {
            connection.resent = true;
            self.send(slot, connection);
        } else {
            self.fail(connection, "connection closed before the answer".to_owned());
        }
    }

    /// Records the operation as failed; the event loop starts the next one on a new connection.
    fn fail(&mut self, connection: &mut Connection<'_>, failure: String) {
        self.drop_stream(connection);
        if let Some((_, started)) = connection.current {
            self.outcome.record(started, Some(failure));
        }
        connection.restart = true;
    }

    fn drop_stream(&mut self, connection: &mut Connection<'_>) {
        if let Some(mut stream) = connection.stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
    }
}

/// A small xorshift generator: each worker picks users at random without a dependency.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub(crate) fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;

    /// A server answering `200` to every request; with `close_after_each`, it closes every
    /// connection after one answer without saying so (a kept-alive connection gone stale).
    fn answering_server(close_after_each: bool) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut reader = std::io::BufReader::new(stream);
                    let mut line = String::new();
                    loop {
                        // The request head (the load sends no bodies here).
                        let mut blank_seen = false;
                        while !blank_seen {
                            line.clear();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            blank_seen = line == "\r\n";
                        }
                        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if reader.get_mut().write_all(answer).is_err() || close_after_each {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn runs_every_operation_once_over_kept_alive_connections() {
        let addr = answering_server(false);
        let seen = std::cell::RefCell::new(Vec::new());
        let outcome = run(&addr, "t", 4, Until::Count(200), |_| {
            let seen = &seen;
            single(move |index| {
                seen.borrow_mut().push(index);
                Request::get(format!("/item/{index}"))
            })
        });
        assert_eq!((outcome.requests(), outcome.errors), (200, 0));
        let mut seen = seen.into_inner();
        seen.sort_unstable();
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
    }

    #[test]
    fn resends_once_when_a_kept_alive_connection_was_closed() {
        let addr = answering_server(true);
        let outcome = run(&addr, "t", 2, Until::Count(20), |_| {
            single(|_| Request::get("/".to_owned()))
        });
        assert_eq!(
            (outcome.requests(), outcome.errors),
            (20, 0),
            "{:?}",
            outcome.first_error
        );
    }

    #[test]
    fn a_refused_connection_fails_each_operation_without_recursing() {
        let addr = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().to_string()
        };
        let outcome = run(&addr, "t", 2, Until::Count(5_000), |_| {
            single(|_| Request::get("/".to_owned()))
        });
        assert_eq!((outcome.requests(), outcome.errors), (5_000, 5_000));
        assert!(outcome.first_error.unwrap().starts_with("connect"));
    }

    #[test]
    fn percentiles_and_rate() {
        let outcome = Outcome {
            latencies_us: (1..=100).map(|ms| ms * 1000).collect(),
            errors: 0,
            first_error: None,
            elapsed: Duration::from_secs(2),
            server_cpu: Some(Duration::from_millis(500)),
            database_cpu: None,
        };
        assert_eq!(outcome.percentile_ms(0.5), 50.0);
        assert_eq!(outcome.percentile_ms(0.99), 99.0);
        assert_eq!(outcome.per_second(), 50.0);
        assert_eq!(outcome.server_us_per_request(), Some(5_000.0));
        let brief = Outcome {
            server_cpu: Some(Duration::from_millis(90)),
            database_cpu: None,
            ..outcome
        };
        assert_eq!(brief.server_us_per_request(), None);
    }

    #[test]
    fn rng_stays_in_bounds() {
        let mut rng = Rng::new(7);
        assert!((0..1000).all(|_| rng.below(10) < 10));
    }
}
