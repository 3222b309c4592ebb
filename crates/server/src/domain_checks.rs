//! The background domain checker: every `dns.check_interval_secs` it looks up the TXT record of
//! each pending domain whose next check is due, and records the outcome as an admin's check
//! would (`roster_admin::domains::check`, actor `system`). Each domain backs off on its own
//! (`roster_domain::domain_proof::next_check_after`: 1 minute doubling to 12 hours, 12 checks,
//! then `failed`). Replicas share the work: each claims the due domains it checks
//! (`Store::claim_due_domains`), so no domain is checked twice at once, and a domain re-added
//! meanwhile (new challenge) is left alone.

use std::time::Duration;

use actix_web::web;
use roster_domain::domain_proof::Trigger;
use roster_domain::{Actor, Timestamp};
use roster_outbound::DnsResolver;
use roster_store::Store;

/// How many due domains one pass checks (the rest wait for the next pass).
const BATCH: i64 = 100;

/// Checks the domains due at `now`; returns how many it checked.
pub async fn check_due(store: &Store, dns: &DnsResolver, now: Timestamp) -> usize {
    let reader = store.clone();
    let due = match web::block(move || reader.claim_due_domains(now, BATCH)).await {
        Ok(Ok(due)) => due,
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "listing the domains due for a check failed");
            return 0;
        }
        Err(_) => return 0,
    };
    let mut checked = 0;
    for domain in due {
        let name = domain.domain.clone();
        let outcome = roster_admin::domains::check(
            web::Data::new(store.clone()),
            dns,
            Actor::System,
            domain,
            Trigger::Background,
        )
        .await;
        match outcome {
            Ok(after) => {
                checked += 1;
                tracing::info!(domain = %name, state = after.state.as_str(), "domain checked");
            }
            Err(err) => tracing::warn!(domain = %name, error = %err, "domain check failed"),
        }
    }
    checked
}

/// Runs [`check_due`] every `interval` until the runtime stops.
pub async fn run(store: Store, dns: DnsResolver, interval: Duration) {
    let mut ticks = actix_web::rt::time::interval(interval);
    loop {
        ticks.tick().await;
        check_due(&store, &dns, Timestamp::now()).await;
    }
}
