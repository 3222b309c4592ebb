//! The one place where directory filters become SQL.
//!
//! `roster_domain::query::Filter` trees over `UserAttr` / `GroupAttr` compile to diesel boxed
//! expressions on indexed columns. Case-insensitive attributes compare their normalised `*_key`
//! columns with a normalised operand; substring operators become `LIKE` with escaped wildcards.
//! Comparisons on absent (NULL) values are false, so `not (emails.value eq "x")` matches users
//! without an email, as SCIM expects.
//!
//! A custom attribute is a subquery on its index, `users.id IN (SELECT user_id FROM
//! user_attribute_values WHERE attribute_id = ? AND sort_key …)`, whose condition on keys
//! `roster_domain::query::key_match` decides: equality and ranges (`sw` is one) read the
//! `(attribute_id, sort_key, user_id)` index as a range; `co`/`ew` scan the attribute's keys
//! (with `replace`/`substr`, case-sensitive on both databases, unlike SQLite's `LIKE`); `ne` is
//! `NOT IN (… = key)`, so a user without a value matches.

use std::ops::Bound;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Nullable, Text};
use roster_domain::attributes::AttributeKind;
use roster_domain::query::{key_match, CompareOp, Filter, GroupAttr, KeyMatch, UserAttr, Value};
use roster_domain::{AttributeId, Lifecycle};

use crate::schema::{groups, user_attribute_values, users};
use crate::DbConnection;

type Db = <DbConnection as Connection>::Backend;
pub(crate) type UserPredicate =
    Box<dyn BoxableExpression<users::table, Db, SqlType = Nullable<Bool>>>;
pub(crate) type GroupPredicate =
    Box<dyn BoxableExpression<groups::table, Db, SqlType = Nullable<Bool>>>;

/// Why a filter cannot be compiled: an operator or operand that makes no sense for the attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterTypeError(pub String);

/// `LIKE` pattern for an operator, with `%`, `_` and `\` escaped.
fn like_pattern(op: CompareOp, text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    match op {
        CompareOp::Co => format!("%{escaped}%"),
        CompareOp::Sw => format!("{escaped}%"),
        _ => format!("%{escaped}"),
    }
}

pub(crate) fn text_operand(
    attr: &str,
    value: &Value,
    fold: bool,
) -> Result<String, FilterTypeError> {
    match value {
        Value::Text(text) if fold => Ok(text.to_lowercase()),
        Value::Text(text) => Ok(text.clone()),
        _ => Err(FilterTypeError(format!("{attr} is compared with a string"))),
    }
}

fn time_operand(attr: &str, value: &Value) -> Result<i64, FilterTypeError> {
    match value {
        Value::Time(at) => Ok(at.as_micros()),
        _ => Err(FilterTypeError(format!(
            "{attr} is compared with a date-time"
        ))),
    }
}

/// A condition every row meets, as a bound `true`. It was the literal `1 = 1`, and a literal
/// makes diesel send the whole query unprepared: on PostgreSQL every list page was parsed and
/// planned again.
fn every_row() -> diesel::dsl::AsExprOf<bool, Bool> {
    true.into_sql::<Bool>()
}

/// Expands to a predicate comparing a text column (nullable or not) with an operand.
macro_rules! text_compare {
    ($pred:ty, $col:expr, $op:expr, $operand:expr) => {{
        let operand: String = $operand;
        let col = $col;
        let compared: $pred = match $op {
            CompareOp::Eq => Box::new(col.is_not_null().and(col.eq(operand).nullable())),
            CompareOp::Ne => Box::new(col.is_null().or(col.ne(operand).nullable())),
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => Box::new(
                col.is_not_null().and(
                    col.like(like_pattern($op, &operand))
                        .escape('\\')
                        .nullable(),
                ),
            ),
            CompareOp::Gt => Box::new(col.is_not_null().and(col.gt(operand).nullable())),
            CompareOp::Ge => Box::new(col.is_not_null().and(col.ge(operand).nullable())),
            CompareOp::Lt => Box::new(col.is_not_null().and(col.lt(operand).nullable())),
            CompareOp::Le => Box::new(col.is_not_null().and(col.le(operand).nullable())),
        };
        compared
    }};
}

/// Expands to a predicate comparing a non-null BIGINT time column with an operand.
macro_rules! time_compare {
    ($pred:ty, $col:expr, $op:expr, $operand:expr, $name:expr) => {{
        let operand: i64 = $operand;
        let col = $col;
        let compared: $pred = match $op {
            CompareOp::Eq => Box::new(col.eq(operand).nullable()),
            CompareOp::Ne => Box::new(col.ne(operand).nullable()),
            CompareOp::Gt => Box::new(col.gt(operand).nullable()),
            CompareOp::Ge => Box::new(col.ge(operand).nullable()),
            CompareOp::Lt => Box::new(col.lt(operand).nullable()),
            CompareOp::Le => Box::new(col.le(operand).nullable()),
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                return Err(FilterTypeError(format!(
                    "{} supports eq, ne, gt, ge, lt and le",
                    $name
                )))
            }
        };
        compared
    }};
}

