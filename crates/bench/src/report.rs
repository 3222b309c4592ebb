//! The table printed per backend: requests, errors, req/s, p50 and p99 per operation, the
//! server's CPU time per request (see `cpu.rs`), the server's peak RSS, and beside each figure the target (#7) where it has one, met or not.
//! A missed target is reported, never an error: the command measures, it does not judge.

use super::scenario::Row;

/// The memory target: peak RSS below 150 MiB.
const RSS_TARGET_KIB: u64 = 150 * 1024;

/// How a table sets its figures beside the targets. The issue (#7) sets them for this
/// machine "with the database on local disk and durable commits": the SQLite run, whose figures
/// are judged (`met` / `NOT met`). The PostgreSQL run (a durable cluster on the same two CPUs as
/// the server and the load) is compared with the same numbers as a reference, said `reached` or
/// `not reached`, so that neither a pass nor a miss there is mistaken for #7's verdict; its own
/// verdict is its share of SQLite's figures (`durable.rs`, issue #29).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Judge {
    Target,
    Reference,
}

impl Judge {
    pub(crate) fn verdict(self, met: bool) -> &'static str {
        match (self, met) {
            (Judge::Target, true) => "met",
            (Judge::Target, false) => "NOT met",
            (Judge::Reference, true) => "reached (reference only)",
            (Judge::Reference, false) => "not reached (reference only)",
        }
    }

    /// The line under a table's title that says how its targets are read, if it needs one.
    fn note(self) -> Option<&'static str> {
        match self {
            Judge::Target => None,
            Judge::Reference => Some(
                "  (#7 sets its targets for a database on local disk with durable commits, the \
                 SQLite run; beside these figures they are a reference only)",
            ),
        }
    }
}

/// The table's lines (printed with `say`-style stderr output by the caller).
pub(crate) fn table(
    title: &str,
    rows: &[Row],
    peak_rss_kib: Option<u64>,
    judge: Judge,
) -> Vec<String> {
    let mut lines = vec![String::new(), title.to_owned()];
    lines.extend(judge.note().map(str::to_owned));
    lines.push(format!(
        "  {:<32} {:>9} {:>7} {:>9} {:>8} {:>8} {:>10}  {}",
        "operation", "requests", "errors", "req/s", "p50 ms", "p99 ms", "server µs", "target"
    ));
    for row in rows {
        let outcome = &row.outcome;
        let target = row
            .target
            .map(|target| {
                format!(
                    ">= {target:.0} req/s: {}",
                    judge.verdict(outcome.per_second() >= target)
                )
            })
            .unwrap_or_default();
        let server_us = outcome
            .server_us_per_request()
            .map(|us| format!("{us:.1}"))
            .unwrap_or_else(|| "-".to_owned());
        lines.push(format!(
            "  {:<32} {:>9} {:>7} {:>9.0} {:>8.2} {:>8.2} {:>10}  {}",
            row.name,
            outcome.requests(),
            outcome.errors,
            outcome.per_second(),
            outcome.percentile_ms(0.50),
            outcome.percentile_ms(0.99),
            server_us,
            target
        ));
    }
    lines.push(match peak_rss_kib {
        Some(kib) => format!(
            "  {:<32} {:>9.1} MiB{:>48}  < 150 MiB: {}",
            "server peak RSS (VmHWM)",
            kib as f64 / 1024.0,
            "",
            judge.verdict(kib < RSS_TARGET_KIB)
        ),
        None => format!("  {:<32} unknown (no /proc)", "server peak RSS (VmHWM)"),
    });
    lines
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::load::Outcome;
    use super::*;

    #[test]
    fn marks_targets() {
        let rows = [Row {
            name: "GET user by id",
            outcome: Outcome {
                latencies_us: vec![1000; 30_000],
                errors: 0,
                first_error: None,
                elapsed: Duration::from_secs(1),
                server_cpu: None,
            },
            target: Some(20_000.0),
        }];
        let lines = table("SQLite", &rows, Some(200 * 1024), Judge::Target);
        assert!(lines.iter().any(|l| l.contains(">= 20000 req/s: met")));
        assert!(lines.iter().any(|l| l.contains("< 150 MiB: NOT met")));
        let reference = table("PostgreSQL", &rows, Some(200 * 1024), Judge::Reference);
        assert!(reference
            .iter()
            .any(|l| l.contains(">= 20000 req/s: reached (reference only)")));
        assert!(reference
            .iter()
            .any(|l| l.contains("< 150 MiB: not reached (reference only)")));
        assert!(!reference
            .iter()
            .any(|l| l.contains(": met") || l.contains("NOT met")));
    }
}
