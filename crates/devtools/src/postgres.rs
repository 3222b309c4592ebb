//! A throwaway PostgreSQL cluster: initdb in a temporary directory, started on a free loopback
//! port, stopped and deleted on drop. The test run starts it with durability off (it is thrown
//! away); the bench starts it with PostgreSQL's own defaults, the durability production runs
//! with, since that is what its figures are for.
//!
//! initdb and postgres refuse to run as root; as root they run as the `postgres` user.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::say;

/// A running throwaway cluster; `url` connects to its `postgres` database as `postgres`.
pub struct Throwaway {
    dir: PathBuf,
    bin: PathBuf,
    as_postgres_user: bool,
    port: u16,
    pub url: String,
}

fn server_bin_dir() -> Result<PathBuf, String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|err| format!("no PostgreSQL server found in /usr/lib/postgresql: {err}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".to_owned())
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|err| format!("cannot find a free port: {err}"))
}

/// How a throwaway cluster commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// PostgreSQL's defaults: `fsync`, `synchronous_commit` and `full_page_writes` on, so an
    /// acknowledged commit is on disk.
    Production,
    /// `fsync`, `synchronous_commit` and `full_page_writes` off: for tests, whose data is
    /// thrown away.
    Off,
}

impl Durability {
    /// The server options that set it (none for the defaults).
    fn options(self) -> &'static str {
        match self {
            Durability::Production => "",
            Durability::Off => " -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
        }
    }

    /// The settings, as a report names them.
    pub fn describe(self) -> &'static str {
        match self {
            Durability::Production => {
                "fsync, synchronous_commit and full_page_writes on (PostgreSQL's defaults)"
            }
            Durability::Off => "fsync, synchronous_commit and full_page_writes off",
        }
    }
}

impl Throwaway {
    pub fn start(durability: Durability) -> Result<Self, String> {
        let bin = server_bin_dir()?;
        let as_postgres_user = crate::system::is_root();
        let dir = std::env::temp_dir().join(format!("roster-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
        if as_postgres_user {
            crate::run_checked(Command::new("chown").args(["postgres:postgres"]).arg(&dir))?;
        }
        let port = free_port()?;
        let this = Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            bin,
            as_postgres_user,
            port,
        };
        say(&format!(
            "starting a throwaway PostgreSQL in {} on 127.0.0.1:{port} ({})",
            this.dir.display(),
            durability.describe()
        ));
        let data = this.dir.join("data");
        this.pg(
            "initdb",
            &[
                "-D",
                path_str(&data)?,
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300{}",
            path_str(&this.dir)?,
            durability.options()
        );
        let log = this.dir.join("postgres.log");
        this.pg(
            "pg_ctl",
            &[
                "-D",
                path_str(&data)?,
                "-o",
                &options,
                "-l",
                path_str(&log)?,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        Ok(this)
    }

    /// The postmaster's pid (the first line of `postmaster.pid`), whose children are the
    /// backends: the bench measures their CPU time.
    pub fn postmaster_pid(&self) -> Option<u32> {
        let file = std::fs::read_to_string(self.dir.join("data").join("postmaster.pid")).ok()?;
        file.lines().next()?.trim().parse().ok()
    }

    /// Runs one of the cluster's client programs (`psql`, `pgbench`) against it, connected
    /// as `postgres` over loopback TCP as the server is, and returns what it printed.
    pub fn client(&self, tool: &str, args: &[&str]) -> Result<String, String> {
        let port = self.port.to_string();
        let mut command = self.command(tool);
        command
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres"])
            .args(args);
        let output = command
            .output()
            .map_err(|err| format!("cannot run {tool}: {err}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(format!(
                "{tool} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }

    fn pg(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let mut command = self.command(tool);
        command.args(args).stdout(std::process::Stdio::null());
        crate::run_checked(&mut command)
    }

    /// `tool` from the server's directory, as the `postgres` user when this process is root.
    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        }
    }
}

fn path_str(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("non-UTF-8 path {}", path.display()))
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        say("stopping the throwaway PostgreSQL");
        let data = self.dir.join("data");
        if let Some(data) = data.to_str() {
            let _ = self.pg("pg_ctl", &["-D", data, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
