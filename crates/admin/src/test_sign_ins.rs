//! Test sign-in from the console: `POST /connections/{id}/test-sign-in` creates a dry run of a
//! real SSO login and answers the URL the browser opens; `GET
//! /connections/{id}/test-sign-ins/{test}` reads its report (docs/admin-api.md, docs/sso.md
//! "Test sign-in").
//!
//! The flow itself is `roster_sso::test_sign_in`: the real login's validation and JIT decision,
//! with nothing written but the report. Here: the policy (`ManageConnections` to start one;
//! reading admin data to read one), the checks that the connection can be tested, and the views.

use actix_web::{web, HttpResponse};
use roster_policy::admin::Action;
use roster_store::domain::{ConnectionId, ConnectionKind, ConnectionStatus, Timestamp};
use roster_store::{Store, TestSignIn};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::params::parse_id;
use crate::AdminSettings;

/// The answer of `POST /connections/{id}/test-sign-in`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestSignInStarted {
    /// The test's id, to read its report.
    id: String,
    /// Where to send the browser: it starts the sign-in at the IdP (once, within ten minutes,
    /// and only from the browser that opens it first).
    url: String,
    /// When the test expires (RFC 3339) unless completed.
    expires_at: String,
}

/// One check of a test sign-in: what a real login needs and what arrived.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TestSignInCheck {
    /// What is checked: `signature`, `issuer`, `audience`, `in_response_to`, `replay`,
    /// `subject`, `state`, `id_token`, `jit`, or a refusal's reason (`audience_mismatch`,
    /// `signature_invalid`, `email_conflict`, …).
    name: String,
    ok: bool,
    want: String,
    got: String,
}

/// What a test sign-in found: what arrived from the IdP and what a real sign-in would do.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestSignInReport {
    /// `create`, `link`, `sign_in` or `refuse`.
    outcome: String,
    /// The refusal code a real sign-in would record (docs/sso.md's login log), when refused.
    reason: Option<String>,
    /// What would happen, as a sentence.
    message: String,
    /// The SAML NameID (or `uid` for a transient NameID), or the OIDC `sub`.
    subject: Option<String>,
    email: Option<String>,
    user_name: Option<String>,
    display_name: Option<String>,
    /// SAML attributes by name; for OIDC, the claims Roster read.
    attributes: BTreeMap<String, Vec<String>>,
    /// Each custom attribute of the workspace: its sources at this connection, the source that
    /// gave a value, what arrived, and what a sign-in would store (or why it cannot).
    #[serde(default)]
    mapped_attributes: Vec<TestSignInAttribute>,
    /// The attribute names (SAML) or claim paths (OIDC) the IdP sent that no attribute's source
    /// reads: what there is left to map.
    #[serde(default)]
    unmapped_attributes: Vec<String>,
    groups: Vec<String>,
    /// The existing user a real sign-in would sign in or link (or that a refusal is about).
    existing_user_id: Option<String>,
    checks: Vec<TestSignInCheck>,
}

/// A custom attribute in a test sign-in's report.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestSignInAttribute {
    /// The attribute's name.
    name: String,
    /// Its sources at this connection for the protocol, in order of preference.
    sources: Vec<String>,
    /// The first source that held a value; null when none did.
    source: Option<String>,
    /// What arrived at that source, as text.
    received: Vec<String>,
    /// The value a sign-in would store, typed (a `user_ref` as the IdP named it, before it is
    /// resolved); null when nothing arrived or it does not fit the type.
    value: Option<serde_json::Value>,
    /// Why what arrived cannot be stored (e.g. "must be a number, got \"n/a\""); a real sign-in
    /// still succeeds and records it in the login log.
    warning: Option<String>,
}

/// The answer of `GET /connections/{id}/test-sign-ins/{test}`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestSignInView {
    id: String,
    connection_id: String,
    /// `pending` (waiting for the browser or the IdP), `completed` or `expired`.
    status: &'static str,
    completed_at: Option<String>,
    /// Null until completed.
    report: Option<TestSignInReport>,
}

impl TestSignInView {
    fn new(test: TestSignIn) -> Result<Self, AdminError> {
        let status = test.status_at(Timestamp::now().as_micros()).as_str();
        let report = test
            .report
            .as_deref()
            .map(serde_json::from_str::<TestSignInReport>)
            .transpose()
            .map_err(|err| {
                AdminError::internal(format!("unreadable test sign-in report: {err}"))
            })?;
        Ok(Self {
            id: test.id,
            connection_id: test.connection_id,
            status,
            completed_at: test
                .completed_at
                .map(|at| Timestamp::from_micros(at).to_rfc3339()),
            report,
        })
    }
}

