//! List requests (`GET /Users?filter=...`, `POST /.search`) and ListResponses.
//!
//! Query parameter names are matched case-insensitively (Entra sends `startindex`); `startIndex`
//! below 1 means 1 and `count` is clamped to the page limit (RFC 7644 §3.4.2.4); `itemsPerPage`
//! is the number returned and `totalResults` the number of all matches (Okta import depends on
//! both). A `cursor` parameter switches to RFC 9865 cursor pagination.
//!
//! Every parameter comes from the client, so [`ListParams::parse`] is a pure function that
//! answers anything it cannot use with a SCIM 400 naming the parameter, never a panic (the
//! `scim_list_query` fuzz target holds it to that).

use roster_domain::query::{Filter as DomainFilter, Page, Query, SortOrder};
use serde_json::{json, Value};

use crate::discovery::LIST_RESPONSE_SCHEMA;
use crate::error::{ScimError, ScimType};
use crate::filter::parse_filter;
use crate::projection::Projection;
use crate::settings::ScimSettings;
use crate::translate::{Declared, Translate};

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

    /// Validates and translates into a store query for resource type `R`; `declared` are the
    /// custom attributes a filter or sort may name.
    pub fn parse<R: Translate>(
        &self,
        settings: &ScimSettings,
        declared: &Declared<'_>,
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
                R::filter(&parse_filter(text)?, declared)?
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
        // `max` then `min`, not `clamp`: a page limit configured below 0 must not panic here.
        let count = integer("count", &self.count)?
            .unwrap_or(settings.default_page_size)
            .max(0)
            .min(settings.max_page_size.max(0));
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
                Some((R::sort_attr(name, declared)?, order))
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

/// How much of a refused cursor an error message repeats.
const CURSOR_SHOWN_CHARS: usize = 40;

/// RFC 9865's error for a cursor this server cannot continue from: 400 `invalidCursor`.
fn invalid_cursor(cursor: &str) -> ScimError {
    let shown: String = cursor.chars().take(CURSOR_SHOWN_CHARS).collect();
    let ellipsis = if shown.len() < cursor.len() {
        "…"
    } else {
        ""
    };
    ScimError::new(
        400,
        Some(ScimType::InvalidCursor),
        format!(
            "cursor {shown:?}{ellipsis} is not one this server issued for this listing; send an \
             empty cursor for the first page, then each page's nextCursor"
        ),
    )
}

/// Cursors: `k<last id>` continues after an id (default order), `o<offset>` after an offset
/// (sorted listings). Empty starts at the beginning. Anything else — another server's cursor,
/// one of the other order, garbage, text that is not ASCII — is `invalidCursor`.
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
    let after_id = cursor
        .strip_prefix('k')
        .filter(|id| !sorted && is_user_or_group_id(id));
    let after_offset = cursor
        .strip_prefix('o')
        .filter(|_| sorted)
        .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<i64>().ok());
    match (after_id, after_offset) {
        (Some(id), _) => Ok(Page::After {
            last_id: Some(id.to_owned()),
            limit,
        }),
        (None, Some(offset)) => Ok(Page::Offset { offset, limit }),
        (None, None) => Err(invalid_cursor(cursor)),
    }
}

