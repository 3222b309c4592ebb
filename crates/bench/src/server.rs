//! One Roster server to measure: a `bench` workspace with a SCIM connection and a token made with
//! the `roster` CLI, then `roster serve` on a free loopback port, ready when `/readyz` answers.
//!
//! Settings are the defaults (durable SQLite commits, pool size, workers = CPUs) except the log
//! level (warn: the log would otherwise cost as much as the work) and the per-connection SCIM rate
//! limit, turned off because with it on the benchmark would measure the limiter (500 req/s),
//! and `127.0.0.1/32` allowed for outbound requests, where the back-channel logout row's receiver
//! listens. Commands run in the temporary directory so no `roster.toml` of the repository is
//! read.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use roster_devtools::http::Client;
use roster_devtools::say;

pub(crate) const WORKSPACE: &str = "bench";
pub(crate) const CONNECTION: &str = "idp";

/// A running `roster serve` (or a SCIM peer), stopped (SIGTERM, then SIGKILL after 40 s) when
/// dropped.
pub(crate) struct Instance {
    pub(crate) name: String,
    child: Option<Child>,
    pub(crate) addr: String,
    pub(crate) token: String,
    pub(crate) log: PathBuf,
}

/// The data key of the bench's databases (`security.data_key`): they are thrown away after the
/// run, so a fixed key keeps every command of a run on the same one.
const THROWAWAY_DATA_KEY: &str = "cm9zdGVyLWJlbmNoLXRocm93YXdheS1kYXRhLWtleSE=";

pub(crate) fn roster(binary: &Path, dir: &Path, database_url: &str, bind: &str) -> Command {
    let mut command = Command::new(binary);
    command
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("ROSTER__DATABASE__URL", database_url)
        .env("ROSTER__SERVER__BIND", bind)
        .env("ROSTER__SECURITY__DATA_KEY", THROWAWAY_DATA_KEY)
        .env("ROSTER__LOG__LEVEL", "warn")
        .env("ROSTER__SCIM__RATE_LIMIT_PER_SECOND", "0")
        .env("ROSTER__SECURITY__ALLOWED_PRIVATE_NETWORKS", "127.0.0.1/32");
    command
}

/// Runs a roster CLI command and returns its trimmed stdout, failing with its stderr.
pub(crate) fn capture(command: &mut Command) -> Result<String, String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run {command:?}: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Creates `workspace` with a SCIM connection and returns a SCIM token for it, through `cli`
/// (a roster command with the given arguments, returning its stdout).
pub(crate) fn provision(
    cli: &mut dyn FnMut(&[&str]) -> Result<String, String>,
    workspace: &str,
) -> Result<String, String> {
    // Only `migrate` (and `serve`) create a SQLite database; the other commands refuse a path
    // with none.
    cli(&["migrate"])?;
    cli(&["workspace", "create", workspace])?;
    cli(&[
        "connection",
        "create",
        "--workspace",
        workspace,
        "--name",
        CONNECTION,
        "--kind",
        "scim",
    ])?;
    cli(&[
        "token",
        "create",
        "--workspace",
        workspace,
        "--connection",
        CONNECTION,
    ])
}

/// A free loopback address (`127.0.0.1:PORT`) to serve on.
pub(crate) fn free_addr() -> Result<String, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| format!("127.0.0.1:{}", addr.port()))
        .map_err(|err| format!("no free port: {err}"))
}

impl Instance {
    /// Creates the workspace, connection and token on `database_url` and starts the server,
    /// its log in `dir/serve.log`.
    pub(crate) fn start(binary: &Path, dir: &Path, database_url: &str) -> Result<Self, String> {
        let addr = free_addr()?;
        let token = provision(
            &mut |args| capture(roster(binary, dir, database_url, &addr).args(args)),
            WORKSPACE,
        )?;
        Self::spawn(
            "roster serve",
            roster(binary, dir, database_url, &addr).arg("serve"),
            addr,
            token,
            dir.join("serve.log"),
            "/readyz",
        )
    }

    /// Starts `command` (a server called `name` in the messages, listening on `addr`), its
    /// stdout and stderr in `log`, and waits until `GET ready_path` (with the bearer `token`)
    /// answers 200. Roster and the SCIM peers the bench compares it with start this way.
    pub(crate) fn spawn(
        name: &str,
        command: &mut Command,
        addr: String,
        token: String,
        log: PathBuf,
        ready_path: &str,
    ) -> Result<Self, String> {
        let log_file = std::fs::File::create(&log)
            .map_err(|err| format!("cannot create {}: {err}", log.display()))?;
        let stdout = log_file
            .try_clone()
            .map_err(|err| format!("{}: {err}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log_file)
            .spawn()
            .map_err(|err| format!("cannot start {name}: {err}"))?;
        let mut instance = Self {
            name: name.to_owned(),
            child: Some(child),
            addr,
            token,
            log,
        };
        instance.wait_ready(ready_path)?;
        super::cpu::watch(instance.child.as_ref().map(Child::id));
        Ok(instance)
    }

    fn wait_ready(&mut self, ready_path: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut client = Client::new(&self.addr, &self.token);
        loop {
            if let Ok(response) = client.request("GET", ready_path, None) {
                if response.status == 200 {
                    say(&format!("  {} is ready on http://{}", self.name, self.addr));
                    return Ok(());
                }
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "{} exited with {status}; see {}",
                        self.name,
                        self.log.display()
                    ));
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} was not ready within 60 s; see {}",
                    self.name,
                    self.log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's peak resident set size (VmHWM) in KiB, from /proc, with its direct
    /// children's (a gunicorn master serves from a worker process; roster and node have none).
    pub(crate) fn peak_rss_kib(&self) -> Option<u64> {
        super::cpu::with_children(self.child.as_ref()?.id(), vm_hwm_kib)
    }

    /// Asks the server to shut down (SIGTERM: in-flight requests finish) and waits for it.
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        super::cpu::watch(None);
        if !matches!(child.try_wait(), Ok(None)) {
            return; // it has exited already (a peer that failed to start)
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        say(&format!(
            "  {} did not stop within 40 s of SIGTERM; killing it",
            self.name
        ));
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop();
    }
}
