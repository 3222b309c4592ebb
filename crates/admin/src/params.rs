//! Request and answer shapes more than one resource uses: ids in paths, the listings' search and
//! paging query, and the policy's answer about an action.

use roster_policy::admin::Decision;
use serde::{Deserialize, Serialize};

use crate::error::AdminError;

pub(crate) const PAGE: i64 = 100;

/// A route's `{id}`, read by its name. The same handler serves `/api/v1/admin/…` and
/// `/api/v1/operator/workspaces/{workspace}/…`: a positional `Path<String>` would trip over the
/// operator path's extra `{workspace}` (and did: every route with an id answered 404 there).
#[derive(Debug, Deserialize)]
pub struct IdPath {
    id: String,
}

impl IdPath {
    pub(crate) fn into_string(self) -> String {
        self.id
    }
}

impl std::ops::Deref for IdPath {
    type Target = str;

    fn deref(&self) -> &str {
        &self.id
    }
}

/// A route's `{domain}`, read by its name (see [`IdPath`]).
#[derive(Debug, Deserialize)]
pub struct DomainPath {
    domain: String,
}

impl std::ops::Deref for DomainPath {
    type Target = str;

    fn deref(&self) -> &str {
        &self.domain
    }
}

/// A group's `{id}` and a member's `{user}` (see [`IdPath`]).
#[derive(Debug, Deserialize)]
pub struct MemberPath {
    pub id: String,
    pub user: String,
}

/// A connection's `{id}` and one of its test sign-ins, `{test}` (see [`IdPath`]).
#[derive(Debug, Deserialize)]
pub struct TestSignInPath {
    pub id: String,
    pub test: String,
}

/// A route's `{id}` and `{key}` (a SAML connection's own key).
#[derive(Debug, Deserialize)]
pub struct SpKeyPath {
    pub id: String,
    pub key: String,
}

/// A connection's `{id}` and one of its SCIM `{token}`s (see [`IdPath`]).
#[derive(Debug, Deserialize)]
pub struct TokenPath {
    pub id: String,
    pub token: String,
}

pub(crate) fn parse_id<T: std::str::FromStr>(id: &str, what: &str) -> Result<T, AdminError> {
    id.parse()
        .map_err(|_| AdminError::not_found(format!("{what} {id:?} not found")))
}

/// Query parameters of the listings.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub q: Option<String>,
    pub after: Option<String>,
    pub limit: Option<i64>,
}

/// The policy's answer about one action, for the console to offer it or say why not:
/// `{"allowed": true}` or `{"allowed": false, "refusal": code, "reason": words}`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Allowance {
    pub allowed: bool,
    /// The policy's refusal code (docs/policy.md), when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<&'static str>,
    /// Why, in words for a person, when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

impl From<Decision> for Allowance {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Allowed => Allowance {
                allowed: true,
                refusal: None,
                reason: None,
            },
            Decision::Refused(refusal) => Allowance {
                allowed: false,
                refusal: Some(refusal.code),
                reason: Some(refusal.reason),
            },
        }
    }
}

/// A connection's `{id}` and one of the workspace's `{attribute}`s (see [`IdPath`]).
#[derive(Debug, Deserialize)]
pub struct AttributeMappingPath {
    pub id: String,
    pub attribute: String,
}
