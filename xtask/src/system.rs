//! System packages the build and the tests need, installed with apt-get when missing.
//!
//! As root (CI, containers, fresh machines) missing packages are installed; otherwise the exact
//! command is printed and the step fails, so nothing happens behind the operator's back.

use std::process::Command;

use crate::say;

/// What building Roster needs: a C toolchain's friends for the -sys crates (`pkg-config`, the
/// PostgreSQL client library for diesel's `pq-sys`, and for samael's XML signatures libxmlsec1
/// and libxml2 with libclang for its bindgen build script). SQLite is compiled in (bundled).
pub(crate) const BUILD: &[&str] = &[
    "pkg-config",
    "libpq-dev",
    "libclang-dev",
    "libxml2-dev",
    "libxmlsec1-dev",
];

/// What `cargo xtask test` needs on top: a PostgreSQL server to start a throwaway cluster.
pub(crate) const TEST: &[&str] = &["postgresql"];

fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Makes sure every package of `packages` is installed.
pub(crate) fn ensure(packages: &[&str]) -> Result<(), String> {
    if Command::new("dpkg-query")
        .arg("--version")
        .output()
        .is_err()
    {
        say("not a Debian-like system (no dpkg-query): skipping the system package check");
        return Ok(());
    }
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !is_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let install = format!(
        "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if !is_root() {
        return Err(format!(
            "missing system packages: {}. Install them with:\n  sudo sh -c '{install}'",
            missing.join(" ")
        ));
    }
    say(&format!(
        "installing missing system packages: {}",
        missing.join(" ")
    ));
    crate::run_checked(Command::new("sh").args(["-c", &install]))
}
