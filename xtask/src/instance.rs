//! A throwaway Roster for the checks that drive a running server from outside, as a client would
//! (scim2-tester in `conformance.rs`, schemathesis in `schemathesis.rs`): the debug binary, a
//! fresh SQLite database in a temporary directory, a free loopback port, the operator CLI to set
//! up a workspace, and `roster serve`, killed (and the directory removed) when the instance is
//! dropped, however the run ends.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{repo_root, run_checked, say};

/// The options of a command run against a throwaway Roster: none (build the debug binary) or
/// `--binary PATH` (a roster built already).
pub(crate) fn binary_option(command: &str, args: &[String]) -> Result<Option<PathBuf>, String> {
    match args {
        [] => Ok(None),
        [flag, path] if flag == "--binary" => Ok(Some(PathBuf::from(path))),
        [unknown, ..] => Err(format!(
            "unknown option {unknown:?} for `cargo xtask {command}` (only --binary PATH)"
        )),
    }
}

/// A migrated Roster on a throwaway SQLite database, serving once `serve` is called.
pub(crate) struct Instance {
    binary: PathBuf,
    dir: PathBuf,
    bind: String,
    /// The instance's `security.data_key`, made by `roster data-key generate`.
    data_key: String,
    server: Option<Child>,
}

impl Instance {
    /// Builds roster (debug), unless `binary` names one built already, and migrates a fresh
    /// database; `purpose` names the run in the log and the temporary directory.
    pub(crate) fn create(purpose: &str, binary: Option<&Path>) -> Result<Self, String> {
        let binary = match binary {
            Some(binary) => binary.to_path_buf(),
            None => {
                say(&format!("building roster (debug) for the {purpose} run"));
                run_checked(Command::new("cargo").current_dir(repo_root()).args([
                    "build",
                    "--quiet",
                    "--locked",
                    "--package",
                    "roster-server",
                ]))?;
                crate::cargo_target_dir().join("debug").join("roster")
            }
        };
        let dir = std::env::temp_dir().join(format!("roster-{purpose}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|err| format!("no free port: {err}"))?;
        let mut instance = Instance {
            binary,
            dir,
            bind: format!("127.0.0.1:{port}"),
            data_key: String::new(),
            server: None,
        };
        instance.data_key = instance.cli(&["data-key", "generate"])?;
        instance.cli(&["migrate"])?;
        Ok(instance)
    }

    /// `http://127.0.0.1:PORT`, where `serve` listens.
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.bind)
    }

    /// Runs the operator CLI (`roster ARGS...`) on this instance's database; its trimmed stdout
    /// (the JSON or the bare secret docs/cli.md promises), or its stderr when it fails.
    pub(crate) fn cli(&self, args: &[&str]) -> Result<String, String> {
        let output = self
            .command(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|err| format!("cannot run roster {}: {err}", args.join(" ")))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        } else {
            Err(format!(
                "roster {} failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }

    /// Starts `roster serve`, its log to `log`, and waits (30 s at most) until it accepts
    /// connections.
    pub(crate) fn serve(&mut self, log: Stdio) -> Result<(), String> {
        let child = self
            .command(&["serve"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|err| format!("cannot start roster: {err}"))?;
        self.server = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&self.bind).is_err() {
            if Instant::now() > deadline {
                return Err(format!("roster did not start listening on {}", self.bind));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .env(
                "ROSTER__DATABASE__URL",
                format!("sqlite://{}", self.dir.join("roster.db").display()),
            )
            .env("ROSTER__SERVER__BIND", &self.bind)
            .env("ROSTER__SECURITY__DATA_KEY", &self.data_key)
            .env("ROSTER__LOG__LEVEL", "warn");
        command
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(server) = self.server.as_mut() {
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