/// The shape of the ids Roster issues (a UUID in its hyphenated form).
fn is_user_or_group_id(id: &str) -> bool {
    id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
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
                Page::Offset { offset, .. } => {
                    Some(format!("o{}", offset.saturating_add(returned)))
                }
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

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::translate::{GroupResource, UserResource};

    const ID: &str = "0190d7a4-9a1c-7b3e-8f00-0123456789ab";

    /// What a user listing with these parameters reads, or the scimType it is refused with.
    type Case<'a> = (Vec<(&'a str, &'a str)>, Result<Page, Option<ScimType>>);

    fn settings() -> ScimSettings {
        ScimSettings {
            base_url: "https://roster.test/scim/v2".into(),
            max_body_bytes: 1 << 20,
            default_page_size: 100,
            max_page_size: 200,
            max_patch_operations: 100,
            max_bulk_operations: 100,
            max_filter_length: 1000,
        }
    }

    fn params(pairs: &[(&str, &str)]) -> ListParams {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ListParams::from_pairs(&pairs)
    }

    /// The page a user listing with these parameters reads, or the scimType it is refused with.
    fn page(pairs: &[(&str, &str)]) -> Result<Page, Option<ScimType>> {
        params(pairs)
            .parse::<UserResource>(&settings(), &Declared::none())
            .map(|request| request.query.page)
            .map_err(|err| {
                assert_eq!(err.status, 400, "{pairs:?}: {err}");
                err.scim_type
            })
    }

    fn offset(offset: i64, limit: i64) -> Result<Page, Option<ScimType>> {
        Ok(Page::Offset { offset, limit })
    }

    #[test]
    fn cursors() {
        let k_id = format!("k{ID}");
        let cases: Vec<Case> = vec![
            (
                vec![("cursor", "")],
                Ok(Page::After {
                    last_id: None,
                    limit: 100,
                }),
            ),
            (
                vec![("cursor", &k_id), ("count", "5")],
                Ok(Page::After {
                    last_id: Some(ID.into()),
                    limit: 5,
                }),
            ),
            (
                vec![("cursor", "o10"), ("sortBy", "userName")],
                offset(10, 100),
            ),
            (vec![("cursor", ""), ("sortBy", "userName")], offset(0, 100)),
            // Found in the audit: a multibyte first character once panicked the decoder.
            (vec![("cursor", "é")], Err(Some(ScimType::InvalidCursor))),
            (vec![("cursor", "éé")], Err(Some(ScimType::InvalidCursor))),
            (vec![("cursor", "k")], Err(Some(ScimType::InvalidCursor))),
            (
                vec![("cursor", "kéééééééééééééééééé")],
                Err(Some(ScimType::InvalidCursor)),
            ),
            (
                vec![("cursor", "garbage")],
                Err(Some(ScimType::InvalidCursor)),
            ),
            (
                vec![("cursor", "a2FyYmFnZQ==")],
                Err(Some(ScimType::InvalidCursor)),
            ),
            (vec![("cursor", "o10")], Err(Some(ScimType::InvalidCursor))),
            (
                vec![("cursor", &k_id), ("sortBy", "userName")],
                Err(Some(ScimType::InvalidCursor)),
            ),
            (
                vec![("cursor", "o-1"), ("sortBy", "userName")],
                Err(Some(ScimType::InvalidCursor)),
            ),
            (
                vec![("cursor", "o+1"), ("sortBy", "userName")],
                Err(Some(ScimType::InvalidCursor)),
            ),
            (
                vec![("cursor", "o99999999999999999999"), ("sortBy", "userName")],
                Err(Some(ScimType::InvalidCursor)),
            ),
            (
                vec![("cursor", "oé"), ("sortBy", "userName")],
                Err(Some(ScimType::InvalidCursor)),
            ),
        ];
        for (pairs, want) in cases {
            assert_eq!(page(&pairs), want, "{pairs:?}");
        }
        let huge = "é".repeat(100_000);
        let err = params(&[("cursor", &huge)])
            .parse::<UserResource>(&settings(), &Declared::none())
            .map(|_| ())
            .unwrap_err();
        assert_eq!(err.scim_type, Some(ScimType::InvalidCursor));
        assert!(err.detail.len() < 300, "the detail quotes a bounded prefix");
    }

    #[test]
    fn numbers() {
        let cases: Vec<Case> = vec![
            (vec![], offset(0, 100)),
            (vec![("startIndex", "3"), ("count", "7")], offset(2, 7)),
            (vec![("STARTINDEX", " 3 "), ("Count", "7")], offset(2, 7)),
            (vec![("startIndex", "0"), ("count", "-5")], offset(0, 0)),
            (vec![("startIndex", "-9223372036854775808")], offset(0, 100)),
            (
                vec![("startIndex", "9223372036854775807")],
                offset(9_223_372_036_854_775_806, 100),
            ),
            (vec![("count", "9223372036854775807")], offset(0, 200)),
            (vec![("count", "-9223372036854775808")], offset(0, 0)),
            (
                vec![("count", "99999999999999999999")],
                Err(Some(ScimType::InvalidValue)),
            ),
            (
                vec![("startIndex", "1e3")],
                Err(Some(ScimType::InvalidValue)),
            ),
            (vec![("count", "é")], Err(Some(ScimType::InvalidValue))),
            (vec![("count", "")], Err(Some(ScimType::InvalidValue))),
        ];
        for (pairs, want) in cases {
            assert_eq!(page(&pairs), want, "{pairs:?}");
        }
    }

    #[test]
    fn sorting_and_projection() {
        let cases: Vec<Case> = vec![
            (
                vec![("sortBy", "userName"), ("sortOrder", "DESCENDING")],
                offset(0, 100),
            ),
            (vec![("sortBy", "é")], Err(Some(ScimType::InvalidValue))),
            (
                vec![("sortBy", "userName[")],
                Err(Some(ScimType::InvalidValue)),
            ),
            (vec![("sortBy", "title")], Err(Some(ScimType::InvalidValue))),
            (
                vec![("sortBy", "userName"), ("sortOrder", "é")],
                Err(Some(ScimType::InvalidValue)),
            ),
            (
                vec![("attributes", "é,,..,urn:"), ("cursor", "")],
                Ok(Page::After {
                    last_id: None,
                    limit: 100,
                }),
            ),
            (vec![("excludedAttributes", "urnƮ:x.é")], offset(0, 100)),
            (
                vec![("attributes", "userName"), ("excludedAttributes", "name")],
                Err(Some(ScimType::InvalidValue)),
            ),
        ];
        for (pairs, want) in cases {
            assert_eq!(page(&pairs), want, "{pairs:?}");
        }
        let groups =
            params(&[("sortBy", "members")]).parse::<GroupResource>(&settings(), &Declared::none());
        assert_eq!(
            groups.map(|_| ()).map_err(|e| e.scim_type),
            Err(Some(ScimType::InvalidValue))
        );
    }

    #[test]
    fn a_next_cursor_reads_back() {
        let settings = settings();
        for sort in [None, Some("userName")] {
            let mut pairs = vec![("cursor", ""), ("count", "2")];
            pairs.extend(sort.map(|s| ("sortBy", s)));
            let request = params(&pairs)
                .parse::<UserResource>(&settings, &Declared::none())
                .unwrap();
            let page = list_response(&request, vec![json!({}), json!({})], Some(ID.into()), 9);
            let next = page["nextCursor"].as_str().unwrap_or_default().to_owned();
            let mut again = vec![("cursor", next.as_str()), ("count", "2")];
            again.extend(sort.map(|s| ("sortBy", s)));
            assert!(
                params(&again)
                    .parse::<UserResource>(&settings, &Declared::none())
                    .is_ok(),
                "{next}"
            );
        }
    }
}
