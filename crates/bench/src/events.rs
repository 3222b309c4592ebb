//! The events figure of issue #12: how much the outbox rows add to SCIM writes.
//!
//! Every SCIM write transaction writes its events (the outbox) before it commits; the server
//! times both and exposes the totals at `/metrics` (`roster_scim_write_transaction_seconds_total`:
//! each write's own statements and its commit, on SQLite its share of the group commit; and
//! `roster_scim_write_event_seconds_total`, the part spent writing events). Read before and after
//! the run, their difference over the write phases gives what events add to a write transaction:
//! `events / (transaction - events)`. On SQLite writes hold the single writer one after another
//! for that time, so the share is also what events add to write throughput and, under load, to
//! write latency; on PostgreSQL it is what they add to each write's own time.

use super::report::Judge;
use roster_devtools::http::Client;

/// The cap on what events may add to SCIM write latency.
pub(crate) const TARGET_PERCENT: f64 = 15.0;

/// Totals of the server's SCIM write transactions at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct WriteTimes {
    pub(crate) transactions: f64,
    pub(crate) transaction_seconds: f64,
    pub(crate) event_seconds: f64,
}

impl WriteTimes {
    /// Reads the totals from the server's `/metrics`.
    pub(crate) fn scrape(addr: &str, token: &str) -> Result<Self, String> {
        let response = Client::new(addr, token).request("GET", "/metrics", None)?;
        let text = String::from_utf8_lossy(&response.body);
        Self::parse(&text).ok_or_else(|| "/metrics has no SCIM write transaction totals".to_owned())
    }

    fn parse(text: &str) -> Option<Self> {
        let value = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
                .and_then(|value| value.trim().parse::<f64>().ok())
        };
        Some(Self {
            transactions: value("roster_scim_write_transactions_total")?,
            transaction_seconds: value("roster_scim_write_transaction_seconds_total")?,
            event_seconds: value("roster_scim_write_event_seconds_total")?,
        })
    }

    /// What happened between `earlier` and `self`.
    pub(crate) fn since(&self, earlier: &Self) -> Self {
        Self {
            transactions: self.transactions - earlier.transactions,
            transaction_seconds: self.transaction_seconds - earlier.transaction_seconds,
            event_seconds: self.event_seconds - earlier.event_seconds,
        }
    }

    /// What events add to a write transaction, in percent of the transaction without them.
    pub(crate) fn added_percent(&self) -> Option<f64> {
        let without = self.transaction_seconds - self.event_seconds;
        (self.transactions > 0.0 && without > 0.0).then(|| 100.0 * self.event_seconds / without)
    }

    /// The report line.
    pub(crate) fn line(&self, judge: Judge) -> String {
        let per_write_ms = |seconds: f64| 1000.0 * seconds / self.transactions.max(1.0);
        match self.added_percent() {
            Some(percent) => format!(
                "  {:<32} {:>8.1} %  ({:.0} write transactions, {:.3} ms each, events {:.3} ms)  < {TARGET_PERCENT:.0} %: {}",
                "events add to SCIM writes",
                percent,
                self.transactions,
                per_write_ms(self.transaction_seconds),
                per_write_ms(self.event_seconds),
                judge.verdict(percent < TARGET_PERCENT)
            ),
            None => format!("  {:<32} unknown (no write transactions measured)", "events add to SCIM writes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_metrics_and_computes_the_share() {
        let before = WriteTimes::parse(
            "# HELP x\nroster_scim_write_transactions_total 10\nroster_scim_write_transaction_seconds_total 1\nroster_scim_write_event_seconds_total 0.1\n",
        );
        let after = WriteTimes::parse(
            "roster_scim_write_transactions_total 110\nroster_scim_write_transaction_seconds_total 2.2\nroster_scim_write_event_seconds_total 0.3\n",
        );
        let (Some(before), Some(after)) = (before, after) else {
            panic!("unparsed");
        };
        let run = after.since(&before);
        assert_eq!(run.transactions, 100.0);
        let percent = run.added_percent().unwrap_or_default();
        assert!((percent - 20.0).abs() < 1e-6, "{percent}");
        assert!(run.line(Judge::Target).contains("NOT met"));
        assert!(run
            .line(Judge::Reference)
            .contains("not reached (reference only)"));
        assert_eq!(WriteTimes::parse("nothing"), None);
    }
}
