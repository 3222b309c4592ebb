//! SCIM filters and sort keys -> the store's query types, per resource type.
//!
//! Only attributes the store indexes are accepted; anything else is a 400 `invalidFilter` that
//! names what is supported, so an IdP admin can fix the matching attribute instead of guessing.

use roster_domain::query::{CompareOp as Op, Filter as Q, GroupAttr, UserAttr, Value as V};
use roster_domain::Timestamp;

use crate::discovery::{GROUP_SCHEMA, USER_SCHEMA};
use crate::error::ScimError;
use crate::filter::{AttrPath, CompValue, CompareOp, Filter};

/// A resource type whose filters translate to store queries.
pub trait Resource {
    type Attr: Copy;
}

/// Translation of filters and sort keys.
pub trait Translate: Resource {
    fn filter(filter: &Filter) -> Result<Q<Self::Attr>, ScimError>;
    fn sort_attr(name: &str) -> Result<Self::Attr, ScimError>;
    /// Whether this type can be filtered on `path` at all.
    fn filterable(path: &AttrPath) -> bool;

    /// Whether every attribute `filter` names is one this type can be filtered on: a filter
    /// that names another type's attributes does not apply to this type (`/.search` leaves the
    /// type out instead of refusing the request).
    fn applies(filter: &Filter) -> bool {
        match filter {
            Filter::And(a, b) | Filter::Or(a, b) => Self::applies(a) && Self::applies(b),
            Filter::Not(a) => Self::applies(a),
            Filter::Present(path) | Filter::Has(path) | Filter::Compare { path, .. } => {
                Self::filterable(path)
            }
        }
    }
}

#[derive(Debug)]
pub struct UserResource;
#[derive(Debug)]
pub struct GroupResource;

impl Resource for UserResource {
    type Attr = UserAttr;
}
impl Resource for GroupResource {
    type Attr = GroupAttr;
}

const USER_FILTERABLE: &str =
    "id, userName, externalId, emails.value, displayName, name.givenName, name.familyName, active, meta.created, meta.lastModified";
const GROUP_FILTERABLE: &str = "id, displayName, externalId, meta.created, meta.lastModified";

fn op(op: CompareOp) -> Op {
    match op {
        CompareOp::Eq => Op::Eq,
        CompareOp::Ne => Op::Ne,
        CompareOp::Co => Op::Co,
        CompareOp::Sw => Op::Sw,
        CompareOp::Ew => Op::Ew,
        CompareOp::Gt => Op::Gt,
        CompareOp::Ge => Op::Ge,
        CompareOp::Lt => Op::Lt,
        CompareOp::Le => Op::Le,
    }
}

fn lower(text: &Option<String>) -> Option<String> {
    text.as_ref().map(|s| s.to_ascii_lowercase())
}

fn schema_is(path: &AttrPath, schema: &str) -> bool {
    path.schema
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case(schema))
}

fn user_attr(path: &AttrPath) -> Result<UserAttr, ScimError> {
    let unsupported = || {
        ScimError::invalid_filter(format!(
            "filtering on {path} is not supported; filter on {USER_FILTERABLE}"
        ))
    };
    if !schema_is(path, USER_SCHEMA) {
        return Err(unsupported());
    }
    let attr = path.attr.to_ascii_lowercase();
    let sub = lower(&path.sub_attr);
    Ok(match (attr.as_str(), sub.as_deref()) {
        ("id", None) => UserAttr::Id,
        ("username", None) => UserAttr::UserName,
        ("externalid", None) => UserAttr::ExternalId,
        ("displayname", None) => UserAttr::DisplayName,
        ("active", None) => UserAttr::Active,
        ("emails", None | Some("value")) => UserAttr::Email,
        ("name", Some("givenname")) => UserAttr::GivenName,
        ("name", Some("familyname")) => UserAttr::FamilyName,
        ("meta", Some("created")) => UserAttr::Created,
        ("meta", Some("lastmodified")) => UserAttr::LastModified,
        _ => return Err(unsupported()),
    })
}

