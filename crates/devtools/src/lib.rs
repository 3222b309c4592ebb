//! The helpers two developer tools share: `cargo xtask` (`xtask/`) and the bench it dispatches to
//! (`crates/bench`, package `roster-bench`). Both announce their steps on stderr, run cargo and
//! system tools to completion, install system packages, start a throwaway PostgreSQL, set up Node
//! and Python parts, and speak a little HTTP/1.1 (the bench's load and setup, the image check's
//! probes). One small library keeps one copy of each instead of two drifting apart; passing all
//! of it from xtask to the bench as arguments would not do, since the bench starts PostgreSQL
//! and the peers itself, mid-run.
//!
//! No dependencies beyond the standard library, so neither tool's build grows. Steps print with
//! the `xtask:` prefix, whichever of the two prints them: the bench runs as `cargo xtask bench`.

pub mod http;
pub mod node;
pub mod postgres;
pub mod python;
pub mod system;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Prints a step to stderr.
pub fn say(message: &str) {
    eprintln!("xtask: {message}");
}

/// A tool's exit: success, or its error on stderr (`xtask: error: …`) and failure.
pub fn exit_code(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (two levels above this crate's directory, `crates/devtools`).
pub fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// Where cargo puts build output: `CARGO_TARGET_DIR` when set (relative to the repository),
/// else `target/`.
pub fn cargo_target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => repo_root().join(dir),
        None => repo_root().join("target"),
    }
}

/// Runs a command to completion, failing with its command line when it fails.
pub fn run_checked(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|err| format!("cannot run {command:?}: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})"))
    }
}

/// The value of the string field `key` in the JSON a `roster` command printed (flat string
/// fields; whitespace around the colon allowed).
pub fn json_field(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json[start..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_string_fields_of_the_cli_output() {
        let json = r#"{"id": "c1", "acs_url": "http://127.0.0.1:5/sso/saml/c1/acs"}"#;
        assert_eq!(
            json_field(json, "acs_url").as_deref(),
            Some("http://127.0.0.1:5/sso/saml/c1/acs")
        );
        assert_eq!(json_field(json, "missing"), None);
        let pretty = "{\n  \"password\": \"abc123\",\n  \"id\": \"x\"\n}";
        assert_eq!(json_field(pretty, "password").as_deref(), Some("abc123"));
    }

    #[test]
    fn the_repository_root_holds_the_workspace() {
        assert!(repo_root().join("Cargo.toml").is_file());
        assert!(repo_root().join("xtask").is_dir());
    }
}
