//! The token endpoint (RFC 6749 §3.2, OpenID Connect Core §3.1.3): a code or a refresh token in,
//! an ID token, an RFC 9068 access token and (for `offline_access`) a refresh token out.
//!
//! The order is the protocol's: read the form (each parameter at most once, §3.2), authenticate
//! the client, then let the store decide the grant — it consumes a code or rotates a refresh
//! token in one transaction, and a refusal commits whatever revocation it caused (a second use
//! of a code revokes what the first issued). Tokens are signed only after the store said yes,
//! so a refusal issues nothing. Every refusal of the grant is `invalid_grant` (`invalid_scope`
//! for a wider scope); which check failed goes to the log, not to the caller.

use std::collections::HashMap;
use std::net::IpAddr;

use roster_store::domain::attributes::AttributeName;
use roster_store::domain::Timestamp;
use roster_store::{
    ClientAuthMethod, CodeRedemption, GrantSubject, InvalidGrant, OAuthApp, OAuthGrant,
    RevokeReason, StoreError,
};
use serde::Serialize;
use serde_json::Value;

use crate::client_auth::{presented_client, PresentedClient, PresentedMethod};
use crate::tokens::{
    mint_access_token, mint_id_token, AccessTokenInput, IdTokenInput, UserClaims,
    ACCESS_TOKEN_LIFETIME_SECS, DEFAULT_ACCESS_TOKEN_ALG,
};
use crate::{ProviderError, ProviderState};

/// A form body as name → value, refusing a parameter sent twice (RFC 6749 §3.2).
pub fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, ProviderError> {
    let mut form = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if form.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(ProviderError::InvalidRequest(format!(
                "the parameter {name} is sent more than once"
            )));
        }
    }
    Ok(form)
}

/// The successful answer (RFC 6749 §5.1, Core §3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub id_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

/// The app that `client` authenticates as at `now`, or `invalid_client` (`basic` says whether
/// the answer carries `WWW-Authenticate: Basic`).
pub fn authenticate(
    state: &ProviderState,
    client: &PresentedClient,
    now: Timestamp,
) -> Result<OAuthApp, ProviderError> {
    let refused = || ProviderError::InvalidClient {
        basic: client.method == PresentedMethod::Basic,
    };
    let app = match &client.secret {
        Some(secret) => match state
            .store
            .authenticate_oauth_client(&client.client_id, secret, now)
        {
            Ok(app) => app,
            Err(StoreError::Unauthorized) => return Err(refused()),
            Err(err) => return Err(err.into()),
        },
        None => match state.store.oauth_app(&client.client_id) {
            Ok(app) if app.auth_method == ClientAuthMethod::None => app,
            Ok(_) | Err(StoreError::NotFound { .. }) => return Err(refused()),
            Err(err) => return Err(err.into()),
        },
    };
    Ok(app)
}

/// The client of a token or revocation request: read from `authorization` and the form, then
/// authenticated.
pub fn client_of(
    state: &ProviderState,
    authorization: Option<&str>,
    form: &HashMap<String, String>,
    address: Option<IpAddr>,
    now: Timestamp,
) -> Result<OAuthApp, ProviderError> {
    let client = presented_client(
        authorization,
        form.get("client_id").map(String::as_str),
        form.get("client_secret").map(String::as_str),
    )
    .map_err(|refusal| match refusal {
        crate::client_auth::ClientAuthRefusal::MultipleMethods
        | crate::client_auth::ClientAuthRefusal::Missing => {
            ProviderError::InvalidRequest(refusal.to_string())
        }
        crate::client_auth::ClientAuthRefusal::MalformedBasic => {
            ProviderError::InvalidClient { basic: true }
        }
    })?;
    state.check_client_throttle(&client.client_id, address)?;
    match authenticate(state, &client, now) {
        Ok(app) => Ok(app),
        Err(err @ ProviderError::InvalidClient { .. }) => {
            // Only registered apps are counted, so made-up client ids cannot grow the table.
            match state.store.oauth_app(&client.client_id) {
                Ok(_) => state.record_client_failure(&client.client_id, address),
                Err(StoreError::NotFound { .. }) => {}
                Err(store) => return Err(store.into()),
            }
            Err(err)
        }
        Err(err) => Err(err),
    }
}

