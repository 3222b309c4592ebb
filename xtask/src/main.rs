//! Developer automation that cargo alone cannot do: `cargo xtask serve` (run Roster on SQLite with
//! a demo workspace) and `cargo xtask test` (every check CI runs, on SQLite and PostgreSQL), and
//! the tools around them (tidy, conformance, schemathesis, fuzzing, the test IdPs, the bench).
//!
//! Two dependencies besides the standard library — `roster-devtools`, the helpers it shares with
//! the bench (steps on stderr, commands, system packages, the throwaway PostgreSQL, Node and
//! Python, a minimal HTTP/1.1 client), and serde_json to read `cargo metadata` in the tidy check
//! and schemathesis's reports — so it builds in seconds on a fresh machine. The bench itself is
//! its own crate (`crates/bench`); `bench` here only runs it. Each step says what it does before
//! it does it.

mod bench;
mod checks;
mod conformance;
mod examples;
mod idps;
mod image;
mod instance;
mod schemathesis;
mod serve;
mod test;
mod tidy;

use std::process::ExitCode;

// At the crate root, so each module names them as `crate::say`, `crate::system`, ….
use roster_devtools::{
    cargo_target_dir, node, postgres, python, repo_root, run_checked, say, system,
};

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  serve [--release] [--bind ADDR]   build Roster, create a demo workspace on first run, serve it on SQLite
  test [--sqlite-only]              fmt check, clippy -D warnings, every test on SQLite, then on a
                                    throwaway PostgreSQL, then the SCIM conformance check,
                                    schemathesis on the admin API, the deployment file checks,
                                    the image check and bounded fuzzing
  tidy                              check that the docs name every configuration key, event type
                                    and crate dependency, and every .rs file opens with a //! doc
                                    (also a test that `test` runs)
  image [--dockerfile PATH] [--binary PATH]
                                    the container image without a daemon: debootstrap the runtime
                                    stage's Debian release, replay its RUNs, run roster there
                                    (libraries, CLI, serve, SAML signatures, HEALTHCHECK); as root
  conformance [--binary PATH]       scim2-tester (RFC 7643/7644 checker) against a fresh Roster
  schemathesis [--binary PATH]      schemathesis (OpenAPI fuzzer, bounded, fixed seed) against a
                                    fresh Roster's admin API: no 5xx, every answer as documented
                                    (both: --binary runs that roster instead of a debug build)
  fuzz                              run every fuzz target for a bounded time (cargo-fuzz)
  bench [--sqlite-only | --postgres-only] [--users N] [--concurrency C] [--seconds S]
        [--binary PATH] [--peers[=NAME,..]] [--peers-only]
                                    SCIM req/s, latency and peak RSS on SQLite and PostgreSQL;
                                    --peers adds scim2-server, better-auth and scimmy side by side
                                    (issue #7's relative targets); --peers-only skips Roster's
                                    build and backends (Roster measured from --binary, if given);
                                    `bench --help` lists every option
  idps                              install the local SAML and OIDC test IdPs (e2e/idps) and run both
                                    in the foreground for trying SSO by hand
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("tidy") => tidy::run(&args[1..]),
        Some("conformance") => conformance::run(&args[1..]),
        Some("schemathesis") => schemathesis::run(&args[1..]),
        Some("fuzz") => checks::fuzz().map(|_| ()),
        Some("idps") => idps::run(&args[1..]),
        Some("image") => image::run(&args[1..]),
        // The bench prints its own error; its exit code is passed on as it is.
        Some("bench") => return bench::run(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            eprint!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    roster_devtools::exit_code(result)
}
