//! What PostgreSQL alone does on this machine, beside issue #29's floor.
//!
//! The issue asks durable PostgreSQL for 60 % of SQLite's rates. SQLite runs inside the server;
//! PostgreSQL is a second set of processes on the same two CPUs, and part of what a request costs
//! there is PostgreSQL's own work, whatever Roster does. To show how much, this runs `pgbench`,
//! PostgreSQL's own C client with no HTTP, JSON or Roster in the loop, on the cluster the server
//! is about to use, before it does (the cluster idle, as the server's create phase finds it),
//! with the bench's number of connections, each statement prepared:
//!
//! - the transaction a SCIM create commits: `BEGIN`, the user, its audit row, its event, its
//!   provisioning-log row, `COMMIT` — the statements and values of a create as the cluster's
//!   statement log shows them (the bench's Entra body; ids of the same length), in a database
//!   of its own that `roster migrate` made, with a workspace and a SCIM connection made by the
//!   CLI. The outbox's publisher, which a create also costs, is left out, so this is an upper
//!   bound;
//! - `pgbench -S`: PostgreSQL's built-in primary-key select of one row, in another database of
//!   its own (100,000 rows), the least a GET by id can cost.
//!
//! A ceiling below 60 % of SQLite's rate means no change to Roster's request path reaches the
//! floor on this machine; only fewer or cheaper statements, or more CPUs, would.

use std::path::Path;

use roster_devtools::postgres::Throwaway;

use super::scenario::Row;
use super::{durable, server};

/// The create's transaction as a pgbench script. `:n` is a random number per transaction (the
/// keys' uniqueness); `:w` and `:c` are the bench's workspace and connection, and the JSON
/// values are variables too ([`JSON_VALUES`]): pgbench would read the colons inside them as
/// variable names.
const CREATE_TRANSACTION: &str = r#"\set n random(1, 1000000000000)
BEGIN;
INSERT INTO users (id, workspace_id, user_name, user_name_key, email, email_key, given_name, family_name, display_name, external_id, lifecycle, source, managing_connection_id, scim_attributes, password_hash, version, session_epoch, created_at, updated_at, display_name_key, attributes) VALUES ('0000ceil-' || lpad(:n::text, 27, '0'), :w, 'ceiling' || :n || '@example.com', 'ceiling' || :n || '@example.com', 'ceiling' || :n || '@example.com', 'ceiling' || :n || '@example.com', 'Bench', 'User 1', 'Bench User 1', '00000000-0000-4000-8000-' || lpad(:n::text, 12, '0'), 'active', 'scim', :c, :scim_attributes, NULL, 1, 0, 1796675889522083, 1796675889522083, 'bench user 1', '{}') ON CONFLICT DO NOTHING;
INSERT INTO audit_events (workspace_id, occurred_at, actor_kind, actor_id, action, target_kind, target_id, detail) VALUES (:w, 1796675889522370, 'scim', :c || '/01a2523a-4c14-7155-a88d-b664da3d8849', 'user.created', 'user', '0000ceil-' || lpad(:n::text, 27, '0'), :audit_detail);
INSERT INTO event_outbox (id, workspace_id, event_type, occurred_at, actor, resource_kind, resource_id, resource, changed) VALUES ('0000even-' || lpad(:n::text, 27, '0'), :w, 'user.created', 1796675889524181, :event_actor, 'user', '0000ceil-' || lpad(:n::text, 27, '0'), :event_resource, NULL);
INSERT INTO provisioning_log (workspace_id, connection_id, occurred_at, request_id, method, path, status, duration_us, resource_id, error, warnings, query) VALUES (:w, :c, 1796675889524273, '1d995815-bf88-4be6-b20d-' || lpad(:n::text, 12, '0'), 'POST', '/scim/v2/Users', 201, 2333, '0000ceil-' || lpad(:n::text, 27, '0'), NULL, NULL, NULL);
COMMIT;
"#;

