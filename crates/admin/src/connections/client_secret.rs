//! When a change of an OIDC connection's settings may keep the stored client secret.
//!
//! Client secrets are write-only, so `PUT /connections/{id}/settings` without `clientSecret`
//! keeps the stored one: the console can change the token auth method without asking for the
//! secret again. That must not extend to *where* the secret goes. At each login Roster sends it
//! (HTTP Basic or in the form) to the token endpoint that the issuer's discovery names, as the
//! client the client id names; whoever could change the issuer without knowing the secret could
//! point it at a server of theirs and receive the secret at the next, anonymous, login. So the
//! stored secret stays only when the issuer and the client id are unchanged; otherwise the
//! request must carry the secret again, which proves its sender knows it.
//!
//! Values are compared exactly as they are stored and used, never normalised: an issuer is an
//! identifier compared byte for byte (OpenID Connect Discovery 1.0 §4.3), so `https://idp/` and
//! `https://idp` are two issuers with two discovery documents, and no two different values can
//! pass for the same one. The comparison destructures [`OidcConfig`] without `..`: a field added
//! to it (an endpoint override, say) does not compile here until someone decides whether it
//! binds the secret.

use roster_sso::oidc::{OidcConfig, TokenAuthMethod};

/// The OIDC settings a request proposes (before discovery validates them).
#[derive(Clone, Copy)]
pub struct Proposed<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub token_auth_method: TokenAuthMethod,
    /// A secret the request carries; blank counts as none.
    pub client_secret: Option<&'a str>,
}

impl std::fmt::Debug for Proposed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proposed")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("token_auth_method", &self.token_auth_method)
            .field("client_secret_sent", &self.client_secret.is_some())
            .finish()
    }
}

/// A setting of an OIDC connection an admin can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Issuer,
    ClientId,
    TokenAuthMethod,
}

impl Field {
    /// The name in the request body (`oidc.<name>`), also used in messages and the audit trail.
    pub fn name(self) -> &'static str {
        match self {
            Field::Issuer => "issuer",
            Field::ClientId => "clientId",
            Field::TokenAuthMethod => "tokenAuthMethod",
        }
    }

    /// Whether changing it changes where, or as whom, the secret is sent. The token auth method
    /// changes only how (Basic header or form) it reaches the same token endpoint.
    fn binds_secret(self) -> bool {
        match self {
            Field::Issuer | Field::ClientId => true,
            Field::TokenAuthMethod => false,
        }
    }
}

/// What happens to the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// The stored secret stays.
    Kept,
    /// The request's secret replaces it.
    Replaced,
}

/// An accepted change: which fields differ from the stored settings, and the secret's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub changed: Vec<Field>,
    pub secret: Secret,
}

/// Why the request must carry the client secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRequired {
    /// No secret is stored (a new connection, or one without usable OIDC settings).
    NoneStored,
    /// These fields, which decide where or as whom the secret is sent, change.
    BindingChanged(Vec<Field>),
}

impl SecretRequired {
    /// The sentence for the admin.
    pub fn message(&self) -> String {
        match self {
            SecretRequired::NoneStored => "oidc.clientSecret is required".to_owned(),
            SecretRequired::BindingChanged(fields) => format!(
                "oidc.clientSecret is required when the issuer or the client id changes \
                 (changed: {}): send the client secret again",
                names(fields).join(", ")
            ),
        }
    }
}

/// The request names of `fields`.
pub fn names(fields: &[Field]) -> Vec<&'static str> {
    fields.iter().map(|field| field.name()).collect()
}

/// The fields `proposed` changes from `current`.
fn changed_fields(current: &OidcConfig, proposed: &Proposed<'_>) -> Vec<Field> {
    // No `..`: a new field of OidcConfig must be decided here.
    let OidcConfig {
        issuer,
        client_id,
        client_secret: _,
        token_auth_method,
        // Not settable through the API (fixed when the settings are validated); neither decides
        // where the secret goes.
        scopes: _,
        clock_skew_seconds: _,
    } = current;
    let mut changed = Vec::new();
    if issuer.as_str() != proposed.issuer {
        changed.push(Field::Issuer);
    }
    if client_id.as_str() != proposed.client_id {
        changed.push(Field::ClientId);
    }
    if *token_auth_method != proposed.token_auth_method {
        changed.push(Field::TokenAuthMethod);
    }
    changed
}

/// Decides whether `proposed` may replace `current` (the stored settings, `None` when there
/// are none) and what becomes of the secret.
pub fn decide(
    current: Option<&OidcConfig>,
    proposed: &Proposed<'_>,
) -> Result<Change, SecretRequired> {
    let sent = proposed
        .client_secret
        .is_some_and(|secret| !secret.trim().is_empty());
    let Some(current) = current else {
        return if sent {
            Ok(Change {
                changed: vec![Field::Issuer, Field::ClientId, Field::TokenAuthMethod],
                secret: Secret::Replaced,
            })
        } else {
            Err(SecretRequired::NoneStored)
        };
    };
    let changed = changed_fields(current, proposed);
    if sent {
        return Ok(Change {
            changed,
            secret: Secret::Replaced,
        });
    }
    let binding: Vec<Field> = changed
        .iter()
        .copied()
        .filter(|field| field.binds_secret())
        .collect();
    if binding.is_empty() {
        Ok(Change {
            changed,
            secret: Secret::Kept,
        })
    } else {
        Err(SecretRequired::BindingChanged(binding))
    }
}

#[cfg(test)]
mod tests;
