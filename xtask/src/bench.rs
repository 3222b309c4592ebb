//! `cargo xtask bench`: runs the bench (`crates/bench`, package `roster-bench`) with the options
//! as given. The bench is a crate of its own — most of the code, and the only part that needs an
//! event loop and an optimised build — so xtask stays small; this keeps the command everyone
//! knows. The bench checks its options, builds roster in release and prints the tables itself.

use std::process::{Command, ExitCode};

use crate::{repo_root, say};

/// Runs the bench to completion and passes its exit code on (it reports its own errors).
pub(crate) fn run(args: &[String]) -> ExitCode {
    let mut command = Command::new("cargo");
    command
        .current_dir(repo_root())
        .args([
            "run",
            "--quiet",
            "--locked",
            "--package",
            "roster-bench",
            "--",
        ])
        .args(args);
    match command.status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => status
            .code()
            .and_then(|code| u8::try_from(code).ok())
            .map_or(ExitCode::FAILURE, ExitCode::from),
        Err(err) => {
            say(&format!("error: cannot run {command:?}: {err}"));
            ExitCode::FAILURE
        }
    }
}