fn group_attr(path: &AttrPath) -> Result<GroupAttr, ScimError> {
    let unsupported = || {
        ScimError::invalid_filter(format!(
            "filtering on {path} is not supported; filter on {GROUP_FILTERABLE}"
        ))
    };
    if !schema_is(path, GROUP_SCHEMA) || path.value_filter.is_some() {
        return Err(unsupported());
    }
    let attr = path.attr.to_ascii_lowercase();
    let sub = lower(&path.sub_attr);
    Ok(match (attr.as_str(), sub.as_deref()) {
        ("id", None) => GroupAttr::Id,
        ("displayname", None) => GroupAttr::DisplayName,
        ("externalid", None) => GroupAttr::ExternalId,
        ("meta", Some("created")) => GroupAttr::Created,
        ("meta", Some("lastmodified")) => GroupAttr::LastModified,
        _ => return Err(unsupported()),
    })
}

/// Converts an operand for an attribute kind: `text`, `bool` or `time`.
fn operand(kind: &str, name: &str, value: &CompValue) -> Result<Option<V>, ScimError> {
    Ok(Some(match (kind, value) {
        (_, CompValue::Null) => return Ok(None),
        ("bool", CompValue::Bool(b)) => V::Bool(*b),
        ("bool", CompValue::Str(s)) if s.eq_ignore_ascii_case("true") => V::Bool(true),
        ("bool", CompValue::Str(s)) if s.eq_ignore_ascii_case("false") => V::Bool(false),
        ("bool", other) => {
            return Err(ScimError::invalid_filter(format!(
                "{name} is compared with true or false, not {other:?}"
            )))
        }
        ("time", CompValue::Str(s)) => V::Time(Timestamp::parse_rfc3339(s).map_err(|_| {
            ScimError::invalid_filter(format!("{name} needs an RFC 3339 date-time, got {s:?}"))
        })?),
        ("time", other) => {
            return Err(ScimError::invalid_filter(format!(
                "{name} needs a date-time, not {other:?}"
            )))
        }
        (_, CompValue::Str(s)) => V::Text(s.clone()),
        (_, CompValue::Num(n)) => V::Text(n.to_string()),
        (_, CompValue::Bool(b)) => V::Text(b.to_string()),
    }))
}

/// `attr eq null` means "absent", `attr ne null` means "present".
fn compare<A: Copy>(
    attr: A,
    kind: &str,
    name: &str,
    op_: CompareOp,
    value: &CompValue,
) -> Result<Q<A>, ScimError> {
    match (operand(kind, name, value)?, op_) {
        (Some(value), _) => Ok(Q::Compare {
            attr,
            op: op(op_),
            value,
        }),
        (None, CompareOp::Eq) => Ok(Q::Not(Box::new(Q::Present(attr)))),
        (None, CompareOp::Ne) => Ok(Q::Present(attr)),
        (None, _) => Err(ScimError::invalid_filter(format!(
            "{name} can only be compared with null by eq or ne"
        ))),
    }
}

fn user_kind(attr: UserAttr) -> &'static str {
    match attr {
        UserAttr::Active => "bool",
        UserAttr::Created | UserAttr::LastModified => "time",
        _ => "text",
    }
}

/// Inside `emails[...]`: `value` is the email, `type`/`primary`/`display` are not indexed and
/// accepted as true (Roster keeps one email per user).
fn email_element_filter(filter: &Filter) -> Result<Q<UserAttr>, ScimError> {
    Ok(match filter {
        Filter::And(a, b) => Q::And(
            Box::new(email_element_filter(a)?),
            Box::new(email_element_filter(b)?),
        ),
        Filter::Or(a, b) => Q::Or(
            Box::new(email_element_filter(a)?),
            Box::new(email_element_filter(b)?),
        ),
        Filter::Not(a) => Q::Not(Box::new(email_element_filter(a)?)),
        Filter::Compare { path, op, value } if path.attr.eq_ignore_ascii_case("value") => {
            compare(UserAttr::Email, "text", "emails.value", *op, value)?
        }
        Filter::Present(path) if path.attr.eq_ignore_ascii_case("value") => {
            Q::Present(UserAttr::Email)
        }
        Filter::Compare { .. } | Filter::Present(_) | Filter::Has(_) => Q::Present(UserAttr::Email),
    })
}

