//! Webhook delivery attempts this process made, by endpoint and outcome, for `/metrics`. Process
//! memory on purpose: each replica counts its own attempts, as Prometheus counters expect (the
//! delivery state itself lives in the database).

use std::collections::BTreeMap;
use std::sync::Mutex;

/// (endpoint id, outcome) -> attempts, where outcome is `success` or `failure`.
static DELIVERIES: Mutex<BTreeMap<(String, &'static str), u64>> = Mutex::new(BTreeMap::new());

/// The outcome label of an attempt.
pub fn outcome_label(succeeded: bool) -> &'static str {
    if succeeded {
        "success"
    } else {
        "failure"
    }
}

/// Counts one recorded attempt.
pub(crate) fn record(endpoint_id: &str, succeeded: bool) {
    if let Ok(mut deliveries) = DELIVERIES.lock() {
        *deliveries
            .entry((endpoint_id.to_owned(), outcome_label(succeeded)))
            .or_default() += 1;
    }
}

/// Every (endpoint id, outcome) counted so far, in order.
pub fn delivery_counts() -> Vec<((String, &'static str), u64)> {
    DELIVERIES
        .lock()
        .map(|deliveries| deliveries.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_counted_by_endpoint_and_outcome() {
        record("counts-test-a", true);
        record("counts-test-a", true);
        record("counts-test-a", false);
        let counts = delivery_counts();
        let count = |outcome: &str| {
            counts
                .iter()
                .find(|((endpoint, o), _)| endpoint == "counts-test-a" && *o == outcome)
                .map(|(_, n)| *n)
        };
        assert_eq!(count("success"), Some(2));
        assert_eq!(count("failure"), Some(1));
    }
}
