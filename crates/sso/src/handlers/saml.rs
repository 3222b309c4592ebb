//! `POST /sso/saml/{connection}/acs` (the IdP's answer, HTTP-POST binding) and
//! `GET /sso/saml/{connection}/metadata` (our SP metadata for the IdP admin).
//!
//! One validation ([`Response::verify`]) serves a real login and a test sign-in
//! (`crate::test_sign_in`); only what follows it differs: a session, or a stored report.

use crate::authn_context::{self, SessionAuthn};
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use roster_store::domain::attributes::Protocol;
use roster_store::domain::{ConnectionKind, LoginClaims, Timestamp};
use roster_store::{AttributeMapping, OneTimeAssertion, SamlSession, TestSignIn};

use crate::attributes::{self, Sent};
use crate::browser::{self, is_safe_return_to, sha256_hex};
use crate::config::{self, ProtocolConfig};
use crate::flow::{Attempt, Landing, LoginError, SsoState};
use crate::saml::{self, AcsForm, DuplicateField, SamlError};
use crate::test_sign_in::{MappingReport, ReportCheck, TestFlow};

use super::Stop;

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
    roster_store::blocking(move || answer(&state, &id, &form, binding_hash))
        .await
        .map(Landing::respond)
}

/// Validates the IdP's response for the connection `id`: signs the user in, or — when it
/// answers a test sign-in this browser started — stores the test's report.
fn answer(
    state: &SsoState,
    id: &str,
    form: &AcsForm,
    binding_hash: Option<String>,
) -> Result<Landing, LoginError> {
    let (workspace, connection) = super::sp_connection(state, id, ConnectionKind::Saml)?;
    let (pending, tests) = match &binding_hash {
        Some(hash) => {
            let pending = state.store.pending_sso_requests(connection.id, hash)?;
            let tests = if pending.is_empty() {
                Vec::new()
            } else {
                state.store.pending_test_sign_ins(connection.id, hash)?
            };
            (pending, tests)
        }
        None => (Vec::new(), Vec::new()),
    };
    let (test, expected) = split_tests(pending, tests, form);
    let response = Response {
        connection: &connection,
        form,
        expected: &expected,
        binding_hash: binding_hash.as_deref(),
    };
    if let Some(test) = test {
        let flow = TestFlow {
            test,
            workspace: &workspace,
            connection: &connection,
        };
        return match response.verify(state) {
            Ok(verified) if verified.in_response_to.is_some() => flow.complete(
                state,
                &verified.claims,
                verified.attributes.clone(),
                MappingReport::of(&verified.mappings, &verified.sent()),
                verified.checks(),
                Some(verified.one_time()),
            ),
            Ok(_) => {
                let unsolicited = SamlError::UnsolicitedResponse;
                flow.refuse(state, unsolicited.failure(), unsolicited.detail(), None)
            }
            Err(Stop::Refused(failure, detail)) => {
                flow.refuse(state, failure, with_claimed_audiences(detail, form), None)
            }
            Err(Stop::Trouble(err)) => Err(err),
        };
    }
    super::takes_logins(state, &workspace, &connection)?;
    let attempt = Attempt {
        workspace: &workspace,
        connection: &connection,
        protocol: "saml",
    };
    let verified = response.verify(state).map_err(|stop| match stop {
        Stop::Refused(failure, detail) => attempt.refuse(&state.store, failure, detail, None),
        Stop::Trouble(err) => err,
    })?;
    let signed_in = attempt.complete(
        state,
        &verified.claims,
        &verified.return_to,
        Some(verified.one_time()),
        verified.authn.clone(),
    )?;
    // What Single Logout needs: the IdP's names for this session. Failing to keep it costs
    // only Single Logout for this session, so the login stands.
    if let Err(err) = state.store.record_saml_session(&SamlSession {
        session_id: signed_in.session_id.clone(),
        connection_id: connection.id.to_string(),
        name_id: verified.name_id.clone(),
        name_id_format: verified.name_id_format.clone(),
        session_index: verified.session_index.clone(),
        expires_at: signed_in.expires_at_unix.saturating_mul(1_000_000),
    }) {
        tracing::error!(error = %err, connection = %connection.id, "cannot record the SAML session for Single Logout");
    }
    Ok(Landing::SignedIn(signed_in))
}

