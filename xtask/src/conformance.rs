//! `cargo xtask conformance`: runs the independent SCIM checker scim2-tester (from PyPI, pinned
//! in `xtask/conformance/requirements.txt`) against a freshly started Roster on a throwaway
//! SQLite database, and fails on any ERROR or CRITICAL result. `cargo xtask test` runs it last.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::instance::Instance;
use crate::{repo_root, say};

/// Builds Roster (unless `binary` is given) and runs the checker; `Ok((passed, failed))`.
pub(crate) fn run_checker(binary: Option<&Path>) -> Result<(u64, u64), String> {
    let root = repo_root();
    let python = roster_devtools::python::venv(
        &root,
        "conformance-venv",
        &root
            .join("xtask")
            .join("conformance")
            .join("requirements.txt"),
    )?;
    let mut roster = Instance::create("conformance", binary)?;
    roster.cli(&["workspace", "create", "conformance"])?;
    roster.cli(&[
        "connection",
        "create",
        "--workspace",
        "conformance",
        "--name",
        "checker",
        "--kind",
        "scim",
    ])?;
    let token = roster.cli(&[
        "token",
        "create",
        "--workspace",
        "conformance",
        "--connection",
        "checker",
    ])?;
    roster.serve(Stdio::inherit())?;
    let scim_base = format!("{}/scim/v2", roster.base_url());
    say(&format!("running scim2-tester against {scim_base}"));
    let output = Command::new(&python)
        .arg(
            root.join("xtask")
                .join("conformance")
                .join("scim_tester.py"),
        )
        .arg(&scim_base)
        .arg(&token)
        .output()
        .map_err(|err| format!("cannot run scim2-tester: {err}"))?;
    drop(roster);
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

/// `cargo xtask conformance [--binary PATH]`: `--binary` runs a roster built already instead of
/// building the debug one.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let binary = crate::instance::binary_option("conformance", args)?;
    run_checker(binary.as_deref()).map(|_| ())
}