/// The JSON the create's rows hold, as the statement log shows them for the bench's body.
const JSON_VALUES: [(&str, &str); 4] = [
    (
        "scim_attributes",
        r#"{"emails":[{"primary":true,"type":"work","value":"ceiling@example.com"}],"name":{"familyName":"User 1","formatted":"Bench User 1","givenName":"Bench"},"title":"Engineer","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Research","employeeNumber":"1"}}"#,
    ),
    (
        "audit_detail",
        r#"{"active":true,"source":"scim","userName":"ceiling@example.com"}"#,
    ),
    (
        "event_actor",
        r#"{"id":"01a2523a-3734-75e5-9480-0b812b7f39c2/01a2523a-4c14-7155-a88d-b664da3d8849","kind":"scim"}"#,
    ),
    (
        "event_resource",
        r#"{"active":true,"attributes":{},"createdAt":"2026-12-07T20:38:09.522Z","displayName":"Bench User 1","email":"ceiling@example.com","externalId":"00000000-0000-4000-8000-000000000001","familyName":"User 1","givenName":"Bench","id":"01a2523a-6972-7652-98b7-56115c441627","lifecycle":"active","managedBy":"01a2523a-3734-75e5-9480-0b812b7f39c2","source":"scim","updatedAt":"2026-12-07T20:38:09.522Z","userName":"ceiling@example.com"}"#,
    ),
];

/// pgbench's rates on the cluster, in transactions per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ceiling {
    pub create: f64,
    pub select: f64,
    pub clients: usize,
    /// The CPUs pgbench and the cluster shared, as the server did.
    pub cpus: usize,
}

/// The databases pgbench fills, beside the `postgres` database the server uses.
const CREATE_DATABASE: &str = "ceiling_create";
const SELECT_DATABASE: &str = "ceiling_select";

/// Runs both pgbench workloads for `seconds` each with `clients` connections; `binary` (the
/// `roster` measured, run in `dir`) makes the create's database as it makes its own.
pub(crate) fn measure(
    cluster: &Throwaway,
    binary: &Path,
    dir: &Path,
    clients: usize,
    seconds: u64,
) -> Result<Ceiling, String> {
    for database in [CREATE_DATABASE, SELECT_DATABASE] {
        cluster.client(
            "psql",
            &[
                "-q",
                "-c",
                &format!("CREATE DATABASE {database}"),
                "postgres",
            ],
        )?;
    }
    std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let url = match cluster.url.strip_suffix("/postgres") {
        Some(server) => format!("{server}/{CREATE_DATABASE}"),
        None => return Err(format!("unexpected cluster URL {}", cluster.url)),
    };
    server::provision(
        &mut |args| server::capture(server::roster(binary, dir, &url, "127.0.0.1:0").args(args)),
        server::WORKSPACE,
    )?;
    let ids = cluster.client(
        "psql",
        &[
            "-At",
            "-F",
            " ",
            "-c",
            &format!(
                "SELECT c.workspace_id, c.id FROM connections c JOIN workspaces w \
                 ON w.id = c.workspace_id WHERE w.slug = '{}' AND c.name = '{}'",
                server::WORKSPACE,
                server::CONNECTION
            ),
            CREATE_DATABASE,
        ],
    )?;
    let Some((workspace, connection)) = ids.trim().split_once(' ') else {
        return Err(format!("no bench connection in the cluster: {ids:?}"));
    };
    let script = std::env::temp_dir().join(format!("roster-ceiling-{}.sql", std::process::id()));
    std::fs::write(&script, CREATE_TRANSACTION)
        .map_err(|err| format!("{}: {err}", script.display()))?;
    let clients_arg = clients.to_string();
    let seconds_arg = seconds.to_string();
    let load = [
        "-n",
        "-M",
        "prepared",
        "-c",
        &clients_arg,
        "-j",
        "2",
        "-T",
        &seconds_arg,
    ];
    let mut variables = vec![format!("w={workspace}"), format!("c={connection}")];
    variables.extend(JSON_VALUES.map(|(name, json)| format!("{name}={json}")));
    let mut create_args: Vec<&str> = load.to_vec();
    for variable in &variables {
        create_args.extend(["-D", variable]);
    }
    create_args.extend(["-f", script.to_str().unwrap_or_default(), CREATE_DATABASE]);
    let create = cluster.client("pgbench", &create_args);
    let _ = std::fs::remove_file(&script);
    let create = transactions_per_second(&create?)?;
    cluster.client("pgbench", &["-i", "-q", "-s", "1", SELECT_DATABASE])?;
    let select = cluster.client("pgbench", &[&load[..], &["-S", SELECT_DATABASE]].concat())?;
    // The server's run finds the cluster as it would without this.
    for database in [CREATE_DATABASE, SELECT_DATABASE] {
        cluster.client(
            "psql",
            &["-q", "-c", &format!("DROP DATABASE {database}"), "postgres"],
        )?;
    }
    Ok(Ceiling {
        create,
        select: transactions_per_second(&select)?,
        clients,
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
    })
}

