//! Request parameters more than one resource reads: ids in paths, and the listings' search and
//! paging query.

use serde::Deserialize;

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