/// Every SAML refusal is a [`SamlError`]: its code, reason and want/got come from one match.
fn refused(error: SamlError) -> Stop {
    Stop::Refused(error.failure(), error.detail())
}

/// An audience mismatch that samael found names no audience (it does not say); a test's report
/// shows the ones the response states, marked unverified, so the admin sees what the IdP sent.
fn with_claimed_audiences(mut detail: serde_json::Value, form: &AcsForm) -> serde_json::Value {
    let unreported = detail["reason"] == "audience_mismatch"
        && detail["got"].as_array().is_some_and(Vec::is_empty);
    if let (true, Some(response)) = (unreported, form.saml_response.as_deref()) {
        let claimed = saml::claimed_audiences(response);
        detail["got"] = serde_json::Value::from(if claimed.is_empty() {
            "no audience".to_owned()
        } else {
            format!("{} (unverified)", claimed.join(", "))
        });
    }
    detail
}

/// Which pending request the response answers: a test's (then it is the only one expected),
/// or one of the browser's real logins (test requests left out). The response's own
/// `InResponseTo` is read (unverified) only to tell the two apart, and only when this browser
/// has a test in flight; validation then proves it.
fn split_tests(
    pending: Vec<String>,
    mut tests: Vec<TestSignIn>,
    form: &AcsForm,
) -> (Option<TestSignIn>, Vec<String>) {
    let claimed = match (tests.is_empty(), form.saml_response.as_deref()) {
        (false, Some(response)) => saml::claimed_request_id(response),
        _ => None,
    };
    let answered = claimed.and_then(|claimed| {
        tests
            .iter()
            .position(|test| test.request_id.as_deref() == Some(claimed.as_str()))
    });
    if let Some(at) = answered {
        let test = tests.swap_remove(at);
        let expected = test.request_id.clone().into_iter().collect();
        return (Some(test), expected);
    }
    let expected = pending
        .into_iter()
        .filter(|id| {
            !tests
                .iter()
                .any(|test| test.request_id.as_deref() == Some(id.as_str()))
        })
        .collect();
    (None, expected)
}

/// A response to validate, with the requests it may answer.
struct Response<'a> {
    connection: &'a roster_store::domain::Connection,
    form: &'a AcsForm,
    expected: &'a [String],
    binding_hash: Option<&'a str>,
}

/// A response every check accepted, its request consumed.
struct Verified {
    claims: LoginClaims,
    /// How the IdP authenticated the user, for the session.
    authn: SessionAuthn,
    attributes: std::collections::BTreeMap<String, Vec<String>>,
    friendly_names: std::collections::BTreeMap<String, String>,
    /// The workspace's attributes and their SAML sources at this connection.
    mappings: Vec<AttributeMapping>,
    assertion_id: String,
    replay_until: Timestamp,
    in_response_to: Option<String>,
    return_to: String,
    idp_entity_id: String,
    issuer: String,
    audience: String,
    /// What the IdP calls this login, for Single Logout.
    name_id: String,
    name_id_format: Option<String>,
    session_index: Option<String>,
}

impl Verified {
    /// What the assertion carried, for the attributes' sources.
    fn sent(&self) -> Sent<'_> {
        Sent::Saml {
            values: &self.attributes,
            friendly_names: &self.friendly_names,
        }
    }

    fn one_time(&self) -> OneTimeAssertion<'_> {
        OneTimeAssertion {
            assertion_id: &self.assertion_id,
            valid_until: self.replay_until,
        }
    }

    /// The checks that passed, as a test sign-in reports them.
    fn checks(&self) -> Vec<ReportCheck> {
        vec![
            ReportCheck::passed(
                "signature",
                "signed with a certificate of the IdP's metadata",
                "verified",
            ),
            ReportCheck::passed("issuer", self.idp_entity_id.clone(), self.issuer.clone()),
            ReportCheck::passed("audience", self.audience.clone(), self.audience.clone()),
            ReportCheck::passed(
                "in_response_to",
                "this test's request",
                self.in_response_to.clone().unwrap_or_default(),
            ),
            ReportCheck::passed("replay", "an assertion not used before", "first use"),
            ReportCheck::passed(
                "subject",
                "a persistent NameID (or uid)",
                self.claims.subject.clone(),
            ),
        ]
    }
}

