//! `cargo xtask conformance`: runs the independent SCIM checker scim2-tester (from PyPI, pinned
//! in `xtask/conformance/requirements.txt`) against a freshly started Roster on a throwaway
//! SQLite database, and fails on any ERROR or CRITICAL result. `cargo xtask test` runs it last.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{repo_root, run_checked, say};

/// Kills the server when the run ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn capture(command: &mut Command) -> Result<String, String> {
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|err| format!("{command:?}: {err}"))?;
    if !output.status.success() {
        return Err(format!("{command:?} failed ({})", output.status));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Builds (if needed) and runs the checker; `Ok((passed, failed))`.
pub(crate) fn run_checker() -> Result<(u64, u64), String> {
    let root = repo_root();
    let python = crate::python::venv(
        &root,
        "conformance-venv",
        &root
            .join("xtask")
            .join("conformance")
            .join("requirements.txt"),
    )?;
    say("building roster (debug) for the conformance run");
    run_checked(Command::new("cargo").current_dir(&root).args([
        "build",
        "--quiet",
        "--locked",
        "--package",
        "roster-server",
    ]))?;
    let binary = crate::cargo_target_dir().join("debug").join("roster");
    let dir = std::env::temp_dir().join(format!("roster-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|err| format!("no free port: {err}"))?;
    let bind = format!("127.0.0.1:{port}");
    let roster = |args: &[&str]| {
        let mut command = Command::new(&binary);
        command
            .args(args)
            .env(
                "ROSTER__DATABASE__URL",
                format!("sqlite://{}", dir.join("roster.db").display()),
            )
            .env("ROSTER__SERVER__BIND", &bind)
            .env("ROSTER__LOG__LEVEL", "warn");
        command
    };
    capture(&mut roster(&["migrate"]))?;
    capture(&mut roster(&["workspace", "create", "conformance"]))?;
    capture(&mut roster(&[
        "connection",
        "create",
        "--workspace",
        "conformance",
        "--name",
        "checker",
        "--kind",
        "scim",
    ]))?;
    let token = capture(&mut roster(&[
        "token",
        "create",
        "--workspace",
        "conformance",
        "--connection",
        "checker",
    ]))?;
    let server = Server(
        roster(&["serve"])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|err| format!("cannot start roster: {err}"))?,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&bind).is_err() {
        if Instant::now() > deadline {
            return Err("roster did not start listening".to_owned());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    say(&format!(
        "running scim2-tester against http://{bind}/scim/v2"
    ));
    let output = Command::new(&python)
        .arg(
            root.join("xtask")
                .join("conformance")
                .join("scim_tester.py"),
        )
        .arg(format!("http://{bind}/scim/v2"))
        .arg(&token)
        .output()
        .map_err(|err| format!("cannot run scim2-tester: {err}"))?;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in stdout.lines().filter(|l| !l.starts_with("SUCCESS")) {
        eprintln!("  {line}");
    }
    let summary = stdout.lines().last().unwrap_or_default();
    let number = |label: &str| -> u64 {
        summary
            .split(',')
            .find(|part| part.contains(label))
            .and_then(|part| part.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let (passed, failed) = (number("passed"), number("failed"));
    if !output.status.success() || failed > 0 || passed == 0 {
        return Err(format!(
            "scim2-tester: {passed} passed, {failed} failed{}",
            if output.stderr.is_empty() {
                String::new()
            } else {
                format!("\n{}", String::from_utf8_lossy(&output.stderr))
            }
        ));
    }
    say(&format!("scim2-tester: {summary}"));
    Ok((passed, failed))
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(unknown) = args.first() {
        return Err(format!(
            "unknown option {unknown:?} for `cargo xtask conformance`"
        ));
    }
    run_checker().map(|_| ())
}
