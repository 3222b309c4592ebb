//! Certificate expiry: every hour (and at start) each SAML connection's IdP signing
//! certificates and its own keys (request signing, assertion decryption) are read, and the
//! warning due (`roster_domain::certificate_expiry`: 30, 7 and 1
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

/// A certificate whose expiry is watched.
#[derive(Debug, Clone)]
pub struct CertificateExpiry {
    pub connection: Connection,
    /// `signing` (the IdP's: the latest of its metadata's certificates), `sp_signing` (the
    /// connection's key that signs its requests) or `sp_encryption` (the latest of the
    /// connection's published encryption keys).
    pub certificate_use: &'static str,
    pub expires_at: Timestamp,
}

/// Every watched certificate of every live SAML connection.
pub fn expiries(store: &Store) -> StoreResult<Vec<CertificateExpiry>> {
    let sp_keys = store.published_sp_key_expiries()?;
    let mut expiries = Vec::new();
    for connection in store.saml_connections()? {
        if let Some(expires_at) = roster_sso::certificates::signing_expiry(&connection) {
            expiries.push(CertificateExpiry {
                connection: connection.clone(),
                certificate_use: "signing",
                expires_at,
            });
        }
        let id = connection.id.to_string();
        let mine: Vec<_> = sp_keys
            .iter()
            .filter(|key| key.connection_id == id)
            .collect();
        // The key that signs ends with its certificate; an IdP may encrypt to any published
        // encryption key, and a rotation to a newer one is what ends the warning.
        let signer = roster_store::signing_sp_key(mine.iter().copied());
        let encryption = mine
            .iter()
            .copied()
            .filter(|key| key.key_use == "encryption")
            .max_by_key(|key| key.not_after);
        for (certificate_use, key) in [("sp_signing", signer), ("sp_encryption", encryption)] {
            if let Some(key) = key {
                expiries.push(CertificateExpiry {
                    connection: connection.clone(),
                    certificate_use,
                    expires_at: Timestamp::from_micros(key.not_after),
                });
            }
        }
    }
    Ok(expiries)
}

/// Gives the warnings due at `now`; returns how many were given now.
pub fn warn_due(store: &Store, now: Timestamp) -> StoreResult<usize> {
    let mut given = 0;
    for expiry in expiries(store)? {
        let Some(days) = due_warning(expiry.expires_at, now) else {
            continue;
        };
        if store.warn_certificate_expiring(
            &expiry.connection,
            expiry.certificate_use,
            expiry.expires_at,
            days,
        )? {
            tracing::warn!(
                connection = %expiry.connection.id,
                workspace = %expiry.connection.workspace_id,
                certificate_use = expiry.certificate_use,
                days_left = days,
                expires_at = %expiry.expires_at.to_rfc3339(),
                "a SAML certificate expires soon"
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
