//! `GET /sso/oidc/{connection}/callback`: the OP's redirect back with a code (or an error), for
//! a real login or a test sign-in (`crate::test_sign_in`): the same checks, the same code
//! exchange and ID-token validation; then a session, or the test's report.

use actix_web::{web, HttpRequest, HttpResponse};
use roster_store::domain::attributes::Protocol;
use roster_store::domain::{Connection, ConnectionKind, LoginClaims, LoginFailure, Workspace};
use roster_store::{AttributeMapping, SsoRequest, TestSignIn};
use serde::Deserialize;

use crate::attributes::Sent;
use crate::browser::{self, sha256_hex};
use crate::config::{self, ProtocolConfig};
use crate::flow::{Attempt, Landing, LoginError, SsoState};
use crate::oidc::{CodeExchange, OidcConfig};
use crate::test_sign_in::{oidc_attributes, MappingReport, ReportCheck, TestFlow};

use super::Stop;

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// RFC 9207: the issuer that sent this response.
    iss: Option<String>,
}

pub async fn callback(
    state: web::Data<SsoState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, LoginError> {
    let binding_hash = browser::binding(&req).map(|b| sha256_hex(&b));
    let (id, query, found) = (path.into_inner(), query.into_inner(), state.clone());
    let Callback {
        workspace,
        connection,
        oidc,
        pending,
        code,
        test,
        mappings,
    } = match roster_store::blocking(move || accept(&found, &id, &query, binding_hash)).await? {
        Accepted::Exchange(callback) => *callback,
        Accepted::Landed(landing) => return Ok(landing.respond()),
    };
    let redirect_uri = config::redirect_uri(&state.public_url, &connection);
    let exchange = CodeExchange {
        code: &code,
        nonce: pending.nonce.as_deref().unwrap_or_default(),
        pkce_verifier: pending.pkce_verifier.as_deref().unwrap_or_default(),
    };
    let login = state
        .oidc
        .finish_login(connection.id, &oidc, &redirect_uri, exchange, &mappings)
        .await;
    roster_store::blocking(move || {
        if let Some(test) = test {
            let flow = TestFlow {
                test,
                workspace: &workspace,
                connection: &connection,
            };
            return match login {
                Ok(login) => {
                    let checks = passed_checks(&oidc, &login.claims);
                    let mapping = MappingReport::of(&mappings, &Sent::Oidc(&login.sent));
                    let arrived = oidc_attributes(&login.claims);
                    flow.complete(&state, &login.claims, arrived, mapping, checks, None)
                }
                Err(err) => flow.refuse(&state, err.failure, err.detail(), None),
            };
        }
        let attempt = Attempt {
            workspace: &workspace,
            connection: &connection,
            protocol: "oidc",
        };
        let login =
            login.map_err(|err| attempt.refuse(&state.store, err.failure, err.detail(), None))?;
        attempt
            .complete(&state, &login.claims, &pending.return_to, None, login.authn)
            .map(Landing::SignedIn)
    })
    .await
    .map(Landing::respond)
}

/// The checks an OIDC test sign-in passed, as its report lists them.
fn passed_checks(oidc: &OidcConfig, claims: &LoginClaims) -> Vec<ReportCheck> {
    vec![
        ReportCheck::passed("state", "this test's request, from this browser", "matched"),
        ReportCheck::passed("issuer", oidc.issuer.clone(), oidc.issuer.clone()),
        ReportCheck::passed(
            "id_token",
            format!(
                "an ID token signed by the issuer's keys, for client {}, with this login's nonce",
                oidc.client_id
            ),
            "verified",
        ),
        ReportCheck::passed("subject", "a sub claim", claims.subject.clone()),
    ]
}

/// What the callback's checks lead to: the code exchange, or (a refused test sign-in) the
/// console.
enum Accepted {
    Exchange(Box<Callback>),
    Landed(Box<Landing>),
}

/// A callback whose state, browser binding and issuer checked out: what the code exchange needs.
struct Callback {
    workspace: Workspace,
    connection: Connection,
    oidc: OidcConfig,
    pending: SsoRequest,
    code: String,
    /// The test sign-in this callback completes, if it answers one.
    test: Option<TestSignIn>,
    /// The workspace's attributes and their OIDC sources at this connection.
    mappings: Vec<AttributeMapping>,
}

/// Checks the callback for the connection `id` against its pending login (consumed here). A
/// callback whose `state` is a test sign-in's, started by this browser, is that test's: its
/// refusals become the test's report, and the connection may still be a draft.
fn accept(
    state: &SsoState,
    id: &str,
    query: &CallbackQuery,
    binding_hash: Option<String>,
) -> Result<Accepted, LoginError> {
    let (workspace, connection) = super::sp_connection(state, id, ConnectionKind::Oidc)?;
    let test = match (&query.state, &binding_hash) {
        (Some(oauth_state), Some(hash)) => {
            let request_id = sha256_hex(oauth_state);
            state
                .store
                .pending_test_sign_ins(connection.id, hash)?
                .into_iter()
                .find(|test| test.request_id.as_deref() == Some(request_id.as_str()))
        }
        _ => None,
    };
    if test.is_none() {
        super::takes_logins(state, &workspace, &connection)?;
    }
    let checked = check(state, &connection, query, binding_hash.as_deref());
    match (test, checked) {
        (test, Ok((oidc, pending, code))) => {
            let mappings = state
                .store
                .connection_attribute_mappings(&connection, Protocol::Oidc)?;
            Ok(Accepted::Exchange(Box::new(Callback {
                workspace,
                connection,
                oidc,
                pending,
                code,
                test,
                mappings,
            })))
        }
        (_, Err(Stop::Trouble(err))) => Err(err),
        (None, Err(Stop::Refused(failure, detail))) => {
            let attempt = Attempt {
                workspace: &workspace,
                connection: &connection,
                protocol: "oidc",
            };
            Err(attempt.refuse(&state.store, failure, detail, None))
        }
        (Some(test), Err(Stop::Refused(failure, detail))) => {
            let flow = TestFlow {
                test,
                workspace: &workspace,
                connection: &connection,
            };
            flow.refuse(state, failure, detail, None)
                .map(|landing| Accepted::Landed(Box::new(landing)))
        }
    }
}

/// The callback's checks, in order: settings, issuer (mix-up), the pending login (consumed),
/// the OP's error, the code.
fn check(
    state: &SsoState,
    connection: &Connection,
    query: &CallbackQuery,
    binding_hash: Option<&str>,
) -> Result<(OidcConfig, SsoRequest, String), Stop> {
    let Some(ProtocolConfig::Oidc(oidc)) = ProtocolConfig::of(connection) else {
        return Err(Stop::Refused(
            LoginFailure::ConnectionMisconfigured,
            serde_json::json!({ "reason": "protocol_config_unreadable" }),
        ));
    };
    // Mix-up defence (O12): an `iss` that is not this connection's issuer is refused.
    if let Some(iss) = &query.iss {
        if iss != &oidc.issuer {
            return Err(Stop::Refused(
                LoginFailure::InvalidResponse,
                serde_json::json!({ "reason": "issuer_mismatch", "want": oidc.issuer, "got": iss }),
            ));
        }
    }
    let pending = match (&query.state, binding_hash) {
        (Some(oauth_state), Some(hash)) => {
            state
                .store
                .take_sso_request(connection.id, &sha256_hex(oauth_state), hash)?
        }
        _ => None,
    };
    if let Some(error) = &query.error {
        return Err(Stop::Refused(
            LoginFailure::IdpError,
            serde_json::json!({ "reason": "op_error", "error": error, "description": query.error_description }),
        ));
    }
    let Some(pending) = pending else {
        return Err(Stop::Refused(
            LoginFailure::UnknownRequest,
            serde_json::json!({
                "reason": if query.state.is_none() { "state_missing" } else if binding_hash.is_none() { "browser_binding_missing" } else { "state_unknown" },
            }),
        ));
    };
    let Some(code) = query.code.clone() else {
        return Err(Stop::Refused(
            LoginFailure::InvalidResponse,
            serde_json::json!({ "reason": "code_missing" }),
        ));
    };
    Ok((oidc, pending, code))
}
