//! Test sign-in: a dry run of a real SSO login, for the admin setting a connection up
//! (docs/sso.md "Test sign-in").
//!
//! The admin API creates a test; its URL (`/sso/{workspace}/test/{id}`) starts the flow like
//! `/sso/{workspace}/login` does (the same AuthnRequest or authorization request, the same
//! browser binding), recording the pending login as the test's. The ACS and the OIDC callback
//! recognise an answer to a test's request, validate it with exactly the code a real login runs,
//! ask the store what JIT would decide ([`roster_store::Store::jit_preview`]: the same inputs and
//! the same `roster_domain::jit::decide`), and store the report here instead of signing anyone
//! in. A refused check is a report too (outcome `refuse` with the check's want/got), never an
//! error page. Nothing is written but the report (and, for SAML, the assertion's replay-cache
//! entry): no user, identity, membership, session, grant or login event.
//!
//! The report also says, for each custom attribute of the workspace, what arrived at its
//! sources and which source gave it (typed as a real sign-in would type it), and which names the
//! IdP sent that nothing maps: what an admin needs to map the rest.
//!
//! **Invariant:** a response is a test's only when it answers the request of a started,
//! unfinished test of this connection begun by this browser; an IdP-initiated (unsolicited)
//! SAML response is never a test, and a real login's pending requests never include a test's.

use std::collections::BTreeMap;

use roster_store::domain::attributes::{coerce, RawScalar};
use roster_store::domain::{Connection, GroupsClaim, LoginClaims, LoginFailure, Workspace};
use roster_store::{AttributeMapping, JitPreview, OneTimeAssertion, TestSignIn};
use serde::Serialize;
use serde_json::Value;

use crate::attributes::{claimed, Sent};
use crate::config::ProtocolConfig;
use crate::flow::{Landing, LoginError, SsoState};

/// Whether a login connection has the IdP settings a sign-in needs (SAML metadata with a
/// signing certificate, or an OIDC issuer and client): a draft without them cannot be tested.
pub fn has_idp_settings(connection: &Connection) -> bool {
    match ProtocolConfig::of(connection) {
        Some(ProtocolConfig::Saml(saml)) => saml.idp().is_ok(),
        Some(ProtocolConfig::Oidc(_)) => true,
        None => false,
    }
}

/// Where the browser lands after a test: the console's view of its report.
pub fn console_location(test_id: &str) -> String {
    format!("/admin#test/{test_id}")
}

/// One check of a test sign-in: what a real login needs and what arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportCheck {
    pub name: String,
    pub ok: bool,
    pub want: String,
    pub got: String,
}

impl ReportCheck {
    pub fn passed(name: &str, want: impl Into<String>, got: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            ok: true,
            want: want.into(),
            got: got.into(),
        }
    }

    /// The failed check a refusal's login-event detail describes: named by its fine-grained
    /// `reason` (else the refusal code), with its `want` and `got` as text.
    fn failed(failure: LoginFailure, detail: &Value) -> Self {
        let text = |value: Option<&Value>| match value {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(Value::Array(values)) if values.iter().all(Value::is_string) => values
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            Some(other) => other.to_string(),
        };
        let name = detail
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or(failure.code());
        let got = match detail.get("got") {
            Some(got) => text(Some(got)),
            None => detail.get("error").map_or_else(
                || failure.explanation().to_owned(),
                |error| text(Some(error)),
            ),
        };
        Self {
            name: name.to_owned(),
            ok: false,
            want: text(detail.get("want")),
            got,
        }
    }
}

/// What a test sign-in reports (the `report` of `GET …/test-sign-ins/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `create`, `link`, `sign_in` or `refuse`.
    pub outcome: &'static str,
    /// The refusal code a real login would record; `None` unless refused.
    pub reason: Option<&'static str>,
    pub message: String,
    /// The SAML NameID (or `uid` for a transient one) or the OIDC `sub`.
    pub subject: Option<String>,
    pub email: Option<String>,
    pub user_name: Option<String>,
    pub display_name: Option<String>,
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Each custom attribute of the workspace: where it is looked for, and what arrived.
    pub mapped_attributes: Vec<ReportAttribute>,
    /// What the IdP sent that no attribute's source reads (and Roster does not read itself).
    pub unmapped_attributes: Vec<String>,
    pub groups: Vec<String>,
    pub existing_user_id: Option<String>,
    pub checks: Vec<ReportCheck>,
}

