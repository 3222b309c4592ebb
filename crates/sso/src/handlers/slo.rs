//! SAML Single Logout at `/sso/saml/{connection}/slo` (HTTP-Redirect `GET`, HTTP-POST `POST`),
//! and the `LogoutRequest` a Roster sign-out sends the IdP ([`idp_logout_redirect`]).
//!
//! - **From the IdP, a `LogoutRequest`** (the user signed out at the IdP or at another of its
//!   apps): verified (`saml::read_logout_message`), refused once seen (its id is kept against
//!   replay), then every Roster session of that NameID at *this* connection — of the
//!   `SessionIndex`es it names, or all — ends, which revokes the OpenID Provider grants they gave
//!   and sends each app its back-channel logout. The browser goes back to the IdP with a signed
//!   `LogoutResponse` (and the `RelayState` the IdP sent), its session cookie cleared.
//! - **From the IdP, a `LogoutResponse`** to Roster's own `LogoutRequest`: verified, it must
//!   answer a logout this browser started here (the binding cookie, as for logins); then the
//!   browser lands where the sign-out was going.
//!
//! Every refusal is a page with its reason (`signature_missing`, `logout_replayed`, …) and ends
//! nothing.

use actix_web::http::{header, StatusCode};
use actix_web::ResponseError;
use actix_web::{web, HttpRequest, HttpResponse};
use roster_store::domain::{ConnectionKind, Timestamp};
use roster_store::SsoRequest;
use serde::Deserialize;

use crate::browser::{self, binding_cookie, new_binding, sha256_hex};
use crate::config::{self, ProtocolConfig};
use crate::flow::{expired_session_cookie, LoginError, SsoState};
use crate::pages;
use crate::saml::{self, LogoutBinding, LogoutMessage, LogoutSubject, SamlError};

/// How long Roster waits for the IdP's `LogoutResponse`.
const PENDING_LOGOUT_SECONDS: i64 = 10 * 60;

/// The HTTP-POST binding's fields.
#[derive(Debug, Default, Deserialize)]
pub struct SloForm {
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// `GET /sso/saml/{connection}/slo`: the HTTP-Redirect binding.
pub async fn redirect(
    state: web::Data<SsoState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let query = req.query_string().to_owned();
    let relay_state = url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "RelayState")
        .map(|(_, value)| value.into_owned());
    let binding = browser::binding(&req);
    let (state_, id) = (state.clone(), path.into_inner());
    let outcome = roster_store::blocking(move || {
        handle(
            &state_,
            &id,
            Incoming::Redirect(query),
            relay_state,
            binding,
        )
    })
    .await;
    answer(&state, outcome)
}

/// `POST /sso/saml/{connection}/slo`: the HTTP-POST binding.
pub async fn post(
    state: web::Data<SsoState>,
    path: web::Path<String>,
    form: web::Form<SloForm>,
    req: HttpRequest,
) -> HttpResponse {
    let form = form.into_inner();
    let binding = browser::binding(&req);
    let Some(message) = form.saml_request.or(form.saml_response) else {
        return refused_page(&SamlError::ResponseMissing);
    };
    let (state_, id) = (state.clone(), path.into_inner());
    let outcome = roster_store::blocking(move || {
        handle(
            &state_,
            &id,
            Incoming::Post(message),
            form.relay_state,
            binding,
        )
    })
    .await;
    answer(&state, outcome)
}

enum Incoming {
    Redirect(String),
    Post(String),
}

/// What the browser is told.
enum Outcome {
    /// To the IdP with a `LogoutResponse`, or to where a Roster sign-out was going.
    Redirect(String),
    /// Signed out here; the IdP cannot be answered (no SLO service in its metadata).
    SignedOut,
    Refused(SamlError),
}

