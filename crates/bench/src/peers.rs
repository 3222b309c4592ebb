//! `cargo xtask bench --peers`: issue #7 sets Roster's SCIM create throughput against other SCIM
//! servers measured on the same machine in the same run (>= 10x Better Auth SCIM, >= 5x
//! scim2-server in memory). A figure from another machine or another day says little on a shared
//! 2-core box, so the peers run here, one after another, under the very same workload.
//!
//! Each peer is a small harness in `crates/bench/peers/<name>/` installed from the package registries
//! (pip into a venv under `target/`, `npm ci` in the folder), started on a free loopback port with
//! its log in the bench's temporary directory, and ready when a `GET /Users?count=1` answers 200.
//! It is then sent the user operations of `scenario::users` — the same Entra-style bodies, the
//! same closed-loop load generator, concurrency and durations as Roster — with the list walk paged
//! by `startIndex` (the peers have no cursors), and stopped. A peer that cannot be installed or
//! started is reported and skipped; the bench goes on.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::scenario::{self, Load, Paging, Row};
use super::server::{free_addr, Instance};
use roster_devtools::{node, python, repo_root, say};

/// The bearer token every peer is started with.
const TOKEN: &str = "secret";

/// A SCIM server Roster is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peer {
    /// scim2-server (Python, PyPI), its in-memory test application served by gunicorn.
    Scim2Server,
    /// Better Auth with `@better-auth/scim` (Node, npm) on SQLite through better-sqlite3.
    BetterAuth,
    /// SCIMMY with scimmy-routers (Node, npm, Express) over an in-memory Map; no target, a third
    /// point of comparison.
    Scimmy,
}

impl Peer {
    pub(crate) const ALL: [Peer; 3] = [Peer::Scim2Server, Peer::BetterAuth, Peer::Scimmy];

    /// The name on the command line and of the harness folder.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::Scim2Server => "scim2-server",
            Peer::BetterAuth => "better-auth",
            Peer::Scimmy => "scimmy",
        }
    }

    /// The name in the tables.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Peer::Scim2Server => "scim2-server (Python, in-memory)",
            Peer::BetterAuth => "Better Auth SCIM (Node, SQLite)",
            Peer::Scimmy => "SCIMMY (Node, in-memory)",
        }
    }

    /// Issue #7's create target: Roster's create req/s at least this many times the peer's.
    pub(crate) fn create_target(self) -> Option<f64> {
        match self {
            Peer::Scim2Server => Some(5.0),
            Peer::BetterAuth => Some(10.0),
            Peer::Scimmy => None,
        }
    }

    /// The SCIM base path the harness serves.
    fn base(self) -> &'static str {
        match self {
            Peer::Scim2Server => "/v2",
            Peer::BetterAuth => "/api/auth/scim/v2",
            Peer::Scimmy => "/scim/v2",
        }
    }

    /// Parses a comma-separated list of peer names (`--peers=better-auth,scim2-server`).
    pub(crate) fn parse_list(list: &str) -> Result<Vec<Peer>, String> {
        let mut peers = Vec::new();
        for name in list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            let peer = Peer::ALL
                .into_iter()
                .find(|peer| peer.name() == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = Peer::ALL.iter().map(|peer| peer.name()).collect();
                    format!("unknown peer {name:?} (known: {})", known.join(", "))
                })?;
            if !peers.contains(&peer) {
                peers.push(peer);
            }
        }
        if peers.is_empty() {
            return Err("--peers= needs at least one peer name".to_owned());
        }
        Ok(peers)
    }

    /// Installs the peer when needed and returns the command that serves it on `addr`, keeping
    /// its data (if any) in `dir`.
    fn command(self, addr: &str, dir: &Path) -> Result<Command, String> {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("peers")
            .join(self.name());
        let port = addr.rsplit(':').next().unwrap_or_default();
        let mut command = match self {
            Peer::Scim2Server => {
                let python = python::venv(
                    &repo_root(),
                    "peers-scim2-server-venv",
                    &folder.join("requirements.txt"),
                )?;
                // One worker: the storage is in memory, in the worker process. gthread keeps
                // connections alive (the stock wsgiref server speaks HTTP/1.0 with a backlog of 5).
                // One thread: under the GIL more threads only contend; 1 served more req/s than
                // the 8 of the peers' README, both with this bench and with its Python workload.
                let mut command = Command::new(python);
                command
                    .args(["-m", "gunicorn", "scim2_server_wsgi:app", "--bind", addr])
                    .args(["--workers", "1", "--worker-class", "gthread"])
                    .args(["--threads", "1", "--no-control-socket"])
                    .env("PYTHONDONTWRITEBYTECODE", "1");
                command
            }
            Peer::BetterAuth | Peer::Scimmy => {
                node::require("the Node SCIM peers (Better Auth, SCIMMY)")?;
                let package = match self {
                    Peer::BetterAuth => "better-auth",
                    _ => "scimmy",
                };
                node::npm_ci(&folder, package)?;
                let mut command = Command::new("node");
                command
                    .arg("server.mjs")
                    .env("PORT", port)
                    .env("NODE_ENV", "production")
                    .env("DB", dir.join("auth.db"));
                command
            }
        };
        command.current_dir(&folder).env("SCIM_TOKEN", TOKEN);
        Ok(command)
    }
}

