//! The bench behind `cargo xtask bench`: the first step of issue #7 — measures Roster's SCIM
//! throughput, latency and memory on this machine, on SQLite and then PostgreSQL, and sets the
//! figures beside the targets. It measures; a missed target is reported, not a failure.
//!
//! A release build of `roster` runs as operators run it (defaults, durable SQLite commits) on a
//! fresh database per backend; a closed-loop load generator in this process (`load.rs`) drives it
//! over keep-alive HTTP/1.1 connections with the requests Entra ID sends.
//!
//! After the SCIM operations and the SAML ACS logins, the same server answers as the OpenID
//! Provider of two products (`provider.rs`): code exchanges with ES256 and RS256 ID tokens, and
//! userinfo (issue #23). Then webhooks (issue #29, `webhooks.rs`): the delivery rate to one local
//! endpoint, and during the initial sync how far the deliveries trail the writes.
//!
//! `--peers` then sends the same user operations to other SCIM servers on this machine
//! (`peers.rs`, harnesses in `peers/`) and sets them side by side with the SQLite run
//! (`compare.rs`), as the relative targets ask; `--peers-only` measures just the peers
//! (and Roster from `--binary`, if given) without building Roster, for working on the comparison
//! itself.
//!
//! Why a crate of its own rather than a module of xtask: it is most of xtask's code and the only
//! part that needs an event loop (mio) and an optimised build (it shares the CPUs with the server
//! it measures; see the workspace's `profile.dev.package.roster-bench`). `cargo xtask bench` runs
//! it with `cargo run --package roster-bench`, passing the options through unchanged. What it
//! shares with xtask (steps on stderr, the throwaway PostgreSQL, the system packages, Node and
//! Python set-up, the HTTP codec) is in `roster-devtools`.

mod acs;
mod backchannel;
mod ceiling;
mod compare;
mod cpu;
mod durable;
mod events;
mod load;
mod peers;
mod provider;
mod report;
mod scale;
mod scenario;
mod server;
mod sync;
mod webhooks;

use std::path::Path;
use std::process::{Command, ExitCode};

use peers::{Measured, Peer};
use report::Judge;
use roster_devtools::postgres::{Durability, Throwaway};
use roster_devtools::{cargo_target_dir, repo_root, run_checked, say, system};
use scenario::{Load, Paging};
use server::Instance;

/// Which backends a run measures: both by default, or one (`--sqlite-only`, `--postgres-only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backends {
    Both,
    SqliteOnly,
    PostgresOnly,
}

impl Backends {
    fn sqlite(self) -> bool {
        self != Backends::PostgresOnly
    }

    fn postgres(self) -> bool {
        self != Backends::SqliteOnly
    }
}

struct Options {
    backends: Backends,
    /// A `roster` binary to measure instead of building one (to compare two builds back to back).
    binary: Option<std::path::PathBuf>,
    load: Load,
    /// The Entra-style initial sync's size; `None` skips it (`--no-sync`).
    sync: Option<sync::Size>,
    /// Users in the directory-size workspace; `None` skips it (`--no-scale`).
    scale_users: Option<u64>,
    /// The SCIM servers to measure beside Roster (`--peers`, `--peers=NAME,…`); none by default.
    peers: Vec<Peer>,
    /// Only the peers, and Roster from `--binary` if given: no build, no backend runs.
    peers_only: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        backends: Backends::Both,
        binary: None,
        load: Load {
            users: 10_000,
            concurrency: 16,
            seconds: 10,
        },
        sync: Some(sync::Size::for_users(100_000)),
        scale_users: Some(1_000_000),
        peers: Vec::new(),
        peers_only: false,
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut number = |what: &str| -> Result<u64, String> {
            rest.next()
                .and_then(|value| value.parse::<u64>().ok())
                .filter(|value| *value > 0)
                .ok_or_else(|| format!("{arg} needs a positive number ({what})"))
        };
        match arg.as_str() {
            "--sqlite-only" | "--postgres-only" => {
                let only = if arg == "--sqlite-only" {
                    Backends::SqliteOnly
                } else {
                    Backends::PostgresOnly
                };
                if options.backends != Backends::Both && options.backends != only {
                    return Err("--sqlite-only and --postgres-only exclude each other".to_owned());
                }
                options.backends = only;
            }
            "--binary" => {
                let path = rest
                    .next()
                    .ok_or_else(|| "--binary needs the path of a roster binary".to_owned())?;
                options.binary = Some(path.into());
            }
            "--users" => options.load.users = number("users to create")?,
            "--concurrency" => {
                options.load.concurrency = usize::try_from(number("client threads")?)
                    .map_err(|_| "--concurrency is too large".to_owned())?;
            }
            "--seconds" => options.load.seconds = number("seconds per timed operation")?,
            "--sync-users" => {
                options.sync = Some(sync::Size::for_users(number("users of the initial sync")?));
            }
            "--no-sync" => options.sync = None,
            "--scale-users" => {
                options.scale_users = Some(number("users of the directory-size run")?)
            }
            "--no-scale" => options.scale_users = None,
            "--peers" => options.peers = Peer::ALL.to_vec(),
            "--peers-only" => options.peers_only = true,
            other if other.starts_with("--peers=") => {
                options.peers = Peer::parse_list(&other["--peers=".len()..])?;
            }
            other => return Err(format!("unknown option {other:?} for `cargo xtask bench`")),
        }
    }
    if options.backends == Backends::PostgresOnly && !options.peers.is_empty() {
        return Err(
            "--postgres-only measures PostgreSQL alone: the peers are set beside the SQLite run"
                .to_owned(),
        );
    }
    if options.peers_only && options.peers.is_empty() {
        options.peers = Peer::ALL.to_vec();
    }
    Ok(options)
}