/// Answers a token request (blocking: store and signatures).
pub fn exchange(
    state: &ProviderState,
    authorization: Option<&str>,
    body: &[u8],
    address: Option<IpAddr>,
    now: Timestamp,
) -> Result<TokenResponse, ProviderError> {
    let form = parse_form(body)?;
    let app = client_of(state, authorization, &form, address, now)?;
    let param = |name: &str| form.get(name).map(String::as_str);
    let actor = roster_store::domain::Actor::System;
    match param("grant_type") {
        Some("authorization_code") => {
            let code = param("code")
                .ok_or_else(|| ProviderError::InvalidRequest("code is missing".to_owned()))?;
            let redirect_uri = param("redirect_uri").ok_or_else(|| {
                ProviderError::InvalidRequest("redirect_uri is missing".to_owned())
            })?;
            let redeemed = state
                .store
                .redeem_authorization_code(
                    &actor,
                    &CodeRedemption {
                        code,
                        client_id: &app.client_id,
                        redirect_uri,
                        code_verifier: param("code_verifier"),
                    },
                    now,
                )?
                .map_err(ProviderError::InvalidGrant)?;
            issue(
                state,
                &app,
                Accepted {
                    grant: &redeemed.grant,
                    scope: &redeemed.grant.scope,
                    nonce: redeemed.nonce.as_deref(),
                    session_epoch: redeemed.session_epoch,
                    refresh_token: redeemed
                        .refresh_token
                        .map(|token| token.expose().to_owned()),
                },
                now,
            )
        }
        Some("refresh_token") => {
            let presented = param("refresh_token").ok_or_else(|| {
                ProviderError::InvalidRequest("refresh_token is missing".to_owned())
            })?;
            let rotated = state
                .store
                .rotate_refresh_token(&actor, presented, &app.client_id, param("scope"), now)?
                .map_err(ProviderError::InvalidGrant)?;
            issue(
                state,
                &app,
                Accepted {
                    grant: &rotated.grant,
                    scope: &rotated.scope,
                    nonce: None,
                    session_epoch: rotated.session_epoch,
                    refresh_token: Some(rotated.refresh_token.expose().to_owned()),
                },
                now,
            )
        }
        Some(_) => Err(ProviderError::UnsupportedGrantType),
        None => Err(ProviderError::InvalidRequest(
            "grant_type is missing".to_owned(),
        )),
    }
}

/// What the store accepted: a redeemed code or a rotated refresh token.
struct Accepted<'a> {
    grant: &'a OAuthGrant,
    /// The scope of the tokens to mint (a refresh may narrow the grant's).
    scope: &'a str,
    /// The authorization request's nonce (codes only).
    nonce: Option<&'a str>,
    session_epoch: i64,
    /// The refresh token the store issued, to hand out once.
    refresh_token: Option<String>,
}

/// Mints the ID token and the access token of what the store accepted.
fn issue(
    state: &ProviderState,
    app: &OAuthApp,
    accepted: Accepted<'_>,
    now: Timestamp,
) -> Result<TokenResponse, ProviderError> {
    let Accepted {
        grant,
        scope,
        nonce,
        session_epoch,
        refresh_token,
    } = accepted;
    // The store revokes a user's grants when they stop being active; this is the second lock,
    // for a grant made for a user who was not active: it is revoked, so the refresh token the
    // store just made (never shown) is dead too.
    let Ok(subject) = state.store.oauth_grant_subject(&grant.id, None)? else {
        state.store.revoke_oauth_grant(
            &roster_store::domain::Actor::System,
            &grant.id,
            RevokeReason::UserDeactivated,
            now,
        )?;
        return Err(ProviderError::InvalidGrant(InvalidGrant::GrantRevoked));
    };
    let user = user_claims(&subject);
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let amr: Vec<String> = serde_json::from_str(&grant.amr)
        .map_err(|_| StoreError::Corrupt("oauth_grants: amr".to_owned()))?;
    let sid = grant.sid.as_str();
    let id_key = state.signing_key(app.id_token_alg, now)?;
    let id_token = mint_id_token(
        &IdTokenInput {
            issuer: state.issuer(),
            client_id: &app.client_id,
            user: &user,
            scopes: &scopes,
            auth_time: Timestamp::from_micros(grant.auth_time),
            nonce,
            sid,
            amr: &amr,
            acr: grant.acr.as_deref(),
        },
        &id_key,
        now,
    )?;
    let access_key = state.signing_key(DEFAULT_ACCESS_TOKEN_ALG, now)?;
    let (access_token, _) = mint_access_token(
        &AccessTokenInput {
            issuer: state.issuer(),
            client_id: &app.client_id,
            sub: &grant.user_id,
            scopes: &scopes,
            sid: Some(sid),
            grant_id: &grant.id,
            session_epoch,
        },
        &access_key,
        now,
    )?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_LIFETIME_SECS,
        id_token,
        refresh_token,
        scope: scope.to_owned(),
    })
}

