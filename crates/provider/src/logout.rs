//! RP-initiated logout (`/oauth2/logout`, RP-Initiated Logout 1.0): a product sends the browser
//! here to end the user's Roster session; Roster ends it, revokes the grants that came from it
//! (which queues a back-channel logout to every app the session signed into) and sends the
//! browser to the product's registered `post_logout_redirect_uri`.
//!
//! The order of the checks:
//! 1. `id_token_hint`, when sent, must be an ID token this provider issued
//!    ([`crate::tokens::verify_id_token_hint`]; accepted after its `exp`), and a `client_id`
//!    sent with it must be its audience.
//! 2. `post_logout_redirect_uri` must be one the app (named by `client_id` or the hint)
//!    registered, byte for byte; otherwise the browser gets a page and goes nowhere (an open
//!    redirector otherwise). Without one, the browser gets the "signed out" page.
//! 3. The browser's session ends at once only when the hint names it (same user, same `sid`):
//!    otherwise any page could sign a visitor out (logout CSRF, §6), so Roster asks, and only
//!    the confirmation's same-origin POST ends it. A browser without a session has nothing to
//!    end and is answered at once.

use roster_sso::session::{SessionClaims, Sessions};
use roster_store::domain::{Actor, Timestamp};
use roster_store::StoreError;
use serde::Deserialize;

use crate::tokens::{app_sid, verify_id_token_hint, HintDecision};
use crate::{ProviderError, ProviderState};

/// The logout endpoint.
pub const LOGOUT_PATH: &str = "/oauth2/logout";

/// The parameters of a logout request (query or form). `logout_hint` and `ui_locales` are
/// ignored, as the specification allows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct LogoutParams {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    /// `yes` on the confirmation page's POST.
    pub confirm: Option<String>,
}

impl LogoutParams {
    /// The fields the confirmation page carries back.
    pub fn hidden_fields(&self) -> Vec<(&'static str, &str)> {
        [
            ("id_token_hint", &self.id_token_hint),
            ("client_id", &self.client_id),
            ("post_logout_redirect_uri", &self.post_logout_redirect_uri),
            ("state", &self.state),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|value| (name, value)))
        .collect()
    }
}

/// How the browser is answered.
#[derive(Debug, PartialEq, Eq)]
pub enum LogoutAnswer {
    /// Ask before ending the browser's session.
    Confirm(Box<LogoutParams>),
    /// Done: to the app's post-logout URI (with `state`), or the "signed out" page.
    /// `ended_session` is the Roster session this request ended, if it ended one: a SAML
    /// login's makes the IdP end its own session first (Single Logout).
    SignedOut {
        location: Option<String>,
        ended_session: Option<String>,
    },
}

/// Answers a logout request at `now`. `confirmed` is a POST with `confirm=yes` that came from
/// Roster's own origin (the handler checks the origin).
pub fn logout(
    state: &ProviderState,
    params: LogoutParams,
    session_token: Option<&str>,
    confirmed: bool,
    now: Timestamp,
) -> Result<LogoutAnswer, ProviderError> {
    let hint = match params.id_token_hint.as_deref() {
        Some(token) => Some(
            verify_id_token_hint(token, &state.verifying_keys(now)?, state.issuer())
                .map_err(|_| ProviderError::LogoutRefused("invalid_id_token_hint"))?,
        ),
        None => None,
    };
    let client_id = params
        .client_id
        .clone()
        .or_else(|| hint.as_ref().map(|hint| hint.aud.clone()));
    let location = post_logout_location(state, &params, client_id.as_deref())?;
    let session = session_token.and_then(|token| state.sessions.verify(token).ok());
    let Some((claims, _, _)) = session else {
        // No live session here: nothing to end (a hint alone ends nothing — whoever holds an
        // ID token could otherwise sign its user out anywhere).
        if let Some(hint) = &hint {
            if hint.decide(params.client_id.as_deref(), None) == HintDecision::Refuse {
                return Err(ProviderError::LogoutRefused("client_id_mismatch"));
            }
        }
        return Ok(LogoutAnswer::SignedOut {
            location,
            ended_session: None,
        });
    };
    let decision = match &hint {
        Some(hint) => {
            let sid = app_sid(&claims.sid, &hint.aud);
            hint.decide(
                params.client_id.as_deref(),
                Some((claims.sub.as_str(), sid.as_str())),
            )
        }
        None => HintDecision::Confirm,
    };
    match (decision, confirmed) {
        (HintDecision::Refuse, _) => Err(ProviderError::LogoutRefused("client_id_mismatch")),
        (HintDecision::EndSession, _) | (HintDecision::Confirm, true) => {
            end_session(state, &claims, now)?;
            Ok(LogoutAnswer::SignedOut {
                location,
                ended_session: Some(claims.sid.clone()),
            })
        }
        (HintDecision::Confirm, false) => Ok(LogoutAnswer::Confirm(Box::new(params))),
    }
}

/// The app's registered post-logout URI with `state`, if the request sent one; a URI the app
/// did not register (or no app to check it against) is refused.
fn post_logout_location(
    state: &ProviderState,
    params: &LogoutParams,
    client_id: Option<&str>,
) -> Result<Option<String>, ProviderError> {
    let Some(uri) = params.post_logout_redirect_uri.as_deref() else {
        return Ok(None);
    };
    let unregistered = ProviderError::LogoutRefused("unregistered_post_logout_redirect_uri");
    let client_id = client_id.ok_or(ProviderError::LogoutRefused(
        "post_logout_redirect_uri_without_client",
    ))?;
    let app = match state.store.oauth_app(client_id) {
        Ok(app) => app,
        Err(StoreError::NotFound { .. }) => return Err(unregistered),
        Err(err) => return Err(err.into()),
    };
    if !app
        .post_logout_redirect_uris
        .iter()
        .any(|registered| registered == uri)
    {
        return Err(unregistered);
    }
    let mut location = uri.to_owned();
    if let Some(state) = &params.state {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("state", state)
            .finish();
        location.push(if uri.contains('?') { '&' } else { '?' });
        location.push_str(&query);
    }
    Ok(Some(location))
}

/// Ends a Roster session: revoked for every replica, and the grants it gave apps revoked
/// (except `offline_access` ones, Back-Channel Logout §2.7), which tells those apps.
fn end_session(
    state: &ProviderState,
    claims: &SessionClaims,
    now: Timestamp,
) -> Result<(), ProviderError> {
    revoke_session(&state.sessions, claims)?;
    state.store.revoke_session_oauth_grants(
        &Actor::Login {
            connection_id: claims.cid.clone(),
        },
        &claims.sid,
        now,
    )?;
    Ok(())
}

fn revoke_session(sessions: &Sessions, claims: &SessionClaims) -> Result<(), ProviderError> {
    sessions.revoke(claims).map_err(|err| match err {
        roster_sso::session::SessionError::Store(err) => ProviderError::Store(err),
        other => ProviderError::Key(other.to_string()),
    })
}