/// One server's part of the side-by-side run: its user operation rows, or why it has none.
pub(crate) struct Measured {
    pub(crate) label: String,
    pub(crate) rows: Result<Vec<Row>, String>,
    /// Peak RSS in KiB just after the user operations (with the server's child processes).
    pub(crate) peak_rss_kib: Option<u64>,
    /// How busy other work kept the CPUs just before, in percent (it lowers the figures).
    pub(crate) busy_percent: Option<f64>,
    /// Issue #7's create target against this server (Roster's create req/s over its own).
    pub(crate) create_target: Option<f64>,
}

impl Measured {
    /// Nothing measured yet: the rows say so until the run fills them in.
    pub(crate) fn new(label: &str, create_target: Option<f64>) -> Self {
        Self {
            label: label.to_owned(),
            rows: Err("not measured".to_owned()),
            peak_rss_kib: None,
            busy_percent: None,
            create_target,
        }
    }

    /// Runs the user operations against `instance`, then records its peak RSS and stops it.
    fn users_then_stop(
        &mut self,
        mut instance: Instance,
        base: &str,
        load: Load,
        paging: &[Paging],
    ) {
        let rows = scenario::users(&instance.addr, &instance.token, base, load, paging);
        self.rows = rows.map(|(rows, _)| rows);
        self.peak_rss_kib = instance.peak_rss_kib();
        instance.stop();
        say(&format!(
            "  {} stopped (its log: {})",
            instance.name,
            instance.log.display()
        ));
    }
}

/// Installs, starts, measures and stops each peer in turn, their logs under `base/<name>/`.
pub(crate) fn run(peers: &[Peer], load: Load, base: &Path) -> Vec<Measured> {
    peers
        .iter()
        .map(|&peer| {
            say(&format!("peer {}: installing and starting", peer.label()));
            let mut measured = Measured::new(peer.label(), peer.create_target());
            if let Err(err) = measure(peer, load, &base.join(peer.name()), &mut measured) {
                say(&format!("  peer {} skipped: {err}", peer.name()));
                measured.rows = Err(err);
            }
            measured
        })
        .collect()
}

/// Installs and starts one peer, then measures and stops it.
fn measure(peer: Peer, load: Load, dir: &Path, measured: &mut Measured) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let addr = free_addr()?;
    let mut command = peer.command(&addr, dir)?;
    measured.busy_percent = super::warn_if_busy();
    let instance = Instance::spawn(
        peer.name(),
        &mut command,
        addr,
        TOKEN.to_owned(),
        dir.join("serve.log"),
        &format!("{}/Users?count=1", peer.base()),
    )?;
    measured.users_then_stop(instance, peer.base(), load, &[Paging::StartIndex]);
    Ok(())
}

/// Roster from `binary` on a fresh SQLite file in `dir` (defaults: durable commits), under the
/// same user operations, with both list walks: for `--peers-only`, which measures no backend.
pub(crate) fn roster(binary: &Path, dir: &Path, load: Load, label: &str) -> Measured {
    let mut measured = Measured::new(label, None);
    let database: PathBuf = dir.join("roster.db");
    let started = std::fs::create_dir_all(dir)
        .map_err(|err| format!("{}: {err}", dir.display()))
        .and_then(|()| {
            measured.busy_percent = super::warn_if_busy();
            say(&format!(
                "Roster from {} on SQLite {}",
                binary.display(),
                database.display()
            ));
            Instance::start(binary, dir, &format!("sqlite://{}", database.display()))
        });
    match started {
        Ok(instance) => measured.users_then_stop(
            instance,
            scenario::BASE,
            load,
            &[Paging::Cursor, Paging::StartIndex],
        ),
        Err(err) => measured.rows = Err(err),
    }
    measured
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_peer_lists() {
        assert_eq!(
            Peer::parse_list("better-auth, scim2-server,better-auth"),
            Ok(vec![Peer::BetterAuth, Peer::Scim2Server])
        );
        assert!(Peer::parse_list("keycloak").is_err_and(|err| err.contains("scimmy")));
        assert!(Peer::parse_list(",").is_err());
        assert_eq!(Peer::BetterAuth.create_target(), Some(10.0));
        assert_eq!(Peer::Scim2Server.create_target(), Some(5.0));
    }
}