/// `users.id IN (SELECT user_id FROM user_attribute_values WHERE attribute_id = $id AND
/// $conditions…)`. Not boxed: diesel's `MultiConnection` compiles a boxed subquery for neither
/// backend, so each shape of condition is its own (static) query type.
macro_rules! holding {
    ($id:expr $(, $condition:expr)*) => {{
        let rows = user_attribute_values::table
            .filter(user_attribute_values::attribute_id.eq($id.to_string()))
            $(.filter($condition))*
            .select(user_attribute_values::user_id);
        users::id.eq_any(rows)
    }};
}

/// Compiles a user filter.
pub(crate) fn user_predicate(filter: &Filter<UserAttr>) -> Result<UserPredicate, FilterTypeError> {
    Ok(match filter {
        Filter::All => Box::new(every_row().nullable()),
        Filter::And(a, b) => Box::new(user_predicate(a)?.and(user_predicate(b)?)),
        Filter::Or(a, b) => Box::new(user_predicate(a)?.or(user_predicate(b)?)),
        Filter::Not(a) => Box::new(diesel::dsl::not(user_predicate(a)?)),
        Filter::Present(attr) => user_present(*attr),
        Filter::Compare { attr, op, value } => user_compare(*attr, *op, value)?,
    })
}

fn user_present(attr: UserAttr) -> UserPredicate {
    match attr {
        UserAttr::Id
        | UserAttr::UserName
        | UserAttr::Active
        | UserAttr::Created
        | UserAttr::LastModified => Box::new(every_row().nullable()),
        UserAttr::ExternalId => Box::new(users::external_id.is_not_null().nullable()),
        UserAttr::Email => Box::new(users::email_key.is_not_null().nullable()),
        UserAttr::DisplayName => Box::new(users::display_name.is_not_null().nullable()),
        UserAttr::GivenName => Box::new(users::given_name.is_not_null().nullable()),
        UserAttr::FamilyName => Box::new(users::family_name.is_not_null().nullable()),
        UserAttr::Custom { id, .. } => Box::new(holding!(id).nullable()),
    }
}

fn user_compare(
    attr: UserAttr,
    op: CompareOp,
    value: &Value,
) -> Result<UserPredicate, FilterTypeError> {
    Ok(match attr {
        UserAttr::Id => text_compare!(
            UserPredicate,
            users::id,
            op,
            text_operand("id", value, true)?
        ),
        UserAttr::UserName => text_compare!(
            UserPredicate,
            users::user_name_key,
            op,
            text_operand("userName", value, true)?
        ),
        UserAttr::ExternalId => text_compare!(
            UserPredicate,
            users::external_id,
            op,
            text_operand("externalId", value, false)?
        ),
        UserAttr::Email => text_compare!(
            UserPredicate,
            users::email_key,
            op,
            text_operand("emails.value", value, true)?
        ),
        UserAttr::DisplayName => text_compare!(
            UserPredicate,
            users::display_name_key,
            op,
            text_operand("displayName", value, true)?
        ),
        UserAttr::GivenName => text_compare!(
            UserPredicate,
            users::given_name,
            op,
            text_operand("name.givenName", value, false)?
        ),
        UserAttr::FamilyName => text_compare!(
            UserPredicate,
            users::family_name,
            op,
            text_operand("name.familyName", value, false)?
        ),
        UserAttr::Active => {
            let Value::Bool(want) = value else {
                return Err(FilterTypeError(
                    "active is compared with true or false".into(),
                ));
            };
            let want = match op {
                CompareOp::Eq => *want,
                CompareOp::Ne => !*want,
                _ => return Err(FilterTypeError("active supports eq and ne".into())),
            };
            if want {
                Box::new(users::lifecycle.eq(Lifecycle::Active.as_str()).nullable())
            } else {
                Box::new(users::lifecycle.ne(Lifecycle::Active.as_str()).nullable())
            }
        }
        UserAttr::Created => time_compare!(
            UserPredicate,
            users::created_at,
            op,
            time_operand("meta.created", value)?,
            "meta.created"
        ),
        UserAttr::LastModified => time_compare!(
            UserPredicate,
            users::updated_at,
            op,
            time_operand("meta.lastModified", value)?,
            "meta.lastModified"
        ),
        UserAttr::Custom {
            id,
            kind,
            case_exact,
        } => custom_compare(id, kind, case_exact, op, value)?,
    })
}

