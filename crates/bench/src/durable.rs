//! SQLite and durable PostgreSQL side by side (issue #29): the operations operators who move to
//! PostgreSQL care about, each backend's rate from the same run, and PostgreSQL's share of
//! SQLite's, judged against the target of at least 60 %.
//!
//! Both runs measure a server on this machine with commits that survive a power cut: SQLite with
//! `synchronous=FULL`, PostgreSQL with its default `fsync`, `synchronous_commit` and
//! `full_page_writes`. The ratio is what a reader wants from the pair ("how much do I give up by
//! running PostgreSQL?"), and, being from one run, it holds up better on a shared machine than
//! either figure alone.

use std::time::Duration;

use super::scenario::Row;

/// The floor: PostgreSQL's rate over SQLite's.
pub(crate) const RATIO_TARGET: f64 = 0.60;

/// The rows compared, by the name `scenario.rs` gives them.
const COMPARED: [&str; 4] = [
    "create user (POST)",
    "GET user by id",
    "filter userName eq",
    "PATCH user active",
];

/// The rows of the initial sync (`sync.rs`), compared by their total time.
const SYNC_PREFIX: &str = "sync: ";

/// One line of the comparison: each backend's rate (higher is better) and the share.
#[derive(Debug, Clone, PartialEq)]
struct Compared {
    name: String,
    sqlite: f64,
    postgres: f64,
}

impl Compared {
    fn ratio(&self) -> f64 {
        if self.sqlite > 0.0 {
            self.postgres / self.sqlite
        } else {
            0.0
        }
    }
}

pub(crate) fn rate(rows: &[Row], name: &str) -> Option<f64> {
    rows.iter()
        .find(|row| row.name == name)
        .map(|row| row.outcome.per_second())
}

/// The sync's pace: its requests over the time its steps took, so a shorter sync is a higher
/// figure, as for the other rows.
fn sync_rate(rows: &[Row]) -> Option<f64> {
    let steps: Vec<&Row> = rows
        .iter()
        .filter(|row| row.name.starts_with(SYNC_PREFIX))
        .collect();
    let took: Duration = steps.iter().map(|row| row.outcome.elapsed).sum();
    let requests: u64 = steps.iter().map(|row| row.outcome.requests()).sum();
    (!steps.is_empty() && !took.is_zero()).then(|| requests as f64 / took.as_secs_f64())
}

fn compare(sqlite: &[Row], postgres: &[Row]) -> Vec<Compared> {
    let mut lines: Vec<Compared> = COMPARED
        .iter()
        .filter_map(|name| {
            Some(Compared {
                name: (*name).to_owned(),
                sqlite: rate(sqlite, name)?,
                postgres: rate(postgres, name)?,
            })
        })
        .collect();
    if let (Some(sqlite), Some(postgres)) = (sync_rate(sqlite), sync_rate(postgres)) {
        lines.push(Compared {
            name: "Entra-style initial sync".to_owned(),
            sqlite,
            postgres,
        });
    }
    lines
}

/// The table's lines.
pub(crate) fn table(title: &str, sqlite: &[Row], postgres: &[Row]) -> Vec<String> {
    let mut lines = vec![String::new(), title.to_owned()];
    lines.push(format!(
        "  {:<32} {:>12} {:>12} {:>8}  {}",
        "operation", "SQLite", "PostgreSQL", "PG/SQL", "target"
    ));
    for line in compare(sqlite, postgres) {
        let ratio = line.ratio();
        let verdict = if ratio >= RATIO_TARGET {
            "met"
        } else {
            "NOT met"
        };
        lines.push(format!(
            "  {:<32} {:>8.0} req/s {:>6.0} req/s {:>7.0}%  >= {:.0}%: {verdict}",
            line.name,
            line.sqlite,
            line.postgres,
            ratio * 100.0,
            RATIO_TARGET * 100.0,
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::super::load::Outcome;
    use super::*;

    fn row(name: &'static str, requests: usize, seconds: u64) -> Row {
        Row {
            name,
            outcome: Outcome {
                latencies_us: vec![100; requests],
                errors: 0,
                first_error: None,
                elapsed: Duration::from_secs(seconds),
                server_cpu: None,
                database_cpu: None,
            },
            target: None,
        }
    }

    #[test]
    fn sets_postgres_beside_sqlite_and_judges_the_share() {
        let sqlite = [
            row("create user (POST)", 4_000, 1),
            row("GET user by id", 40_000, 1),
            row("sync: user (filter, POST)", 1_000, 1),
            row("sync: PATCH add 50 members", 1_000, 1),
        ];
        let postgres = [
            row("create user (POST)", 2_400, 1),
            row("GET user by id", 20_000, 1),
            row("sync: user (filter, POST)", 1_000, 2),
            row("sync: PATCH add 50 members", 1_000, 2),
        ];
        let lines = table("side by side", &sqlite, &postgres);
        let line = |name: &str| {
            lines
                .iter()
                .find(|line| line.contains(name))
                .cloned()
                .unwrap_or_default()
        };
        assert!(
            line("create user").contains("60%  >= 60%: met"),
            "{lines:?}"
        );
        assert!(
            line("GET user").contains("50%  >= 60%: NOT met"),
            "{lines:?}"
        );
        assert!(line("initial sync").contains("50%"), "{lines:?}");
        // A row only one backend measured is left out rather than judged against nothing.
        assert!(!lines.iter().any(|line| line.contains("PATCH user active")));
    }
}