impl Translate for UserResource {
    fn filterable(path: &AttrPath) -> bool {
        user_attr(path).is_ok()
    }

    fn filter(filter: &Filter) -> Result<Q<UserAttr>, ScimError> {
        Ok(match filter {
            Filter::And(a, b) => Q::And(Box::new(Self::filter(a)?), Box::new(Self::filter(b)?)),
            Filter::Or(a, b) => Q::Or(Box::new(Self::filter(a)?), Box::new(Self::filter(b)?)),
            Filter::Not(a) => Q::Not(Box::new(Self::filter(a)?)),
            Filter::Present(path) => Q::Present(user_attr(path)?),
            Filter::Has(path) => {
                let attr = user_attr(path)?;
                match (&path.value_filter, attr) {
                    (Some(inner), UserAttr::Email) => email_element_filter(inner)?,
                    _ => Q::Present(attr),
                }
            }
            Filter::Compare { path, op, value } => {
                let attr = user_attr(path)?;
                compare(attr, user_kind(attr), &path.to_string(), *op, value)?
            }
        })
    }

    fn sort_attr(name: &str) -> Result<UserAttr, ScimError> {
        let path = crate::filter::parse_path(name)
            .map_err(|err| ScimError::invalid_value(format!("sortBy: {err}")))?;
        user_attr(&path).map_err(|_| {
            ScimError::invalid_value(format!("cannot sort by {name}; sort by {USER_FILTERABLE}"))
        })
    }
}

impl Translate for GroupResource {
    fn filterable(path: &AttrPath) -> bool {
        group_attr(path).is_ok()
    }

    fn filter(filter: &Filter) -> Result<Q<GroupAttr>, ScimError> {
        Ok(match filter {
            Filter::And(a, b) => Q::And(Box::new(Self::filter(a)?), Box::new(Self::filter(b)?)),
            Filter::Or(a, b) => Q::Or(Box::new(Self::filter(a)?), Box::new(Self::filter(b)?)),
            Filter::Not(a) => Q::Not(Box::new(Self::filter(a)?)),
            Filter::Present(path) | Filter::Has(path) => Q::Present(group_attr(path)?),
            Filter::Compare { path, op, value } => {
                let attr = group_attr(path)?;
                let kind = match attr {
                    GroupAttr::Created | GroupAttr::LastModified => "time",
                    _ => "text",
                };
                compare(attr, kind, &path.to_string(), *op, value)?
            }
        })
    }

    fn sort_attr(name: &str) -> Result<GroupAttr, ScimError> {
        let path = crate::filter::parse_path(name)
            .map_err(|err| ScimError::invalid_value(format!("sortBy: {err}")))?;
        group_attr(&path).map_err(|_| {
            ScimError::invalid_value(format!("cannot sort by {name}; sort by {GROUP_FILTERABLE}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::parse_filter;

    /// Which types a filter applies to: `/.search` leaves out the types it does not.
    #[test]
    fn which_types_a_filter_applies_to() {
        // (filter, applies to Users, applies to Groups)
        let table = [
            (r#"userName eq "a""#, true, false),
            (r#"displayName eq "a""#, true, true),
            (
                r#"externalId eq "x" and meta.created gt "2024-01-01T00:00:00Z""#,
                true,
                true,
            ),
            (r#"emails[type eq "work"]"#, true, false),
            (r#"members.value eq "x""#, false, false),
            (r#"userName eq "a" or members.value eq "x""#, false, false),
            (r#"not (active eq true)"#, true, false),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "a""#,
                false,
                true,
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName pr"#,
                true,
                false,
            ),
        ];
        for (text, users, groups) in table {
            let filter = parse_filter(text).unwrap();
            assert_eq!(UserResource::applies(&filter), users, "{text} on Users");
            assert_eq!(GroupResource::applies(&filter), groups, "{text} on Groups");
        }
    }
}
