//! The side-by-side table of `cargo xtask bench --peers`: per user operation, Roster's and each
//! peer's requests, errors, req/s, p50 and p99 one under the other, Roster's throughput as a
//! multiple of the peer's, and issue #7's create targets (>= 10x Better Auth SCIM, >= 5x
//! scim2-server) marked met or not. Like the other tables it reports; it never fails the run.
//!
//! The multiples compare requests answered 2xx per second: a server that answers errors fast
//! must not look fast. Errors are counted in the table and the first one of each operation is
//! printed under it.

use super::load::Outcome;
use super::peers::Measured;
use super::report::Judge;
use super::scenario::{Paging, Row};

/// The operations every server runs, in the table's order.
const OPERATIONS: [&str; 5] = [
    CREATE,
    "GET user by id",
    "filter userName eq",
    "PATCH user active",
    Paging::StartIndex.row_name(),
];
const CREATE: &str = "create user (POST)";

/// Requests answered 2xx per second.
fn ok_per_second(outcome: &Outcome) -> f64 {
    let seconds = outcome.elapsed.as_secs_f64();
    if seconds > 0.0 {
        outcome.requests().saturating_sub(outcome.errors) as f64 / seconds
    } else {
        0.0
    }
}

/// Roster's successful req/s as a multiple of the peer's; `None` if the peer had none.
fn ratio(roster: &Outcome, peer: &Outcome) -> Option<f64> {
    let peer = ok_per_second(peer);
    (peer > 0.0).then(|| ok_per_second(roster) / peer)
}

fn find<'a>(measured: &'a Measured, operation: &str) -> Option<&'a Outcome> {
    let rows: &[Row] = measured.rows.as_deref().ok()?;
    rows.iter()
        .find(|row| row.name == operation)
        .map(|row| &row.outcome)
}

fn line(label: &str, outcome: &Outcome, multiple: &str) -> String {
    format!(
        "    {:<36} {:>9} {:>7} {:>9.0} {:>8.2} {:>8.2}  {}",
        label,
        outcome.requests(),
        outcome.errors,
        outcome.per_second(),
        outcome.percentile_ms(0.50),
        outcome.percentile_ms(0.99),
        multiple
    )
}

/// Roster's create figure against `peer`'s and the target, as "9.8x, target >= 10x: NOT met".
fn multiple(roster: Option<&Outcome>, peer: &Outcome, target: Option<f64>) -> String {
    let Some(roster) = roster else {
        return String::new();
    };
    let Some(ratio) = ratio(roster, peer) else {
        return "n/a (no 2xx answer)".to_owned();
    };
    match target {
        Some(target) => format!(
            "{ratio:>5.1}x  target >= {target:.0}x: {}",
            Judge::Target.verdict(ratio >= target)
        ),
        None => format!("{ratio:>5.1}x"),
    }
}