/// `attr op value` on a custom attribute, as a subquery on its index.
fn custom_compare(
    id: AttributeId,
    kind: AttributeKind,
    case_exact: bool,
    op: CompareOp,
    value: &Value,
) -> Result<UserPredicate, FilterTypeError> {
    let key = user_attribute_values::sort_key;
    let matched = key_match(kind, case_exact, op, value)
        .map_err(|err| FilterTypeError(format!("a custom attribute: {err}")))?;
    Ok(match matched {
        KeyMatch::Equal(wanted) => Box::new(holding!(id, key.eq(wanted)).nullable()),
        KeyMatch::NoneEqual(unwanted) => {
            Box::new(diesel::dsl::not(holding!(id, key.eq(unwanted))).nullable())
        }
        KeyMatch::Range { lower, upper } => {
            // No lower bound is `>= ''`, which every key is: two shapes instead of three.
            let (strict, lower) = match lower {
                Bound::Included(lower) => (false, lower),
                Bound::Excluded(lower) => (true, lower),
                Bound::Unbounded => (false, String::new()),
            };
            match (strict, upper) {
                (false, Bound::Included(upper)) => {
                    Box::new(holding!(id, key.ge(lower), key.le(upper)).nullable())
                }
                (false, Bound::Excluded(upper)) => {
                    Box::new(holding!(id, key.ge(lower), key.lt(upper)).nullable())
                }
                (false, Bound::Unbounded) => Box::new(holding!(id, key.ge(lower)).nullable()),
                (true, Bound::Included(upper)) => {
                    Box::new(holding!(id, key.gt(lower), key.le(upper)).nullable())
                }
                (true, Bound::Excluded(upper)) => {
                    Box::new(holding!(id, key.gt(lower), key.lt(upper)).nullable())
                }
                (true, Bound::Unbounded) => Box::new(holding!(id, key.gt(lower)).nullable()),
            }
        }
        // Substrings match exactly on both databases (SQLite's `LIKE` ignores ASCII case, so a
        // case-exact attribute would match more there than on PostgreSQL): `replace` and
        // `substr` are case-sensitive everywhere. Neither reads the index as a range; they scan
        // the attribute's keys.
        KeyMatch::Contains(text) if text.is_empty() => Box::new(holding!(id).nullable()),
        KeyMatch::Contains(text) => Box::new(
            holding!(
                id,
                sql::<Bool>("replace(user_attribute_values.sort_key, ")
                    .bind::<Text, _>(text)
                    .sql(", '') <> user_attribute_values.sort_key")
            )
            .nullable(),
        ),
        KeyMatch::EndsWith(text) => {
            let chars = i32::try_from(text.chars().count()).unwrap_or(i32::MAX);
            Box::new(
                holding!(
                    id,
                    sql::<Bool>(
                        "substr(user_attribute_values.sort_key, \
                         length(user_attribute_values.sort_key) - "
                    )
                    .bind::<Integer, _>(chars)
                    .sql(" + 1) = ")
                    .bind::<Text, _>(text)
                )
                .nullable(),
            )
        }
    })
}

/// Compiles a group filter.
pub(crate) fn group_predicate(
    filter: &Filter<GroupAttr>,
) -> Result<GroupPredicate, FilterTypeError> {
    Ok(match filter {
        Filter::All => Box::new(every_row().nullable()),
        Filter::And(a, b) => Box::new(group_predicate(a)?.and(group_predicate(b)?)),
        Filter::Or(a, b) => Box::new(group_predicate(a)?.or(group_predicate(b)?)),
        Filter::Not(a) => Box::new(diesel::dsl::not(group_predicate(a)?)),
        Filter::Present(attr) => match attr {
            GroupAttr::ExternalId => Box::new(groups::external_id.is_not_null().nullable()),
            GroupAttr::Id
            | GroupAttr::DisplayName
            | GroupAttr::Created
            | GroupAttr::LastModified => Box::new(every_row().nullable()),
        },
        Filter::Compare { attr, op, value } => match attr {
            GroupAttr::Id => text_compare!(
                GroupPredicate,
                groups::id,
                *op,
                text_operand("id", value, true)?
            ),
            GroupAttr::DisplayName => text_compare!(
                GroupPredicate,
                groups::display_name_key,
                *op,
                text_operand("displayName", value, true)?
            ),
            GroupAttr::ExternalId => text_compare!(
                GroupPredicate,
                groups::external_id,
                *op,
                text_operand("externalId", value, false)?
            ),
            GroupAttr::Created => time_compare!(
                GroupPredicate,
                groups::created_at,
                *op,
                time_operand("meta.created", value)?,
                "meta.created"
            ),
            GroupAttr::LastModified => time_compare!(
                GroupPredicate,
                groups::updated_at,
                *op,
                time_operand("meta.lastModified", value)?,
                "meta.lastModified"
            ),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(
            like_pattern(CompareOp::Co, "50%_off\\"),
            "%50\\%\\_off\\\\%"
        );
        assert_eq!(like_pattern(CompareOp::Sw, "ab"), "ab%");
        assert_eq!(like_pattern(CompareOp::Ew, "ab"), "%ab");
    }
}