/// What Roster says about the user of a live grant now: profile, workspace, roles, app groups
/// and released attributes (pure, over what `Store::oauth_grant_subject` read).
pub fn user_claims(subject: &GrantSubject) -> UserClaims {
    let GrantSubject {
        grant,
        user,
        workspace,
        roles,
        app_groups,
        released_attributes,
    } = subject;
    let email = user.email.as_ref().map(ToString::to_string);
    UserClaims {
        sub: user.id.to_string(),
        // Roster's emails come from the workspace's IdP (SAML assertion, OIDC, SCIM), which
        // vouches for them.
        email_verified: email.is_some(),
        email,
        name: user.display_name.clone(),
        given_name: user.given_name.clone(),
        family_name: user.family_name.clone(),
        preferred_username: Some(user.user_name.to_string()),
        wid: workspace.id.to_string(),
        workspace: workspace.slug.to_string(),
        idp: grant.connection_id.clone(),
        roles: roles.roles.iter().map(ToString::to_string).collect(),
        groups: app_groups.clone(),
        attributes: released_values(&user.attributes, released_attributes),
    }
}

/// The values in `stored` (the user's attributes, a JSON object by name) of the `released`
/// attributes, in their order; a released attribute without a value is absent. Values stay as
/// stored: the admin API typed them against their declaration when it wrote them. A stored text
/// that is not an object holds no values.
pub fn released_values(stored: &str, released: &[AttributeName]) -> Vec<(String, Value)> {
    let Ok(Value::Object(mut values)) = serde_json::from_str::<Value>(stored) else {
        return Vec::new();
    };
    released
        .iter()
        .filter_map(|name| {
            let value = values.remove(name.as_str())?;
            (!value.is_null()).then(|| (name.to_string(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn names(names: &[&str]) -> Vec<AttributeName> {
        names
            .iter()
            .map(|name| AttributeName::parse(name).unwrap())
            .collect()
    }

    fn check(stored: &str, released: &[&str], expected: Value) {
        let values = released_values(stored, &names(released));
        let got = Value::Array(
            values
                .into_iter()
                .map(|(name, value)| json!([name, value]))
                .collect(),
        );
        assert_eq!(got, expected, "{stored} with {released:?}");
    }

    const ADA: &str = r#"{"department":"Sales","costCenter":4100,"skills":["a","b"],"remote":true,"manager":"0193b5c2-0000-7000-8000-000000000002","salary":90000}"#;

    /// Only released attributes, in declaration order, each value as stored.
    #[test]
    fn only_released_attributes_are_delivered_in_declaration_order() {
        check(
            ADA,
            &["skills", "department", "costCenter", "remote", "manager"],
            json!([
                ["skills", ["a", "b"]],
                ["department", "Sales"],
                ["costCenter", 4100],
                ["remote", true],
                ["manager", "0193b5c2-0000-7000-8000-000000000002"],
            ]),
        );
        // `salary` is declared but not released (so not passed): never delivered.
        check(ADA, &["department"], json!([["department", "Sales"]]));
        check(ADA, &[], json!([]));
        // A released attribute the user has no value for is absent.
        check(
            ADA,
            &["title", "department"],
            json!([["department", "Sales"]]),
        );
        // Names are exact, as the admin API stores them.
        check(r#"{"costcenter":4100}"#, &["costCenter"], json!([]));
        check(r#"{"title":null}"#, &["title"], json!([]));
    }

    #[test]
    fn a_stored_text_that_is_not_an_object_holds_no_values() {
        for stored in ["", "null", "[]", "\"Sales\"", "{", "{}"] {
            check(stored, &["department"], json!([]));
        }
    }
}