/// The table's lines: `roster` is `None` when Roster was not measured (`--peers-only` without
/// `--binary`).
pub(crate) fn table(title: &str, roster: Option<&Measured>, peers: &[Measured]) -> Vec<String> {
    let mut lines = vec![
        String::new(),
        title.to_owned(),
        format!(
            "  {:<38} {:>9} {:>7} {:>9} {:>8} {:>8}  {}",
            "operation / server", "requests", "errors", "req/s", "p50 ms", "p99 ms", "Roster x"
        ),
    ];
    let servers: Vec<&Measured> = roster.into_iter().chain(peers).collect();
    for operation in OPERATIONS {
        lines.push(format!("  {operation}"));
        let roster_outcome = roster.and_then(|roster| find(roster, operation));
        for server in &servers {
            let Some(outcome) = find(server, operation) else {
                continue;
            };
            let is_roster = roster.is_some_and(|roster| std::ptr::eq(roster, *server));
            let target = server.create_target.filter(|_| operation == CREATE);
            let multiple = if is_roster {
                String::new()
            } else {
                multiple(roster_outcome, outcome, target)
            };
            lines.push(line(&server.label, outcome, &multiple));
        }
    }
    lines.push(format!(
        "  {:<38} {:>13}  {}",
        "peak RSS after these operations", "", "CPUs busy with other work just before"
    ));
    for server in servers.iter().filter(|server| server.rows.is_ok()) {
        let rss = server.peak_rss_kib.map_or("unknown".to_owned(), |kib| {
            format!("{:.1} MiB", kib as f64 / 1024.0)
        });
        let busy = server
            .busy_percent
            .map_or("unknown".to_owned(), |busy| format!("{busy:.0}%"));
        lines.push(format!("    {:<36} {rss:>13}  {busy}", server.label));
    }
    for server in &servers {
        match &server.rows {
            Err(err) => lines.push(format!("  {}: not measured: {err}", server.label)),
            Ok(rows) => lines.extend(rows.iter().filter(|row| row.outcome.errors > 0).map(|row| {
                format!(
                    "  {} / {}: {} errors; the first: {}",
                    server.label,
                    row.name,
                    row.outcome.errors,
                    row.outcome
                        .first_error
                        .as_deref()
                        .unwrap_or_default()
                        .chars()
                        .take(200)
                        .collect::<String>()
                )
            })),
        }
    }
    for peer in peers {
        let Some(target) = peer.create_target else {
            continue;
        };
        let judged = match (roster.and_then(|r| find(r, CREATE)), find(peer, CREATE)) {
            (None, _) => "not judged: Roster was not measured".to_owned(),
            (_, None) => "not judged: the peer was not measured".to_owned(),
            (Some(roster), Some(outcome)) => match ratio(roster, outcome) {
                Some(ratio) => format!("{ratio:.1}x: {}", Judge::Target.verdict(ratio >= target)),
                None => "not judged: the peer created no user".to_owned(),
            },
        };
        lines.push(format!(
            "  target (#7): create user >= {target:.0}x {}: {judged}",
            peer.label
        ));
    }
    lines.extend(
        [
            "  Every server is sent the same requests (Entra-style bodies; the userNames are already \
             email-shaped, as Better Auth requires, so no server gets an adapted body) by the same \
             load generator.",
            "  `Roster x` is Roster's 2xx answers per second over the peer's. The list walk pages \
             with startIndex everywhere (the peers have no cursors).",
            "  Storage: Roster SQLite synchronous=FULL (durable); Better Auth SQLite WAL, \
             synchronous=NORMAL; scim2-server and SCIMMY in memory.",
        ]
        .map(str::to_owned),
    );
    lines
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn rows(per_second: u64, errors: u64) -> Vec<Row> {
        OPERATIONS
            .iter()
            .map(|&name| Row {
                name,
                outcome: Outcome {
                    latencies_us: vec![2_000; per_second as usize],
                    errors,
                    first_error: (errors > 0).then(|| "HTTP 400: bad".to_owned()),
                    elapsed: Duration::from_secs(1),
                    server_cpu: None,
                    database_cpu: None,
                },
                target: None,
            })
            .collect()
    }

    fn measured(label: &str, rows: Result<Vec<Row>, String>, target: Option<f64>) -> Measured {
        Measured {
            rows,
            peak_rss_kib: Some(40 * 1024),
            busy_percent: Some(3.0),
            ..Measured::new(label, target)
        }
    }

    #[test]
    fn marks_create_targets_on_successful_throughput() {
        let roster = measured("Roster", Ok(rows(1_000, 0)), None);
        let peers = [
            // 200 req/s but 50 of them errors: 150 ok/s, so 6.7x, below 10x.
            measured("Better Auth", Ok(rows(200, 50)), Some(10.0)),
            measured("scim2-server", Ok(rows(100, 0)), Some(5.0)),
            measured("SCIMMY", Err("npm ci failed".to_owned()), None),
        ];
        let lines = table("side by side", Some(&roster), &peers);
        let text = lines.join("\n");
        assert!(text.contains("create user >= 10x Better Auth: 6.7x: NOT met"));
        assert!(text.contains("create user >= 5x scim2-server: 10.0x: met"));
        assert!(text.contains("SCIMMY: not measured: npm ci failed"));
        assert!(text.contains("scim2-server                              40.0 MiB  3%"));
        assert!(text.contains("Better Auth / create user (POST): 50 errors; the first: HTTP 400"));
        assert!(lines
            .iter()
            .any(|l| l.contains("Better Auth") && l.contains("6.7x  target >= 10x: NOT met")));
    }

    #[test]
    fn without_roster_nothing_is_judged() {
        let peers = [measured("Better Auth", Ok(rows(200, 0)), Some(10.0))];
        let text = table("peers only", None, &peers).join("\n");
        assert!(text.contains("not judged: Roster was not measured"));
        assert!(!text.contains("x  target"));
        let none = Outcome {
            latencies_us: vec![1; 10],
            errors: 10,
            first_error: None,
            elapsed: Duration::from_secs(1),
            server_cpu: None,
            database_cpu: None,
        };
        assert_eq!(ratio(&none, &none), None);
    }
}