/// A custom attribute in a test sign-in's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportAttribute {
    pub name: String,
    /// Its sources at this connection, in order of preference.
    pub sources: Vec<String>,
    /// The first source that held a value; `None` when none did.
    pub source: Option<String>,
    /// What arrived there, as text.
    pub received: Vec<String>,
    /// The value a sign-in would store (typed; a `user_ref` as sent, not yet resolved).
    pub value: Option<Value>,
    /// Why what arrived cannot be stored (a value of the wrong type).
    pub warning: Option<String>,
}

/// What a test's report says about the custom attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingReport {
    pub mapped: Vec<ReportAttribute>,
    pub unmapped: Vec<String>,
}

impl MappingReport {
    /// The report of `mappings` (the connection's, for its protocol) over what arrived.
    pub fn of(mappings: &[AttributeMapping], sent: &Sent<'_>) -> Self {
        let claimed = claimed(mappings, sent);
        let mapped = mappings
            .iter()
            .map(|mapping| {
                let found = claimed
                    .iter()
                    .find(|claimed| claimed.definition.id == mapping.definition.id);
                let typed = found.map(|found| coerce(mapping.definition.kind, &found.values));
                ReportAttribute {
                    name: mapping.definition.name.to_string(),
                    sources: mapping.sources.clone(),
                    source: found.map(|found| found.source.clone()),
                    received: found
                        .map(|found| found.values.iter().map(scalar_text).collect())
                        .unwrap_or_default(),
                    value: match &typed {
                        Some(Ok(Some(value))) => Some(roster_store::attribute_json(value.clone())),
                        _ => None,
                    },
                    warning: match typed {
                        Some(Err(err)) => Some(err.to_string()),
                        _ => None,
                    },
                }
            })
            .collect();
        Self {
            mapped,
            unmapped: sent.unmapped(mappings),
        }
    }
}

fn scalar_text(scalar: &RawScalar) -> String {
    match scalar {
        RawScalar::Text(text) => text.clone(),
        RawScalar::Number(number) => number.to_string(),
        RawScalar::Bool(value) => value.to_string(),
    }
}

impl Report {
    fn empty(outcome: &'static str, message: String) -> Self {
        Self {
            outcome,
            reason: None,
            message,
            subject: None,
            email: None,
            user_name: None,
            display_name: None,
            attributes: BTreeMap::new(),
            mapped_attributes: Vec::new(),
            unmapped_attributes: Vec::new(),
            groups: Vec::new(),
            existing_user_id: None,
            checks: Vec::new(),
        }
    }

    fn with_claims(mut self, claims: &LoginClaims) -> Self {
        self.subject = Some(claims.subject.clone());
        self.email = claims.email.clone();
        self.user_name = claims.user_name.clone();
        self.display_name = claims.display_name.clone();
        self.groups = match &claims.groups {
            GroupsClaim::Known(values) => values.clone(),
            GroupsClaim::Unknown => Vec::new(),
        };
        self
    }
}

/// The attributes an OIDC login read, by claim name (the ID token's, with userinfo's filled in).
pub fn oidc_attributes(claims: &LoginClaims) -> BTreeMap<String, Vec<String>> {
    let mut attributes = BTreeMap::new();
    let mut put = |name: &str, value: Option<&String>| {
        if let Some(value) = value {
            attributes.insert(name.to_owned(), vec![value.clone()]);
        }
    };
    put("sub", Some(&claims.subject));
    put("email", claims.email.as_ref());
    put("preferred_username", claims.user_name.as_ref());
    put("given_name", claims.given_name.as_ref());
    put("family_name", claims.family_name.as_ref());
    put("name", claims.display_name.as_ref());
    attributes.insert(
        "email_verified".to_owned(),
        vec![claims.email_verified.to_string()],
    );
    if let GroupsClaim::Known(values) = &claims.groups {
        attributes.insert("groups".to_owned(), values.clone());
    }
    attributes
}

/// A test flow in progress: the test the IdP's answer completes, and where.
pub struct TestFlow<'a> {
    pub test: TestSignIn,
    pub workspace: &'a Workspace,
    pub connection: &'a Connection,
}

