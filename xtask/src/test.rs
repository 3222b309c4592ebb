//! `cargo xtask test`: what CI runs. Formatting, clippy with warnings denied, every test against
//! SQLite, then every test again against a throwaway PostgreSQL (tests that touch data pick the
//! backend from `TEST_DATABASE_URL`; the second run reuses the first run's build), then the
//! scim2-tester conformance check, schemathesis against the admin API, the deployment file
//! checks, the image check (`image.rs`) and bounded fuzzing. Ends with one summary line,
//! `N passed, N failed`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::postgres::{Durability, Throwaway};
use crate::{repo_root, run_checked, say, system};

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.ignored += other.ignored;
    }
}

/// What a clean `cargo xtask test` writes (test binaries, the fuzz build, the release build the
/// image and crash checks use, the venvs), measured on a fresh checkout with some slack.
const DISK_NEEDED_GB: u64 = 20;

/// Says so up front when the disk holding the build is short, rather than letting a compiler die
/// twenty minutes in with "No space left on device".
fn warn_if_disk_is_short() {
    let target = crate::cargo_target_dir();
    let probe = if target.exists() { target } else { repo_root() };
    let Ok(output) = Command::new("df")
        .args(["--output=avail", "-B1G"])
        .arg(&probe)
        .output()
    else {
        return;
    };
    let free_gb = String::from_utf8_lossy(&output.stdout)
        .lines()
        .nth(1)
        .and_then(|line| line.trim().parse::<u64>().ok());
    if let Some(free_gb) = free_gb.filter(|&gb| gb < DISK_NEEDED_GB) {
        say(&format!(
            "warning: {free_gb} GB free where {} builds; a clean run needs about {DISK_NEEDED_GB} GB \
             (`cargo clean` or removing target/debug/incremental frees space)",
            probe.display()
        ));
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let sqlite_only = args.iter().any(|a| a == "--sqlite-only");
    if let Some(unknown) = args.iter().find(|a| a.as_str() != "--sqlite-only") {
        return Err(format!("unknown option {unknown:?} for `cargo xtask test`"));
    }
    warn_if_disk_is_short();
    system::ensure(system::BUILD)?;
    if !sqlite_only {
        system::ensure(system::TEST)?;
    }
    say("installing the local SAML and OIDC IdPs (e2e/idps) and headless Chromium with playwright-core (e2e/console) for the end-to-end tests");
    crate::idps::ensure_idps()?;
    say("installing the example products' packages (npm ci in examples/node; pip install -r examples/python/requirements.txt into target/examples-python-venv)");
    let examples_python = crate::examples::prepare()?;
    let root = repo_root();

    say("checking formatting (cargo fmt --all -- --check)");
    run_checked(
        Command::new("cargo")
            .current_dir(&root)
            .args(["fmt", "--all", "--", "--check"]),
    )
    .map_err(|err| format!("{err}: run `cargo fmt --all`"))?;

    say("linting (cargo clippy --workspace --all-targets -- -D warnings)");
    run_checked(Command::new("cargo").current_dir(&root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;

    say("running every test on SQLite");
    let sqlite = cargo_test(&root, &examples_python, None)?;
    report("SQLite", sqlite);
    let mut total = sqlite;

    if sqlite.failed == 0 && !sqlite_only {
        let postgres = Throwaway::start(Durability::Off)?;
        say("running every test again on PostgreSQL (TEST_DATABASE_URL set)");
        let pg = cargo_test(&root, &examples_python, Some(&postgres.url));
        drop(postgres);
        let pg = pg?;
        report("PostgreSQL", pg);
        total.add(pg);
    }

    if total.failed == 0 {
        let (passed, failed) = crate::conformance::run_checker(None)?;
        add_stage(&mut total, "scim2-tester", passed, failed);
        let (passed, failed) = crate::schemathesis::run_checker(None)?;
        add_stage(
            &mut total,
            "schemathesis (admin API operations)",
            passed,
            failed,
        );
        let (passed, failed) = crate::checks::deploy()?;
        add_stage(&mut total, "deploy/check.py", passed, failed);
        let (passed, failed) = crate::image::check(&crate::image::Options::default())?;
        add_stage(
            &mut total,
            "image check (debootstrap + chroot)",
            passed,
            failed,
        );
        let fuzzed = crate::checks::fuzz()?;
        add_stage(&mut total, "fuzz targets", fuzzed, 0);
    }

    say(&format!(
        "summary: {} passed, {} failed, {} ignored{}",
        total.passed,
        total.failed,
        total.ignored,
        if sqlite_only {
            " (SQLite only)"
        } else {
            " (SQLite + PostgreSQL)"
        }
    ));
    // The plain closing line CI reads.
    eprintln!("{} passed, {} failed", total.passed, total.failed);
    if total.failed > 0 {
        return Err(format!("{} tests failed", total.failed));
    }
    if total.passed == 0 {
        return Err("no test ran".to_owned());
    }
    Ok(())
}

/// Reports a stage's counts and adds them to the total.
fn add_stage(total: &mut Counts, stage: &str, passed: u64, failed: u64) {
    let counts = Counts {
        passed,
        failed,
        ignored: 0,
    };
    report(stage, counts);
    total.add(counts);
}

fn report(backend: &str, counts: Counts) {
    say(&format!(
        "{backend}: {} passed, {} failed, {} ignored",
        counts.passed, counts.failed, counts.ignored
    ));
}

/// Runs `cargo test --workspace`, echoing its output and adding up its `test result:` lines.
/// `examples_python` is the Python with the Python example product's packages.
fn cargo_test(
    root: &std::path::Path,
    examples_python: &std::path::Path,
    database_url: Option<&str>,
) -> Result<Counts, String> {
    let mut command = Command::new("cargo");
    command
        .current_dir(root)
        .args(["test", "--workspace", "--locked", "--no-fail-fast"])
        // The SSO and example-product end-to-end tests run only when the IdPs and the
        // products' packages above are installed.
        .env("ROSTER_E2E", "1")
        .env(crate::examples::PYTHON_ENV, examples_python)
        .stdout(Stdio::piped());
    match database_url {
        Some(url) => command.env("TEST_DATABASE_URL", url),
        None => command.env_remove("TEST_DATABASE_URL"),
    };
    let mut child = command
        .spawn()
        .map_err(|err| format!("cannot run cargo test: {err}"))?;
    let mut counts = Counts::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|err| format!("reading cargo test output: {err}"))?;
            println_passthrough(&line);
            if let Some(result) = parse_result_line(&line) {
                counts.add(result);
            }
        }
    }
    let status = child.wait().map_err(|err| format!("cargo test: {err}"))?;
    if !status.success() && counts.failed == 0 {
        return Err(format!(
            "cargo test failed ({status}) before reporting a failed test"
        ));
    }
    Ok(counts)
}