/// `POST /connections/{id}/test-sign-in`: a test of a SAML or OIDC connection that has its IdP
/// settings — a draft among them, since that is when it is tested; a revoked connection or a
/// draft without IdP metadata is a `409 conflict`, a SCIM-only one a `400 validation`.
pub async fn start(
    principal: Principal,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let id: ConnectionId = parse_id(&id, "connection")?;
    let (workspace, test) = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageConnections)?;
        let connection = store.connection(permit.workspace_id(), id)?;
        if connection.kind == ConnectionKind::Scim {
            return Err(AdminError::validation(
                "a SCIM-only connection has no sign-in to test",
            ));
        }
        if connection.status == ConnectionStatus::Revoked {
            return Err(AdminError::conflict("the connection is revoked"));
        }
        if !roster_sso::test_sign_in::has_idp_settings(&connection) {
            return Err(AdminError::conflict(
                "the connection has no IdP settings yet: add the IdP's metadata first",
            ));
        }
        let test = store.create_test_sign_in(permit.actor(), permit.workspace_id(), id)?;
        Ok((store.workspace(permit.workspace_id())?, test))
    })
    .await?;
    Ok(HttpResponse::Created().json(TestSignInStarted {
        url: format!(
            "{}/sso/{}/test/{}",
            settings.public_url.trim_end_matches('/'),
            workspace.slug.as_str(),
            test.id
        ),
        expires_at: Timestamp::from_micros(test.expires_at).to_rfc3339(),
        id: test.id,
    }))
}

/// `GET /connections/{id}/test-sign-ins/{test}`: the test's status and, once completed, its
/// report (404 for another workspace's or connection's test, and after a day).
pub async fn report(
    principal: Principal,
    store: web::Data<Store>,
    path: web::Path<crate::params::TestSignInPath>,
) -> Result<HttpResponse, AdminError> {
    let crate::params::TestSignInPath { id, test: test_id } = path.into_inner();
    let id: ConnectionId = parse_id(&id, "connection")?;
    let test = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.test_sign_in(permit.workspace_id(), id, &test_id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(TestSignInView::new(test)?))
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::post("/connections/{id}/test-sign-in", "startTestSignIn", "Start a test sign-in: a dry run of a real SSO login through this connection (a draft with IdP settings included) that creates no user, session or login event. Send the browser to the answered url; the IdP's answer lands on the console with the report")
        .answers(201, schema::<TestSignInStarted>),
    Operation::get("/connections/{id}/test-sign-ins/{test}", "getTestSignIn", "A test sign-in's status and report: what arrived (subject, email, userName, attributes, groups; each custom attribute with the source that gave it, and what nothing maps), the checks with want and got, and what a real sign-in would do (create, link, sign_in or refuse with its reason)")
        .answers(200, schema::<TestSignInView>),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The report the SSO flow stores is the report this view reads, field for field.
    #[test]
    fn the_stored_report_reads_as_the_view() {
        let report = roster_sso::test_sign_in::Report {
            outcome: "refuse",
            reason: Some("email_conflict"),
            message: "m".to_owned(),
            subject: Some("s".to_owned()),
            email: Some("a@example.test".to_owned()),
            user_name: None,
            display_name: Some("A".to_owned()),
            attributes: BTreeMap::from([("mail".to_owned(), vec!["a@example.test".to_owned()])]),
            mapped_attributes: vec![roster_sso::test_sign_in::ReportAttribute {
                name: "badge".to_owned(),
                sources: vec!["badge".to_owned()],
                source: Some("badge".to_owned()),
                received: vec!["n/a".to_owned()],
                value: None,
                warning: Some("must be a number, got \"n/a\"".to_owned()),
            }],
            unmapped_attributes: vec!["employeeType".to_owned()],
            groups: vec!["eng".to_owned()],
            existing_user_id: Some("u".to_owned()),
            checks: vec![roster_sso::test_sign_in::ReportCheck::passed(
                "issuer", "i", "i",
            )],
        };
        let stored = serde_json::to_value(&report).unwrap();
        let view: TestSignInReport = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(serde_json::to_value(&view).unwrap(), stored);
    }
}
