//! Node.js parts of the checks and benches (the OpenID Provider and console driver of the e2e
//! tests, the Node SCIM peers of `cargo xtask bench --peers`): each a folder with a committed
//! `package-lock.json`, installed with `npm ci` from the npm registry and reused until the lock
//! file changes.

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use crate::{run_checked, say};

/// Fails with a clear message unless `node` and `npm` run; `what` says what needs them.
pub fn require(what: &str) -> Result<(), String> {
    for tool in ["node", "npm"] {
        if Command::new(tool).arg("--version").output().is_err() {
            return Err(format!(
                "{tool} not found: {what} need Node.js >= 20 with npm"
            ));
        }
    }
    Ok(())
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// `npm ci` in `dir` when `node_modules` is missing or older than the committed lock file (npm
/// writes node_modules/.package-lock.json on every install: older than the lock file means
/// someone bumped a version since).
pub fn npm_ci(dir: &Path, package: &str) -> Result<(), String> {
    let lock = dir.join("package-lock.json");
    let installed = dir.join("node_modules").join(".package-lock.json");
    let stale = match (modified(&installed), modified(&lock)) {
        (Some(installed), Some(lock)) => installed < lock,
        _ => true,
    };
    if stale
        || !dir
            .join("node_modules")
            .join(package)
            .join("package.json")
            .exists()
    {
        say(&format!("npm ci in {} ({package})", dir.display()));
        run_checked(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(dir),
        )?;
    }
    Ok(())
}
