//! The SCIM migration planner: before an admin turns SCIM on, which existing JIT and invited
//! users would collide with what the IdP is about to push, so they can be fixed first.
//!
//! Entra ID sends the UPN and Okta the login as `userName`; both are email-shaped in nearly every
//! tenant, so the planner predicts `userName = email` (or, when asked, the email's local part).
//! By the SCIM rules (docs/scim.md) a pushed user is adopted when an existing pre-SCIM user has
//! the same userName *and* email; the same userName with another email is a 409 `uniqueness`
//! that leaves the person unprovisioned, and a different userName creates a second account for
//! the same person. The planner names each of those cases per user, with the fix.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use roster_store::domain::{Domain, Source, User};
use roster_store::Store;
use serde::{Deserialize, Serialize};

use crate::auth::permit::require_read;
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};

/// How the IdP is expected to form `userName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserNameFormat {
    /// The whole email (Entra UPN, Okta login): the default.
    Email,
    /// The part before `@` (some on-premises directories).
    LocalPart,
}

/// What a finding says about a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// SCIM will adopt the user: same userName and email.
    Adoptable,
    /// The IdP will likely send another userName: a second account, unless renamed first.
    UserNameMismatch,
    /// The expected userName belongs to another user: SCIM will answer 409 `uniqueness`.
    UserNameTaken,
    /// Several users have this email: SCIM can adopt only one.
    DuplicateEmail,
    /// No email: SCIM will create a second account.
    NoEmail,
    /// The email's domain is not one of the workspace's or its connections'.
    EmailOutsideDomains,
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Nothing to do.
    Ok,
    /// Worth a look; SCIM will not break this user.
    Warning,
    /// Fix before turning SCIM on.
    Conflict,
}

/// One finding about one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub user_id: String,
    pub user_name: String,
    pub email: Option<String>,
    pub kind: FindingKind,
    pub severity: Severity,
    /// What the IdP will likely send as userName.
    pub expected_user_name: Option<String>,
    /// What to do, in words.
    pub fix: String,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Users examined (SCIM-managed users are skipped).
    pub examined: usize,
    /// Findings of kind `adoptable`.
    pub adoptable: usize,
    /// Findings of severity `conflict`.
    pub conflicts: usize,
    /// Findings of severity `warning`.
    pub warnings: usize,
    pub findings: Vec<Finding>,
}

fn expected_user_name(email: &str, format: UserNameFormat) -> String {
    match format {
        UserNameFormat::Email => email.to_lowercase(),
        UserNameFormat::LocalPart => email.split('@').next().unwrap_or_default().to_lowercase(),
    }
}

/// Plans the migration of `users` (every user of the workspace); SCIM-managed users are
/// skipped, the others examined. `domains` are the email domains the IdP is expected to own
/// (the workspace's and its connections'); empty means "any".
pub fn plan(users: &[User], domains: &[Domain], format: UserNameFormat) -> Plan {
    let mut by_user_name: HashMap<String, &User> = HashMap::new();
    let mut email_count: HashMap<String, usize> = HashMap::new();
    for user in users {
        by_user_name.insert(user.user_name.as_str().to_lowercase(), user);
        if let Some(email) = &user.email {
            *email_count
                .entry(email.as_str().to_lowercase())
                .or_default() += 1;
        }
    }
    let mut findings = Vec::new();
    let mut examined = 0;
    for user in users {
        if user.is_scim_managed() || user.source == Source::Scim {
            continue;
        }
        examined += 1;
        let finding = |kind, severity, expected: Option<String>, fix: String| Finding {
            user_id: user.id.to_string(),
            user_name: user.user_name.as_str().to_owned(),
            email: user.email.as_ref().map(|e| e.as_str().to_owned()),
            kind,
            severity,
            expected_user_name: expected,
            fix,
        };
        let Some(email) = user.email.as_ref().map(|e| e.as_str().to_lowercase()) else {
            findings.push(finding(
                FindingKind::NoEmail,
                Severity::Conflict,
                None,
                "give the user the email the IdP knows them by, or SCIM will create a second account".to_owned(),
            ));
            continue;
        };
        let domain = email.rsplit('@').next().unwrap_or_default();
        if !domains.is_empty()
            && !domains
                .iter()
                .any(|d| d.as_str().eq_ignore_ascii_case(domain))
        {
            findings.push(finding(
                FindingKind::EmailOutsideDomains,
                Severity::Warning,
                None,
                format!("{domain} is not a domain of this workspace or its connections: the IdP will probably not provision this user, who keeps working as today and must be disabled by hand when they leave"),
            ));
        }
        if email_count.get(&email).copied().unwrap_or(0) > 1 {
            findings.push(finding(
                FindingKind::DuplicateEmail,
                Severity::Conflict,
                None,
                format!("several users have the email {email}: SCIM can adopt only one; merge or disable the others first"),
            ));
            continue;
        }
        let expected = expected_user_name(&email, format);
        let own = user.user_name.as_str().to_lowercase();
        if own == expected {
            findings.push(finding(
                FindingKind::Adoptable,
                Severity::Ok,
                Some(expected),
                "none: SCIM will adopt this user (same userName and email)".to_owned(),
            ));
            continue;
        }
        match by_user_name.get(&expected) {
            Some(other) if other.id != user.id => findings.push(finding(
                FindingKind::UserNameTaken,
                Severity::Conflict,
                Some(expected.clone()),
                format!(
                    "the IdP will send userName {expected}, which user {} already has with another email: SCIM will answer 409 uniqueness; rename one of them first",
                    other.id
                ),
            )),
            _ => findings.push(finding(
                FindingKind::UserNameMismatch,
                Severity::Conflict,
                Some(expected.clone()),
                format!("the IdP will likely send userName {expected}: rename this user from {own} to {expected}, or SCIM will create a second account for the same person"),
            )),
        }
    }
    Plan {
        examined,
        adoptable: findings
            .iter()
            .filter(|f| f.kind == FindingKind::Adoptable)
            .count(),
        conflicts: findings
            .iter()
            .filter(|f| f.severity == Severity::Conflict)
            .count(),
        warnings: findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count(),
        findings,
    }
}

/// Query of `GET /scim/migration-plan`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanQuery {
    user_name_format: Option<UserNameFormat>,
}

/// `GET /scim/migration-plan?userNameFormat=email|local_part`.
pub async fn endpoint(
    principal: Principal,
    store: web::Data<Store>,
    query: web::Query<PlanQuery>,
) -> Result<HttpResponse, AdminError> {
    let format = query.user_name_format.unwrap_or(UserNameFormat::Email);
    let report = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        let workspace = store.workspace(permit.workspace_id())?;
        let mut domains = workspace.domains.clone();
        for connection in store.list_connections(permit.workspace_id())? {
            domains.extend(connection.domains);
        }
        let mut users = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.admin_users(permit.workspace_id(), None, after.as_deref(), 1000)?;
            users.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok::<_, AdminError>(plan(&users, &domains, format))
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[Operation::get(
    "/scim/migration-plan",
    "getScimMigrationPlan",
    "Before turning SCIM on: existing users whose userName or email would conflict",
)
.query(schema::<PlanQuery>)
.answers(200, schema::<Plan>)];
