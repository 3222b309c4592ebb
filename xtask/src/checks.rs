//! The extra checks `cargo xtask test` runs after the test suites: the deployment files
//! (`deploy/check.py`, offline validators pinned in `deploy/requirements.txt`) and bounded fuzzing
//! of the parsers (`fuzz/`, cargo-fuzz on the stable toolchain without sanitizers).

use std::process::Command;

use crate::{repo_root, run_checked, say};

/// Runs `deploy/check.py`; returns (passed, failed) from its closing line.
pub(crate) fn deploy() -> Result<(u64, u64), String> {
    let root = repo_root();
    let python = crate::python::venv(
        &root,
        "deploy-venv",
        &root.join("deploy").join("requirements.txt"),
    )?;
    say("validating the deployment files (deploy/check.py)");
    let output = Command::new(&python)
        .arg(root.join("deploy").join("check.py"))
        .output()
        .map_err(|err| format!("cannot run deploy/check.py: {err}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in stdout.lines() {
        eprintln!("  {line}");
    }
    let counts = crate::test::plain_counts(stdout.lines().last().unwrap_or_default());
    match counts {
        Some((passed, 0)) if output.status.success() && passed > 0 => Ok((passed, 0)),
        Some((passed, failed)) => Err(format!("deploy/check.py: {passed} passed, {failed} failed")),
        None => Err(format!(
            "deploy/check.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}

/// The fuzz targets and how many inputs each runs.
const FUZZ_TARGETS: &[(&str, u32)] = &[
    ("scim_filter", 150_000),
    ("scim_patch_path", 150_000),
    ("scim_patch_apply", 150_000),
    ("scim_list_query", 150_000),
    // Each input goes through libxml2 when it passes the pre-scan: slower, so fewer runs.
    ("saml_response", 100_000),
];
/// CI fuzzes a fixed number of inputs from a fixed seed, so a run is repeatable: the same commit
/// gives the same verdict. Longer exploratory runs (`cargo fuzz run <target>`) are for developers;
/// every crash they find is committed under `fuzz/seeds/<target>/` and replayed here forever.
const FUZZ_SEED: u32 = 20_261_123;
/// A safety net so a pathological slowdown cannot stall CI.
const FUZZ_MAX_SECONDS: u32 = 90;

/// Builds cargo-fuzz if needed and runs every target for a bounded time; returns how many ran
/// clean. A crash leaves its input under `fuzz/artifacts/` and fails the run.
pub(crate) fn fuzz() -> Result<u64, String> {
    let root = repo_root();
    let tools = root.join("target").join("tools");
    let cargo_fuzz = tools.join("bin").join("cargo-fuzz");
    if !cargo_fuzz.exists() {
        say("installing cargo-fuzz 0.13.2 into target/tools");
        run_checked(
            Command::new("cargo")
                .args([
                    "install",
                    "--quiet",
                    "--locked",
                    "cargo-fuzz",
                    "--version",
                    "0.13.2",
                    "--root",
                ])
                .arg(&tools),
        )?;
    }
    let fuzz_dir = root.join("fuzz");
    // Built first and on its own, so a build that fails (a compile error, a full disk) is reported
    // as that and never as a crash the fuzzer found; each run below then reuses this build.
    say("building the fuzz targets (cargo fuzz build --sanitizer none)");
    run_checked(
        Command::new(&cargo_fuzz)
            .current_dir(&fuzz_dir)
            // cargo-fuzz passes nightly-only flags; the stable compiler accepts them this way.
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "build", "--sanitizer", "none"]),
    )
    .map_err(|err| format!("building the fuzz targets failed: {err}"))?;
    for &(target, runs) in FUZZ_TARGETS {
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus).map_err(|err| format!("{}: {err}", corpus.display()))?;
        let seeds = fuzz_dir.join("seeds").join(target);
        if let Ok(entries) = std::fs::read_dir(&seeds) {
            for entry in entries.flatten() {
                let _ = std::fs::copy(entry.path(), corpus.join(entry.file_name()));
            }
        }
        say(&format!(
            "fuzzing {target}: {runs} inputs from seed {FUZZ_SEED}"
        ));
        run_checked(
            Command::new(&cargo_fuzz)
                .current_dir(&fuzz_dir)
                // cargo-fuzz passes nightly-only flags; the stable compiler accepts them this way.
                .env("RUSTC_BOOTSTRAP", "1")
                .args(["fuzz", "run", "--sanitizer", "none", target, "--"])
                .arg(format!("-runs={runs}"))
                .arg(format!("-seed={FUZZ_SEED}"))
                .arg(format!("-max_total_time={FUZZ_MAX_SECONDS}"))
                .arg("-print_final_stats=0"),
        )
        .map_err(|err| {
            format!("fuzz target {target} found a failure (see fuzz/artifacts/{target}): {err}")
        })?;
    }
    Ok(FUZZ_TARGETS.len() as u64)
}
