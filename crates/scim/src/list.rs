//! List requests (`GET /Users?filter=...`, `POST /.search`) and ListResponses.
//!
//! Query parameter names are matched case-insensitively (Entra sends `startindex`); `startIndex`
//! below 1 means 1 and `count` is clamped to the page limit (RFC 7644 §3.4.2.4); `itemsPerPage`
//! is the number returned and `totalResults` the number of all matches (Okta import depends on
//! both). A `cursor` parameter switches to RFC 9865 cursor pagination.

use roster_domain::query::{Filter as DomainFilter, Page, Query, SortOrder};
use serde_json::{json, Value};

use crate::discovery::LIST_RESPONSE_SCHEMA;
use crate::error::ScimError;
use crate::filter::parse_filter;
use crate::projection::Projection;
use crate::settings::ScimSettings;
use crate::translate::Translate;

/// A parsed list request.
#[derive(Debug, Clone)]
pub struct ListRequest<A> {
    pub query: Query<A>,
    pub start_index: i64,
    /// Cursor mode: the page continues after this position.
    pub cursor: bool,
    pub projection: Projection,
}

/// Raw parameters, from the query string or a `.search` body.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
    pub cursor: Option<String>,
}

impl ListParams {
    /// The field a parameter name (any case) sets, if it is one of ours.
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name.to_ascii_lowercase().as_str() {
            "filter" => &mut self.filter,
            "startindex" => &mut self.start_index,
            "count" => &mut self.count,
            "sortby" => &mut self.sort_by,
            "sortorder" => &mut self.sort_order,
            "attributes" => &mut self.attributes,
            "excludedattributes" => &mut self.excluded_attributes,
            "cursor" => &mut self.cursor,
            _ => return None,
        })
    }

    /// From query-string pairs, names matched case-insensitively.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut params = Self::default();
        for (key, value) in pairs {
            if let Some(slot) = params.slot(key) {
                *slot = Some(value.clone());
            }
        }
        params
    }

    /// From a `POST /.search` body (RFC 7644 §3.4.3).
    pub fn from_search_body(body: &Value) -> Result<Self, ScimError> {
        let Value::Object(map) = body else {
            return Err(ScimError::invalid_syntax(
                "a SearchRequest must be a JSON object",
            ));
        };
        let mut params = Self::default();
        for (key, value) in map {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Array(items) => items
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_owned).ok_or_else(|| {
                            ScimError::invalid_value(format!("{key} must list strings"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join(","),
                Value::Null => continue,
                other => return Err(ScimError::invalid_value(format!("{key} cannot be {other}"))),
            };
            if let Some(slot) = params.slot(key) {
                *slot = Some(text);
            }
        }
        Ok(params)
    }

    /// Validates and translates into a store query for resource type `R`.
    pub fn parse<R: Translate>(
        &self,
        settings: &ScimSettings,
    ) -> Result<ListRequest<R::Attr>, ScimError> {
        let filter = match self.filter.as_deref().map(str::trim) {
            None | Some("") => DomainFilter::All,
            Some(text) => {
                if text.len() > settings.max_filter_length {
                    return Err(ScimError::invalid_filter(format!(
                        "the filter is longer than {} characters",
                        settings.max_filter_length
                    )));
                }
                R::filter(&parse_filter(text)?)?
            }
        };
        let integer = |name: &str, value: &Option<String>| -> Result<Option<i64>, ScimError> {
            value
                .as_deref()
                .map(|v| {
                    v.trim().parse::<i64>().map_err(|_| {
                        ScimError::invalid_value(format!("{name} must be an integer, got {v:?}"))
                    })
                })
                .transpose()
        };
        let start_index = integer("startIndex", &self.start_index)?
            .unwrap_or(1)
            .max(1);
        let count = integer("count", &self.count)?
            .unwrap_or(settings.default_page_size)
            .clamp(0, settings.max_page_size);
        let sort = match self
            .sort_by
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(name) => {
                let order = match self
                    .sort_order
                    .as_deref()
                    .map(str::to_ascii_lowercase)
                    .as_deref()
                {
                    None | Some("ascending") => SortOrder::Ascending,
                    Some("descending") => SortOrder::Descending,
                    Some(other) => {
                        return Err(ScimError::invalid_value(format!(
                            "sortOrder must be ascending or descending, got {other:?}"
                        )))
                    }
                };
                Some((R::sort_attr(name)?, order))
            }
        };
        let projection = Projection::parse(
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )
        .map_err(ScimError::invalid_value)?;
        let (page, cursor) = match &self.cursor {
            None => (
                Page::Offset {
                    offset: start_index - 1,
                    limit: count,
                },
                false,
            ),
            Some(cursor) => (decode_cursor(cursor, count, sort.is_some())?, true),
        };
        Ok(ListRequest {
            query: Query { filter, sort, page },
            start_index,
            cursor,
            projection,
        })
    }
}

fn invalid_cursor() -> ScimError {
    ScimError::new(
        400,
        Some("invalidCursor"),
        "the cursor is not one this server issued",
    )
}

/// Cursors: `k<last id>` continues after an id (default order), `o<offset>` after an offset
/// (sorted listings). Empty starts at the beginning.
fn decode_cursor(cursor: &str, limit: i64, sorted: bool) -> Result<Page, ScimError> {
    if cursor.is_empty() {
        return Ok(if sorted {
            Page::Offset { offset: 0, limit }
        } else {
            Page::After {
                last_id: None,
                limit,
            }
        });
    }
    match cursor.split_at(1) {
        ("k", id)
            if !sorted
                && id.len() == 36
                && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') =>
        {
            Ok(Page::After {
                last_id: Some(id.to_owned()),
                limit,
            })
        }
        ("o", offset) if sorted => offset
            .parse::<i64>()
            .ok()
            .filter(|o| *o >= 0)
            .map(|offset| Page::Offset { offset, limit })
            .ok_or_else(invalid_cursor),
        _ => Err(invalid_cursor()),
    }
}

/// Renders a ListResponse page.
pub fn list_response<A>(
    request: &ListRequest<A>,
    resources: Vec<Value>,
    last_id: Option<String>,
    total: i64,
) -> Value {
    let returned = resources.len() as i64;
    let mut body = json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "itemsPerPage": returned,
        "Resources": resources,
    });
    if request.cursor {
        let limit = match &request.query.page {
            Page::Offset { limit, .. } | Page::After { limit, .. } => *limit,
        };
        if returned == limit && returned > 0 {
            let next = match &request.query.page {
                Page::Offset { offset, .. } => Some(format!("o{}", offset + returned)),
                Page::After { .. } => last_id.map(|id| format!("k{id}")),
            };
            if let Some(next) = next {
                body["nextCursor"] = json!(next);
            }
        }
    } else {
        body["startIndex"] = json!(request.start_index);
    }
    body
}