#[expect(
    clippy::print_stdout,
    reason = "passes cargo test's own output through"
)]
fn println_passthrough(line: &str) {
    println!("{line}");
}

/// Parses a plain closing line `N passed, N failed[, N skipped]` into (passed, failed).
pub(crate) fn plain_counts(line: &str) -> Option<(u64, u64)> {
    let mut passed = None;
    let mut failed = None;
    for part in line.split(',') {
        let mut words = part.split_whitespace();
        let (Some(number), Some(label)) = (words.next(), words.next()) else {
            continue;
        };
        match (number.parse::<u64>(), label) {
            (Ok(n), "passed") => passed = Some(n),
            (Ok(n), "failed") => failed = Some(n),
            _ => {}
        }
    }
    Some((passed?, failed?))
}

/// Parses `test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; ...`.
fn parse_result_line(line: &str) -> Option<Counts> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let mut counts = Counts::default();
    for part in rest.split(';') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (number, label) = match words.as_slice() {
            [_, number, label, ..] if number.parse::<u64>().is_ok() => (*number, *label),
            [number, label, ..] => (*number, *label),
            _ => continue,
        };
        let Ok(number) = number.parse::<u64>() else {
            continue;
        };
        match label {
            "passed" => counts.passed = number,
            "failed" => counts.failed = number,
            "ignored" => counts.ignored = number,
            _ => {}
        }
    }
    Some(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_closing_lines() {
        assert_eq!(plain_counts("13 passed, 0 failed"), Some((13, 0)));
        assert_eq!(
            plain_counts("130 passed, 2 failed, 1 skipped"),
            Some((130, 2))
        );
        assert_eq!(plain_counts("ok   Dockerfile"), None);
    }

    #[test]
    fn parses_cargo_test_result_lines() {
        let ok = parse_result_line(
            "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.11s",
        )
        .unwrap();
        assert_eq!((ok.passed, ok.failed, ok.ignored), (12, 0, 1));
        let failed =
            parse_result_line("test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured")
                .unwrap();
        assert_eq!((failed.passed, failed.failed), (3, 2));
        assert!(parse_result_line("running 3 tests").is_none());
    }
}
