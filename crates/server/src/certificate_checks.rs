//! Certificate expiry: every hour (and at start) each SAML connection's IdP signing
//! certificates are read, and the warning due (`roster_domain::certificate_expiry`: 30, 7 and 1
//! days before, and once expired) is given once as a `connection.certificate_expiring` event
//! (`Store::warn_certificate_expiring` keeps replicas and restarts from repeating it). The same
//! expiries are the `roster_saml_certificate_expiry_timestamp_seconds` gauge ([`expiries`]).

use std::time::Duration;

use actix_web::web;
use roster_domain::certificate_expiry::due_warning;
use roster_domain::{Connection, Timestamp};
use roster_store::{Store, StoreResult};

/// How often the certificates are looked at.
const INTERVAL: Duration = Duration::from_secs(3600);

/// Each live SAML connection with the expiry of its signing certificates (the latest of them).
pub fn expiries(store: &Store) -> StoreResult<Vec<(Connection, Timestamp)>> {
    Ok(store
        .saml_connections()?
        .into_iter()
        .filter_map(|connection| {
            let expiry = roster_sso::certificates::signing_expiry(&connection)?;
            Some((connection, expiry))
        })
        .collect())
}

/// Gives the warnings due at `now`; returns how many were given now.
pub fn warn_due(store: &Store, now: Timestamp) -> StoreResult<usize> {
    let mut given = 0;
    for (connection, expiry) in expiries(store)? {
        let Some(days) = due_warning(expiry, now) else {
            continue;
        };
        if store.warn_certificate_expiring(&connection, "signing", expiry, days)? {
            tracing::warn!(
                connection = %connection.id,
                workspace = %connection.workspace_id,
                days_left = days,
                expires_at = %expiry.to_rfc3339(),
                "an IdP signing certificate expires soon"
            );
            given += 1;
        }
    }
    Ok(given)
}

/// Runs [`warn_due`] now and every hour until the runtime stops.
pub async fn run(store: Store) {
    let mut ticks = actix_web::rt::time::interval(INTERVAL);
    loop {
        ticks.tick().await;
        let store = store.clone();
        match web::block(move || warn_due(&store, Timestamp::now())).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::warn!(error = %err, "certificate expiry check failed"),
            Err(_) => return,
        }
    }
}
