//! Request and answer shapes more than one resource uses: ids in paths, the listings' search and
//! paging query, and the policy's answer about an action.

use roster_policy::admin::Decision;
use serde::{Deserialize, Serialize};

use crate::error::AdminError;

pub(crate) const PAGE: i64 = 100;

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