fn handle(
    state: &SsoState,
    connection_id: &str,
    incoming: Incoming,
    relay_state: Option<String>,
    binding: Option<String>,
) -> Result<Outcome, LoginError> {
    let (_, connection) = super::sp_connection(state, connection_id, ConnectionKind::Saml)?;
    let Some(ProtocolConfig::Saml(saml_config)) = ProtocolConfig::of(&connection) else {
        return Ok(Outcome::Refused(SamlError::ConfigUnreadable));
    };
    let idp = match saml_config.idp() {
        Ok(idp) => idp,
        Err(err) => return Ok(Outcome::Refused(err)),
    };
    let sp = config::sp_settings(&state.public_url, &connection);
    let now = Timestamp::now().as_micros() / 1_000_000;
    let binding_kind = match &incoming {
        Incoming::Redirect(query) => LogoutBinding::Redirect(query),
        Incoming::Post(message) => LogoutBinding::Post(message),
    };
    let message = match saml::read_logout_message(
        binding_kind,
        &idp,
        &sp,
        saml_config.clock_skew_seconds,
        now,
    ) {
        Ok(message) => message,
        Err(err) => return Ok(Outcome::Refused(err)),
    };
    match message {
        LogoutMessage::Request {
            id,
            name_id,
            session_indexes,
            replay_until_unix,
        } => {
            let fresh = state.store.consume_assertion(
                connection.id,
                &format!("logout:{id}"),
                Timestamp::from_micros(replay_until_unix.saturating_mul(1_000_000)),
            )?;
            if !fresh {
                return Ok(Outcome::Refused(SamlError::LogoutReplayed { id }));
            }
            let sessions =
                state
                    .store
                    .saml_sessions_of(connection.id, &name_id, &session_indexes)?;
            for session in &sessions {
                state.store.revoke_session(
                    &session.session_id,
                    Timestamp::from_micros(session.expires_at),
                )?;
            }
            tracing::info!(
                connection = %connection.id,
                sessions = sessions.len(),
                "the IdP ended a user's sessions (SAML Single Logout)"
            );
            let keys = crate::sp_keys::connection_keys(&state.store, &connection)?;
            let Some(signer) = keys.signing_key() else {
                return Ok(Outcome::Refused(SamlError::SigningKeyUnavailable));
            };
            let response_id = saml::new_request_id().map_err(|_| LoginError::unavailable())?;
            match saml::logout_response_url(
                &idp,
                &sp,
                &response_id,
                &id,
                relay_state.as_deref(),
                now,
                signer,
            ) {
                Ok(location) => Ok(Outcome::Redirect(location)),
                Err(SamlError::SloNotOffered) => Ok(Outcome::SignedOut),
                Err(err) => Ok(Outcome::Refused(err)),
            }
        }
        LogoutMessage::Response { in_response_to, .. } => {
            let (Some(request_id), Some(binding)) = (in_response_to, binding) else {
                return Ok(Outcome::Refused(SamlError::UnsolicitedResponse));
            };
            match state
                .store
                .take_sso_request(connection.id, &request_id, &sha256_hex(&binding))?
            {
                // The local session ended before the browser left; a failed status at the IdP
                // leaves only the IdP's session, which the IdP's own page reports.
                Some(pending) => Ok(Outcome::Redirect(pending.return_to)),
                None => Ok(Outcome::Refused(SamlError::InResponseToUnknown {
                    got: request_id,
                    n_pending: 0,
                })),
            }
        }
    }
}

fn answer(state: &SsoState, outcome: Result<Outcome, LoginError>) -> HttpResponse {
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err) => return err.error_response(),
    };
    match outcome {
        Outcome::Redirect(location) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .cookie(expired_session_cookie(state.secure_cookies()))
            .finish(),
        Outcome::SignedOut => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .cookie(expired_session_cookie(state.secure_cookies()))
            .content_type("text/html; charset=utf-8")
            .body(pages::signed_out()),
        Outcome::Refused(err) => {
            tracing::info!(reason = err.reason(), detail = %err.detail(), "SAML logout message refused");
            refused_page(&err)
        }
    }
}

fn refused_page(err: &SamlError) -> HttpResponse {
    HttpResponse::build(StatusCode::BAD_REQUEST)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(pages::sign_out_refused(
            &format!("The sign-out message from the identity provider was refused: {err}."),
            err.reason(),
        ))
}

/// After a Roster sign-out of a session a SAML login made: where to send the browser so the
/// IdP ends its session too (a signed `LogoutRequest`), with the binding cookie its
/// `LogoutResponse` must come back with. `None` when the session was not a SAML login's, or the
/// IdP offers no Single Logout: the sign-out is then Roster's alone.
pub fn idp_logout_redirect(
    state: &SsoState,
    session_id: &str,
    return_to: &str,
) -> Result<Option<(String, actix_web::cookie::Cookie<'static>)>, LoginError> {
    let Some(session) = state.store.saml_session(session_id)? else {
        return Ok(None);
    };
    let Ok(connection_id) = session.connection_id.parse() else {
        return Ok(None);
    };
    let connection = state.store.connection_by_id(connection_id)?;
    let Some(ProtocolConfig::Saml(saml_config)) = ProtocolConfig::of(&connection) else {
        return Ok(None);
    };
    if !saml_config.keys.single_logout {
        return Ok(None);
    }
    let Ok(idp) = saml_config.idp() else {
        return Ok(None);
    };
    if saml::idp_slo_url(&idp).is_none() {
        return Ok(None);
    }
    let keys = crate::sp_keys::connection_keys(&state.store, &connection)?;
    let Some(signer) = keys.signing_key() else {
        return Ok(None);
    };
    let sp = config::sp_settings(&state.public_url, &connection);
    let request_id = saml::new_request_id().map_err(|_| LoginError::unavailable())?;
    let now = Timestamp::now();
    let location = saml::logout_request_url(
        &idp,
        &sp,
        &request_id,
        &LogoutSubject {
            name_id: session.name_id,
            name_id_format: session.name_id_format,
            session_index: session.session_index,
        },
        now.as_micros() / 1_000_000,
        signer,
    )
    .map_err(|_| LoginError::unavailable())?;
    let binding = new_binding().map_err(|_| LoginError::unavailable())?;
    state.store.begin_sso_request(&SsoRequest {
        id: request_id,
        workspace_id: connection.workspace_id.to_string(),
        connection_id: connection.id.to_string(),
        browser_hash: sha256_hex(&binding),
        nonce: None,
        pkce_verifier: None,
        return_to: return_to.to_owned(),
        created_at: now.as_micros(),
        expires_at: now.plus_seconds(PENDING_LOGOUT_SECONDS).as_micros(),
    })?;
    Ok(Some((
        location,
        binding_cookie(binding, state.secure_cookies()),
    )))
}