/// The table's lines: each workload's rate, the CPU time one transaction takes (the CPUs over
/// the rate: pgbench's own client included, so an upper bound of the cluster's share) and, with
/// a SQLite run, the rate's share of the SQLite row it bounds, beside the issue's floor.
pub(crate) fn table(title: &str, ceiling: &Ceiling, sqlite: Option<&[Row]>) -> Vec<String> {
    let mut lines = vec![String::new(), title.to_owned()];
    lines.push(format!(
        "  {:<34} {:>12} {:>10}  {}",
        "PostgreSQL alone", "rate", "CPU µs", "share of SQLite's row"
    ));
    for (name, rate, bounds) in [
        (
            "the create's transaction",
            ceiling.create,
            "create user (POST)",
        ),
        (
            "primary-key select (pgbench -S)",
            ceiling.select,
            "GET user by id",
        ),
    ] {
        let share = sqlite
            .and_then(|rows| durable::rate(rows, bounds))
            .filter(|sqlite| *sqlite > 0.0)
            .map(|sqlite| {
                format!(
                    "{:.0}% of {bounds} (floor {:.0}%)",
                    rate / sqlite * 100.0,
                    durable::RATIO_TARGET * 100.0
                )
            })
            .unwrap_or_default();
        let cpu_us = ceiling.cpus as f64 * 1e6 / rate.max(1.0);
        lines.push(format!(
            "  {name:<34} {rate:>7.0} tx/s {cpu_us:>10.1}  {share}"
        ));
    }
    lines
}

/// The rate in pgbench's report (`tps = 3385.407942 (without initial connection time)`); a
/// run with failed transactions is an error, not a rate.
fn transactions_per_second(report: &str) -> Result<f64, String> {
    let failed = report
        .lines()
        .find_map(|line| line.strip_prefix("number of failed transactions: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse::<u64>().ok());
    if failed.is_some_and(|count| count > 0) {
        return Err(format!("pgbench had failed transactions:\n{report}"));
    }
    report
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .ok_or_else(|| format!("no rate in pgbench's report:\n{report}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_each_ceiling_beside_the_sqlite_row_it_bounds() {
        use super::super::load::Outcome;
        use std::time::Duration;
        let row = |name: &'static str, requests: usize| Row {
            name,
            outcome: Outcome {
                latencies_us: vec![100; requests],
                errors: 0,
                first_error: None,
                elapsed: Duration::from_secs(1),
                server_cpu: None,
                database_cpu: None,
            },
            target: None,
        };
        let sqlite = [
            row("create user (POST)", 6_000),
            row("GET user by id", 40_000),
        ];
        let ceiling = Ceiling {
            create: 4_000.0,
            select: 80_000.0,
            clients: 16,
            cpus: 2,
        };
        let lines = table("ceiling", &ceiling, Some(&sqlite));
        assert!(
            lines[3].contains("4000 tx/s      500.0  67% of create user (POST) (floor 60%)"),
            "{lines:?}"
        );
        assert!(
            lines[4].contains("80000 tx/s       25.0  200% of GET user by id"),
            "{lines:?}"
        );
        let alone = table("ceiling", &ceiling, None);
        assert!(
            alone[3].trim_end().ends_with("4000 tx/s      500.0"),
            "{alone:?}"
        );
    }

    #[test]
    fn reads_the_rate_and_refuses_a_run_with_failures() {
        let report = "transaction type: create.sql\nnumber of failed transactions: 0 (0.000%)\n\
                      latency average = 2.897 ms\ntps = 2761.879563 (without initial connection time)\n";
        assert_eq!(transactions_per_second(report), Ok(2761.879563));
        let failed = report.replace("transactions: 0 (0.000%)", "transactions: 3 (0.1%)");
        assert!(transactions_per_second(&failed).is_err());
        assert!(transactions_per_second("number of failed transactions: 0\n").is_err());
    }
}
