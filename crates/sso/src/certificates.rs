//! When a SAML connection's IdP signing certificates expire, for the expiry metric and the
//! `connection.certificate_expiring` warnings (`roster_domain::certificate_expiry` says when).
//!
//! A connection keeps working while any certificate its metadata lists is valid (an IdP rolling
//! its certificate publishes the new one beside the old), so a connection's expiry is the latest
//! of its certificates'.

use base64::Engine;
use roster_store::domain::{Connection, ConnectionKind, ConnectionStatus, Timestamp};

use crate::config::SamlConfig;

/// When a base64 DER certificate expires; `None` for text that is not one.
pub fn expiry(base64_der: &str) -> Option<Timestamp> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(base64_der.trim())
        .ok()?;
    let certificate = openssl::x509::X509::from_der(&der).ok()?;
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
    let since = epoch.diff(certificate.not_after()).ok()?;
    let seconds = i64::from(since.days) * 86_400 + i64::from(since.secs);
    Some(Timestamp::from_micros(seconds.saturating_mul(1_000_000)))
}

/// When the last of a live SAML connection's IdP signing certificates expires; `None` for
/// other connections, drafts and revoked ones, and metadata without a readable certificate.
pub fn signing_expiry(connection: &Connection) -> Option<Timestamp> {
    if connection.kind != ConnectionKind::Saml
        || matches!(
            connection.status,
            ConnectionStatus::Revoked | ConnectionStatus::Draft
        )
    {
        return None;
    }
    let config: SamlConfig = serde_json::from_str(&connection.protocol_config).ok()?;
    let idp = config.idp().ok()?;
    idp.signing_certificates
        .iter()
        .filter_map(|certificate| expiry(certificate))
        .max()
}
