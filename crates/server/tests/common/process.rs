//! A real `roster` process on a test's database: CLI commands and `roster serve` (started on a
//! free loopback port, killed on drop), for the test crates that drive the binary.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use roster_store::testing::TestStore;
use serde_json::Value;

/// The `roster` binary on the test's database, as an operator runs it.
pub fn roster(db: &TestStore) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    command
        .env("ROSTER__DATABASE__URL", &db.url)
        .env("ROSTER__SECURITY__DATA_KEY", &db.data_key)
        .env("ROSTER__SERVER__PUBLIC_URL", "https://roster.example.test")
        .env("ROSTER__LOG__FORMAT", "json")
        .env_remove("ROSTER_CONFIG")
        .current_dir(std::env::temp_dir());
    command
}

/// Runs `roster ARGS...` to completion.
pub fn run(db: &TestStore, args: &[&str]) -> Output {
    roster(db).args(args).output().unwrap()
}

/// Runs `roster` with `words`, split on whitespace (`cli(&db, "role list --workspace acme")`),
/// for commands whose arguments hold no space.
pub fn cli(db: &TestStore, words: &str) -> Output {
    run(db, &words.split_whitespace().collect::<Vec<_>>())
}

/// The JSON a successful command printed (fails the test, with its stderr, if it failed).
pub fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Asserts an operator error: exit 1, nothing on stdout, `message` on stderr.
pub fn fails_with(output: &Output, message: &str) {
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "nothing on stdout when failing");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(message), "{stderr}");
}

/// A loopback address with a port nobody listens on (yet).
pub fn free_loopback_addr() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// Waits (20 s at most) until a freshly started `roster serve` accepts connections on `addr`.
pub fn wait_until_listening(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "roster serve did not start listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running `roster serve`.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Server {
    /// Starts `roster serve` with its log on a pipe (read it after stopping the server).
    pub fn start(db: &TestStore) -> Self {
        Self::spawn(db, &[], Stdio::piped())
    }

    /// Starts `roster serve` with extra environment, its log discarded (long runs would fill a pipe).
    pub fn start_with(db: &TestStore, env: &[(&str, &str)]) -> Self {
        Self::spawn(db, env, Stdio::null())
    }

    fn spawn(db: &TestStore, env: &[(&str, &str)], stderr: Stdio) -> Self {
        let addr = free_loopback_addr();
        let child = roster(db)
            .envs(env.iter().copied())
            .env("ROSTER__SERVER__BIND", &addr)
            .env("ROSTER__SERVER__SHUTDOWN_TIMEOUT_SECS", "5")
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let server = Self { child, addr };
        wait_until_listening(&server.addr);
        server
    }

    /// A minimal HTTP/1.1 GET: (status, headers, body).
    pub fn get(&self, path: &str, extra_headers: &str) -> (u16, String, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{extra_headers}\r\n",
            self.addr
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, head.to_lowercase(), body.to_owned())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