impl Response<'_> {
    /// Every check of a SAML login, in order; consumes the answered request. Writes nothing
    /// else: the caller records a refusal (or a test's report) and completes the login.
    fn verify(&self, state: &SsoState) -> Result<Verified, Stop> {
        let Some(ProtocolConfig::Saml(saml_config)) = ProtocolConfig::of(self.connection) else {
            return Err(refused(SamlError::ConfigUnreadable));
        };
        let Some(response) = self.form.saml_response.as_deref() else {
            return Err(refused(SamlError::ResponseMissing));
        };
        // A connection without a signing certificate never validates anything (A2): re-checked
        // here.
        let idp = saml_config.idp().map_err(refused)?;
        let sp = config::sp_settings(&state.public_url, self.connection);
        let keys = crate::sp_keys::connection_keys(&state.store, self.connection)?;
        let assertion = saml::validate_response(
            response,
            &idp,
            &sp,
            &keys,
            self.expected,
            &saml_config.policy(),
        )
        .map_err(refused)?;

        let replay_until = Timestamp::from_micros(
            assertion
                .session_not_on_or_after_unix
                .saturating_mul(1_000_000),
        );
        // A replay is refused here, before anything else; the assertion is consumed in the
        // login's own transaction (`Attempt::complete`), which refuses a replay racing this one.
        if state
            .store
            .assertion_consumed(self.connection.id, &assertion.assertion_id)?
        {
            return Err(refused(SamlError::AssertionReplayed {
                assertion_id: assertion.assertion_id,
            }));
        }
        let return_to = match (&assertion.in_response_to, self.binding_hash) {
            (Some(request_id), Some(hash)) => {
                match state
                    .store
                    .take_sso_request(self.connection.id, request_id, hash)?
                {
                    Some(request) => request.return_to,
                    // Answered in the meantime (a double submit racing this one).
                    None => {
                        return Err(refused(SamlError::InResponseToUnknown {
                            got: request_id.clone(),
                            n_pending: 0,
                        }))
                    }
                }
            }
            (Some(request_id), None) => {
                return Err(refused(SamlError::BrowserBindingMissing {
                    in_response_to: request_id.clone(),
                }))
            }
            // IdP-initiated (allowed by the connection, or validation would have refused it):
            // RelayState is untrusted, so only a same-origin path is honoured (S33).
            (None, _) => self
                .form
                .relay_state
                .clone()
                .filter(|r| is_safe_return_to(r))
                .unwrap_or_else(|| "/".to_owned()),
        };
        let mut claims = saml::claims_from_assertion(&assertion).map_err(refused)?;
        let mappings = state
            .store
            .connection_attribute_mappings(self.connection, Protocol::Saml)?;
        claims.attributes = attributes::claimed(
            &mappings,
            &Sent::Saml {
                values: &assertion.attributes,
                friendly_names: &assertion.friendly_names,
            },
        );
        Ok(Verified {
            name_id: assertion.name_id.clone(),
            name_id_format: assertion.name_id_format.clone(),
            session_index: assertion.session_index.clone(),
            claims,
            authn: authn_context::from_saml(assertion.authn_context_class_ref.as_deref()),
            attributes: assertion.attributes,
            friendly_names: assertion.friendly_names,
            mappings,
            assertion_id: assertion.assertion_id,
            replay_until,
            in_response_to: assertion.in_response_to,
            return_to,
            idp_entity_id: idp.entity_id,
            issuer: assertion.issuer,
            audience: sp.entity_id,
        })
    }
}

pub async fn metadata(
    state: web::Data<SsoState>,
    path: web::Path<String>,
) -> Result<HttpResponse, LoginError> {
    let (id, found) = (path.into_inner(), state.clone());
    let (connection, keys) = roster_store::blocking(move || {
        let (_, connection) = super::sp_connection(&found, &id, ConnectionKind::Saml)?;
        let keys = crate::sp_keys::connection_keys(&found.store, &connection)?;
        Ok::<_, LoginError>((connection, keys))
    })
    .await?;
    let sp = config::sp_settings(&state.public_url, &connection);
    let signs_requests = match ProtocolConfig::of(&connection) {
        Some(ProtocolConfig::Saml(saml_config)) => saml_config
            .idp()
            .is_ok_and(|idp| saml_config.signs_requests(&idp)),
        _ => false,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/samlmetadata+xml"))
        .body(saml::sp_metadata_xml(&sp, &keys, signs_requests)))
}