/// The options, one a line; `cargo xtask`'s usage names the common ones.
const USAGE: &str = "\
usage: cargo xtask bench [options]   (or: cargo run -p roster-bench -- [options])

Builds roster in release (unless --binary), then measures it on SQLite and PostgreSQL.

options:
  --sqlite-only, --postgres-only   measure one backend only
  --users N                        users created before the timed operations (10000)
  --concurrency C                  concurrent clients of the load generator (16)
  --seconds S                      seconds per timed operation (10)
  --binary PATH                    measure this roster binary instead of building one
  --sync-users N                   users of the Entra-style initial sync (100000)
  --no-sync                        skip the initial sync
  --scale-users N                  users of the directory-size workspace (1000000)
  --no-scale                       skip the directory-size run
  --peers, --peers=NAME,..         measure scim2-server, better-auth, scimmy after Roster
  --peers-only                     only the peers, and Roster from --binary if given
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "-h" || arg == "--help") {
        eprint!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    roster_devtools::exit_code(run(&args))
}

fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    if options.peers_only {
        return peers_only(&options);
    }
    system::ensure(system::BUILD)?;
    if options.backends.postgres() {
        system::ensure(system::TEST)?;
    }
    let mut signer = cargo_target_dir()
        .join("release")
        .join("examples")
        .join("sign_assertions");
    let beside = |binary: &Path| binary.parent().map(|dir| dir.join("sign_assertions"));
    let binary = match options.binary.clone() {
        Some(binary) if beside(&binary).is_some_and(|path| path.is_file()) => {
            // A copied-aside build keeps its stand-in IdP beside it: nothing to build.
            signer = beside(&binary).unwrap_or(signer);
            binary
        }
        Some(binary) => {
            say("building the stand-in SAML IdP that pre-signs the ACS logins (release)");
            run_checked(Command::new("cargo").current_dir(repo_root()).args([
                "build",
                "--release",
                "--locked",
                "--package",
                "roster-sso",
                "--example",
                "sign_assertions",
            ]))?;
            binary
        }
        None => {
            // One cargo invocation for both, so their dependencies are built once.
            say(
                "building roster and the stand-in SAML IdP that pre-signs the ACS logins (release)",
            );
            run_checked(Command::new("cargo").current_dir(repo_root()).args([
                "build",
                "--release",
                "--locked",
                "--package",
                "roster-server",
                "--package",
                "roster-sso",
                "--bin",
                "roster",
                "--example",
                "sign_assertions",
            ]))?;
            cargo_target_dir().join("release").join("roster")
        }
    };
    let base = std::env::temp_dir().join(format!("roster-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);

    let setup = setup(options.load);
    let mut tables = Vec::new();
    let mut errors = 0;

    let mut sqlite = None;
    if options.backends.sqlite() {
        let dir = base.join("sqlite");
        let url = format!("sqlite://{}", dir.join("roster.db").display());
        say(&format!(
            "SQLite: database {}",
            dir.join("roster.db").display()
        ));
        let (table, failed, measured) = backend(
            &format!("SQLite file, durable commits (synchronous=FULL) — {setup}"),
            &binary,
            &signer,
            &dir,
            &url,
            &options,
            Judge::Target,
        )?;
        tables.push(table);
        errors += failed;
        sqlite = Some(measured);
    }

    if options.backends.postgres() {
        let durability = Durability::Production;
        let cluster = Throwaway::start(durability)?;
        // Before the server's run, on the idle cluster: see ceiling.rs.
        say("PostgreSQL alone: pgbench runs the create's transaction, then pgbench -S");
        let alone = ceiling::measure(
            &cluster,
            &binary,
            &base.join("ceiling"),
            options.load.concurrency,
            options.load.seconds,
        );
        cpu::watch_database(cluster.postmaster_pid());
        let (table, failed, postgres) = backend(
            &format!(
                "PostgreSQL, a cluster on this disk with {} — {setup}",
                durability.describe()
            ),
            &binary,
            &signer,
            &base.join("postgres"),
            &cluster.url,
            &options,
            Judge::Reference,
        )?;
        cpu::watch_database(None);
        drop(cluster);
        tables.push(table);
        errors += failed;
        if let (Some(Ok(sqlite)), Ok(postgres)) = (sqlite.as_ref().map(|m| &m.rows), &postgres.rows)
        {
            tables.push(durable::table(
                &format!("SQLite and durable PostgreSQL side by side (issue #29) — {setup}"),
                sqlite,
                postgres,
            ));
        }
        match alone {
            Ok(measured) => tables.push(ceiling::table(
                &format!(
                    "What PostgreSQL alone does here (pgbench, {} connections, prepared, the same cluster)",
                    measured.clients
                ),
                &measured,
                sqlite
                    .as_ref()
                    .and_then(|run| run.rows.as_ref().ok())
                    .map(Vec::as_slice),
            )),
            Err(err) => {
                say(&format!("  PostgreSQL alone: not measured: {err}"));
                errors += 1;
            }
        }
    }

    if !options.peers.is_empty() {
        let (table, failed) = side_by_side(&options, sqlite.as_ref(), &base, &setup);
        tables.push(table);
        errors += failed;
    }
    finish(&tables, errors, &base);
    Ok(())
}

/// The name of Roster's column in the side-by-side table.
const ROSTER_LABEL: &str = "Roster (SQLite, durable)";

/// The load, as said in every table's title.
fn setup(load: Load) -> String {
    let Load {
        users,
        concurrency,
        seconds,
    } = load;
    format!(
        "{users} users, {concurrency} client threads, {seconds} s per timed operation, \
         {} CPUs shared by server and clients",
        std::thread::available_parallelism().map_or(0, usize::from)
    )
}

/// Measures the peers and returns the side-by-side table and the count of failed requests and
/// peers not measured.
fn side_by_side(
    options: &Options,
    roster: Option<&Measured>,
    base: &Path,
    setup: &str,
) -> (Vec<String>, u64) {
    let peers = peers::run(&options.peers, options.load, base);
    let failed = peers
        .iter()
        .map(|peer| match &peer.rows {
            Ok(rows) => rows.iter().map(|row| row.outcome.errors).sum(),
            Err(_) => 1,
        })
        .sum();
    let title =
        format!("Side by side with other SCIM servers (issue #7), one after another — {setup}");
    (compare::table(&title, roster, &peers), failed)
}

/// `--peers-only`: Roster from `--binary` (if given) under the user operations, then the peers.
fn peers_only(options: &Options) -> Result<(), String> {
    let base = std::env::temp_dir().join(format!("roster-bench-peers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let setup = setup(options.load);
    let mut tables = Vec::new();
    let mut errors = 0;
    let roster = options.binary.as_ref().map(|binary| {
        let roster = peers::roster(binary, &base.join("roster"), options.load, ROSTER_LABEL);
        match &roster.rows {
            Ok(rows) => {
                errors += rows.iter().map(|row| row.outcome.errors).sum::<u64>();
                let title = format!("Roster alone, SQLite file, durable commits — {setup}");
                tables.push(report::table(
                    &title,
                    rows,
                    roster.peak_rss_kib,
                    Judge::Target,
                ));
            }
            Err(err) => {
                errors += 1;
                say(&format!("Roster not measured: {err}"));
            }
        }
        roster
    });
    if roster.is_none() {
        say("no --binary: Roster is not measured, only the peers");
    }
    let (table, failed) = side_by_side(options, roster.as_ref(), &base, &setup);
    tables.push(table);
    finish(&tables, errors + failed, &base);
    Ok(())
}

/// Prints the tables and deletes the temporary files, unless something failed.
fn finish(tables: &[Vec<String>], errors: u64, base: &Path) {
    for line in tables.iter().flatten() {
        eprintln!("{line}");
    }
    eprintln!();
    if errors == 0 {
        let _ = std::fs::remove_dir_all(base);
        say(&format!(
            "the temporary files (databases, server logs) were in {} and are deleted",
            base.display()
        ));
    } else {
        say(&format!(
            "{errors} requests failed (or servers were not measured); the databases and server \
             logs (serve.log) are kept in {}",
            base.display()
        ));
    }
}

/// Sets up one backend, measures it, stops the server and returns the table, the error count and
/// the rows (with the peak RSS after the SCIM operations) for the side-by-side table.
fn backend(
    title: &str,
    binary: &Path,
    signer: &Path,
    dir: &Path,
    database_url: &str,
    options: &Options,
    judge: Judge,
) -> Result<(Vec<String>, u64, Measured), String> {
    let load = options.load;
    std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let before = warn_if_busy();
    say(&format!(
        "{title}\n  creating workspace `{}`, a SCIM connection and a token; starting roster serve",
        server::WORKSPACE
    ));
    let mut instance = Instance::start(binary, dir, database_url)?;
    let writes_before = events::WriteTimes::scrape(&instance.addr, &instance.token);
    // With peers, the list is also walked with startIndex: the walk the peers can do.
    let paging: &[Paging] = if options.peers.is_empty() {
        &[Paging::Cursor]
    } else {
        &[Paging::Cursor, Paging::StartIndex]
    };
    let mut rows = scenario::run(&instance.addr, &instance.token, load, paging)?;
    let scenario_peak = instance.peak_rss_kib();
    let writes = events::WriteTimes::scrape(&instance.addr, &instance.token)
        .and_then(|after| Ok(after.since(&writes_before?)));
    if let Err(err) = &writes {
        say(&format!("  no events figure: {err}"));
    }
    rows.push(acs::run(
        binary,
        signer,
        dir,
        database_url,
        &instance.addr,
        load,
    )?);
    let server = acs::Server {
        binary,
        dir,
        database_url,
        addr: &instance.addr,
    };
    rows.extend(provider::run(&server, signer, load)?);
    let (backchannel_line, backchannel_failures) = backchannel::run(
        binary,
        dir,
        database_url,
        &instance.addr,
        &instance.token,
        load.seconds,
        judge,
    )?;
    let (webhook_line, webhook_failures) =
        webhooks::rate_row(&server, &instance.token, load.concurrency, judge)?;
    let mut sync_lines = Vec::new();
    let mut sync_failures = 0;
    if let Some(size) = options.sync {
        let watch = webhooks::SyncWatch::start(&server)?;
        let (sync_rows, line, last_write) = sync::run(
            &instance.addr,
            &instance.token,
            load.concurrency,
            size,
            judge,
        )?;
        rows.extend(sync_rows);
        let (lag_line, missing) = watch.finish(size.events(), last_write, judge)?;
        sync_lines = vec![line, lag_line];
        sync_failures = missing;
    }
    let mut scale_lines = Vec::new();
    if let Some(users) = options.scale_users {
        let (scale_rows, lines) = scale::run(
            binary,
            dir,
            database_url,
            &instance.addr,
            load,
            users,
            judge,
        )?;
        rows.extend(scale_rows);
        scale_lines = lines;
    }
    let peak = instance.peak_rss_kib();
    instance.stop();
    say(&format!(
        "  roster serve stopped (its log: {})",
        instance.log.display()
    ));
    let errors = rows.iter().map(|row| row.outcome.errors).sum::<u64>()
        + backchannel_failures
        + webhook_failures
        + sync_failures;
    let title = match before {
        Some(busy) => format!("{title}; CPUs {busy:.0}% busy just before"),
        None => title.to_owned(),
    };
    let mut table = report::table(&title, &rows, peak, judge);
    if let Ok(writes) = writes {
        table.push(writes.line(judge));
    }
    table.push(backchannel_line);
    table.push(webhook_line);
    table.extend(sync_lines);
    table.extend(scale_lines);
    let measured = Measured {
        rows: Ok(rows),
        peak_rss_kib: scenario_peak,
        busy_percent: before,
        ..Measured::new(ROSTER_LABEL, None)
    };
    Ok((table, errors, measured))
}

/// How busy the CPUs are with other work (see `busy_cpu_percent`), with a warning when that
/// will lower the figures.
fn warn_if_busy() -> Option<f64> {
    let busy = busy_cpu_percent();
    if let Some(busy) = busy.filter(|busy| *busy > 10.0) {
        say(&format!(
            "warning: other work keeps the CPUs {busy:.0}% busy; the figures will be low"
        ));
    }
    busy
}

/// How busy the CPUs are with other work, over one second (/proc/stat), in percent: the server
/// and the load generator share this machine with whatever else runs, which lowers the figures.
fn busy_cpu_percent() -> Option<f64> {
    let sample = || -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|field| field.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
        let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
        Some((fields.iter().take(8).sum(), idle))
    };
    let (total_before, idle_before) = sample()?;
    std::thread::sleep(std::time::Duration::from_secs(1));
    let (total_after, idle_after) = sample()?;
    let total = total_after.checked_sub(total_before)?;
    let idle = idle_after.checked_sub(idle_before)?;
    (total > 0).then(|| 100.0 * (total - idle.min(total)) as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_options() {
        let args: Vec<String> = ["--sqlite-only", "--users", "50", "--seconds", "2"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let options = parse(&args).map_err(|e| e.to_string());
        assert!(matches!(
            options,
            Ok(Options {
                backends: Backends::SqliteOnly,
                binary: None,
                load: Load {
                    users: 50,
                    concurrency: 16,
                    seconds: 2
                },
                sync: Some(sync::Size {
                    users: 100_000,
                    groups: 1_000,
                    memberships: 500_000
                }),
                scale_users: Some(1_000_000),
                ref peers,
                peers_only: false,
            }) if peers.is_empty()
        ));
        let small: Vec<String> = ["--sync-users", "2000"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert!(matches!(
            parse(&small),
            Ok(Options {
                sync: Some(sync::Size {
                    users: 2_000,
                    groups: 20,
                    memberships: 10_000
                }),
                ..
            })
        ));
        assert!(matches!(
            parse(&["--no-sync".to_owned()]),
            Ok(Options { sync: None, .. })
        ));
        assert!(parse(&["--users".to_owned(), "0".to_owned()]).is_err());
        assert!(parse(&["--bogus".to_owned()]).is_err());
        assert!(matches!(
            parse(&["--postgres-only".to_owned()]),
            Ok(Options {
                backends: Backends::PostgresOnly,
                ..
            })
        ));
        let both = ["--postgres-only", "--sqlite-only"].map(str::to_owned);
        assert!(parse(&both).is_err());
        let with_peers = ["--postgres-only", "--peers"].map(str::to_owned);
        assert!(parse(&with_peers).is_err());
    }

    #[test]
    fn parses_peer_options() {
        let parsed =
            |args: &[&str]| parse(&args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert!(
            matches!(parsed(&["--peers"]), Ok(Options { peers, peers_only: false, .. }) if peers == Peer::ALL)
        );
        assert!(
            matches!(parsed(&["--peers-only"]), Ok(Options { peers, peers_only: true, .. }) if peers == Peer::ALL)
        );
        assert!(matches!(
            parsed(&["--peers-only", "--peers=better-auth", "--binary", "/x/roster"]),
            Ok(Options { peers, peers_only: true, binary: Some(_), .. }) if peers == [Peer::BetterAuth]
        ));
        assert!(parsed(&["--peers=nobody"]).is_err());
    }
}
