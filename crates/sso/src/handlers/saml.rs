//! `POST /sso/saml/{connection}/acs` (the IdP's answer, HTTP-POST binding) and
//! `GET /sso/saml/{connection}/metadata` (our SP metadata for the IdP admin).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use roster_store::domain::{ConnectionKind, LoginFailure, Timestamp};
use roster_store::OneTimeAssertion;

use crate::browser::{self, is_safe_return_to, sha256_hex};
use crate::config::{self, ProtocolConfig};
use crate::flow::{Attempt, LoginError, SignedIn, SsoState};
use crate::saml::{self, AcsForm, DuplicateField};

/// The ACS form as an extractor: the body (form-encoded, at most `ACS_FORM_LIMIT` bytes) decoded
/// by [`AcsForm::parse`]; anything else is refused with the login error page, 413 when too large.
pub struct AcsBody(AcsForm);

impl FromRequest for AcsBody {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_form = req
            .content_type()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded");
        let declared_too_large = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|length| length.to_str().ok()?.parse::<usize>().ok())
            .is_some_and(|length| length > crate::ACS_FORM_LIMIT);
        let body = web::Payload::from_request(req, payload);
        Box::pin(async move {
            if !is_form {
                return Err(crate::form_refused("not a form", false));
            }
            if declared_too_large {
                return Err(crate::form_refused("form too large", true));
            }
            let bytes = match body.await?.to_bytes_limited(crate::ACS_FORM_LIMIT).await {
                Ok(Ok(bytes)) => bytes,
                Ok(Err(err)) => return Err(crate::form_refused(err, false)),
                Err(err) => return Err(crate::form_refused(err, true)),
            };
            AcsForm::parse(&bytes)
                .map(AcsBody)
                .map_err(|DuplicateField(field)| crate::form_refused(field, false))
        })
    }
}

pub async fn acs(
    state: web::Data<SsoState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: AcsBody,
) -> Result<HttpResponse, LoginError> {
    let binding_hash = browser::binding(&req).map(|b| sha256_hex(&b));
    let (id, form) = (path.into_inner(), body.0);
    roster_store::blocking(move || sign_in(&state, &id, &form, binding_hash))
        .await
        .map(SignedIn::redirect)
}

/// Validates the IdP's response for the connection `id` and signs the user in.
fn sign_in(
    state: &SsoState,
    id: &str,
    form: &AcsForm,
    binding_hash: Option<String>,
) -> Result<SignedIn, LoginError> {
    let (workspace, connection) = super::login_connection(state, id, ConnectionKind::Saml)?;
    let attempt = Attempt {
        workspace: &workspace,
        connection: &connection,
        protocol: "saml",
    };
    let refuse = |failure: LoginFailure, detail: serde_json::Value| {
        attempt.refuse(&state.store, failure, detail, None)
    };
    let Some(ProtocolConfig::Saml(saml_config)) = ProtocolConfig::of(&connection) else {
        return Err(refuse(
            LoginFailure::ConnectionMisconfigured,
            serde_json::json!({ "reason": "protocol_config_unreadable" }),
        ));
    };
    let Some(response) = form.saml_response.as_deref() else {
        return Err(refuse(
            LoginFailure::InvalidResponse,
            serde_json::json!({ "reason": "saml_response_missing" }),
        ));
    };
    // A connection without a signing certificate never validates anything (A2): re-checked here.
    let idp = saml_config
        .idp()
        .map_err(|err| refuse(err.failure(), err.detail()))?;
    let sp = config::sp_settings(&state.public_url, &connection);
    let pending = match &binding_hash {
        Some(hash) => state.store.pending_sso_requests(connection.id, hash)?,
        None => Vec::new(),
    };
    let assertion = saml::validate_response(response, &idp, &sp, &pending, &saml_config.policy())
        .map_err(|err| refuse(err.failure(), err.detail()))?;

    let replay_until = Timestamp::from_micros(
        assertion
            .session_not_on_or_after_unix
            .saturating_mul(1_000_000),
    );
    // A replay is refused here, before anything else; the assertion is consumed in the login's
    // own transaction (`Attempt::complete`), which refuses a replay racing this one.
    if state
        .store
        .assertion_consumed(connection.id, &assertion.assertion_id)?
    {
        return Err(refuse(
            LoginFailure::Replay,
            serde_json::json!({ "reason": "assertion_replayed", "assertion_id": assertion.assertion_id }),
        ));
    }
    let return_to = match (&assertion.in_response_to, &binding_hash) {
        (Some(request_id), Some(hash)) => {
            match state
                .store
                .take_sso_request(connection.id, request_id, hash)?
            {
                Some(request) => request.return_to,
                None => {
                    return Err(refuse(
                        LoginFailure::UnknownRequest,
                        serde_json::json!({ "reason": "in_response_to_unknown", "got": request_id }),
                    ))
                }
            }
        }
        (Some(request_id), None) => {
            return Err(refuse(
                LoginFailure::UnknownRequest,
                serde_json::json!({ "reason": "browser_binding_missing", "got": request_id }),
            ))
        }
        // IdP-initiated (allowed by the connection, or validation would have refused it):
        // RelayState is untrusted, so only a same-origin path is honoured (S33).
        (None, _) => form
            .relay_state
            .clone()
            .filter(|r| is_safe_return_to(r))
            .unwrap_or_else(|| "/".to_owned()),
    };
    let claims = saml::claims_from_assertion(&assertion)
        .map_err(|err| refuse(err.failure(), err.detail()))?;
    let one_time = OneTimeAssertion {
        assertion_id: &assertion.assertion_id,
        valid_until: replay_until,
    };
    attempt.complete(state, &claims, &return_to, Some(one_time))
}

pub async fn metadata(
    state: web::Data<SsoState>,
    path: web::Path<String>,
) -> Result<HttpResponse, LoginError> {
    let (id, found) = (path.into_inner(), state.clone());
    let (_, connection) =
        roster_store::blocking(move || super::sp_connection(&found, &id, ConnectionKind::Saml))
            .await?;
    let sp = config::sp_settings(&state.public_url, &connection);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/samlmetadata+xml"))
        .body(saml::sp_metadata_xml(&sp)))
}