impl TestFlow<'_> {
    /// A refused check or claim: a completed report with outcome `refuse`.
    pub fn refuse(
        &self,
        state: &SsoState,
        failure: LoginFailure,
        detail: Value,
        claims: Option<&LoginClaims>,
    ) -> Result<Landing, LoginError> {
        tracing::info!(
            connection = %self.connection.id,
            reason = failure.code(),
            "test sign-in refused"
        );
        let mut report = Report::empty("refuse", failure.explanation().to_owned());
        if let Some(claims) = claims {
            report = report.with_claims(claims);
        }
        report.reason = Some(failure.code());
        report.checks.push(ReportCheck::failed(failure, &detail));
        self.store(state, &report, None)
    }

    /// Verified claims: what JIT would do with them, decided as a real login decides, stored
    /// as the report with what arrived (`attributes`, and the custom attributes in `mapping`).
    /// `checks` are the validation's, passed; `assertion` (SAML) is consumed.
    pub fn complete(
        &self,
        state: &SsoState,
        claims: &LoginClaims,
        attributes: BTreeMap<String, Vec<String>>,
        mapping: MappingReport,
        mut checks: Vec<ReportCheck>,
        assertion: Option<OneTimeAssertion<'_>>,
    ) -> Result<Landing, LoginError> {
        let preview = state
            .store
            .jit_preview(self.workspace, self.connection, claims)?;
        let mut report = Report::empty("refuse", String::new()).with_claims(claims);
        report.attributes = attributes;
        report.mapped_attributes = mapping.mapped;
        report.unmapped_attributes = mapping.unmapped;
        match preview {
            JitPreview::Create { user_name } => {
                report.outcome = "create";
                report.message = format!(
                    "A real sign-in would create the user {user_name} and link it to this subject."
                );
                checks.push(ReportCheck::passed(
                    "jit",
                    "a user for this subject",
                    format!("none yet: {user_name} would be created"),
                ));
            }
            JitPreview::Link { user } => {
                report.outcome = "link";
                report.message = format!(
                    "A real sign-in would link this subject to the existing user {}.",
                    user.user_name
                );
                report.existing_user_id = Some(user.id.to_string());
                checks.push(ReportCheck::passed(
                    "jit",
                    "a user for this subject",
                    format!("{} would be linked", user.user_name),
                ));
            }
            JitPreview::SignIn { user } => {
                report.outcome = "sign_in";
                report.message = format!(
                    "A real sign-in would sign in {}, already linked to this subject.",
                    user.user_name
                );
                report.existing_user_id = Some(user.id.to_string());
                checks.push(ReportCheck::passed(
                    "jit",
                    "a user for this subject",
                    format!("{} (linked)", user.user_name),
                ));
            }
            JitPreview::Refuse {
                failure,
                detail,
                existing_user,
            } => {
                report.reason = Some(failure.code());
                report.message = failure.explanation().to_owned();
                report.existing_user_id = existing_user.map(|id| id.to_string());
                checks.push(ReportCheck::failed(failure, &detail));
            }
        }
        report.checks = checks;
        self.store(state, &report, assertion)
    }

    /// Stores the report once; a test completed before (or expired meanwhile) is refused.
    fn store(
        &self,
        state: &SsoState,
        report: &Report,
        assertion: Option<OneTimeAssertion<'_>>,
    ) -> Result<Landing, LoginError> {
        let text = serde_json::to_string(report).map_err(|err| {
            tracing::error!(error = %err, "cannot encode a test sign-in report");
            LoginError::unavailable()
        })?;
        if !state
            .store
            .complete_test_sign_in(&self.test.id, &text, assertion)?
        {
            return Err(LoginError::plain(LoginFailure::Replay));
        }
        Ok(Landing::Tested {
            location: console_location(&self.test.id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    /// (refusal, login-event detail) -> the failed check a report shows.
    #[test]
    fn a_refusal_s_detail_becomes_its_check() {
        let table = [
            (
                LoginFailure::InvalidResponse,
                json!({ "reason": "audience_mismatch", "want": "sp", "got": ["other", "another"] }),
                ("audience_mismatch", "sp", "other, another"),
            ),
            (
                LoginFailure::EmailDomainNotAllowed,
                json!({ "want": ["example.test"], "got": "other.test" }),
                ("email_domain_not_allowed", "example.test", "other.test"),
            ),
            (
                LoginFailure::InvalidResponse,
                json!({ "reason": "malformed", "error": "not base64" }),
                ("malformed", "", "not base64"),
            ),
            (
                LoginFailure::UserInactive,
                json!({ "lifecycle": "deactivated" }),
                (
                    "user_inactive",
                    "",
                    LoginFailure::UserInactive.explanation(),
                ),
            ),
            (
                LoginFailure::InvalidResponse,
                json!({ "reason": "signature_invalid" }),
                (
                    "signature_invalid",
                    "",
                    LoginFailure::InvalidResponse.explanation(),
                ),
            ),
        ];
        for (failure, detail, (name, want, got)) in table {
            let check = ReportCheck::failed(failure, &detail);
            assert_eq!(
                (
                    check.name.as_str(),
                    check.ok,
                    check.want.as_str(),
                    check.got.as_str()
                ),
                (name, false, want, got),
                "{detail}"
            );
        }
    }
}
