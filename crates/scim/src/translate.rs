//! SCIM filters and sort keys -> the store's query types, per resource type.
//!
//! Only attributes the store indexes are accepted; anything else is a 400 `invalidFilter` that
//! names what is supported, so an IdP admin can fix the matching attribute instead of guessing.
//!
//! Besides the fixed columns, a user filter may name the workspace's declared custom attributes
//! (issue #28), which the store reads from their index: by a declared extension's path
//! (`urn:acme:hr:badge`) or by where this connection's SCIM sends the attribute
//! (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`, `title`,
//! `addresses[type eq "work"].locality`), compared as SCIM compares names: the schema URN and
//! attribute names without case, a bare enterprise name (`department`, `manager`) in the
//! enterprise extension as PATCH reads it, `manager` as `manager.value`. Which attributes those
//! are depends on the connection, so translation takes them ([`Declared`]). An enterprise
//! attribute the workspace has not declared is refused with a detail that says to declare it.

use std::cell::OnceCell;

use roster_domain::attributes::ENTERPRISE_URN;
use roster_domain::query::{key_match, Filter as Q, GroupAttr, UserAttr, Value as V};
use roster_domain::Timestamp;
use roster_store::AttributeMapping;

use crate::discovery::{GROUP_SCHEMA, USER_SCHEMA};
use crate::error::ScimError;
use crate::filter::{parse_path, AttrPath, CompValue, CompareOp, Filter};
use crate::patch::ENTERPRISE_ONLY;

/// The custom attributes a workspace declares, each with where this connection's SCIM sends it:
/// what a user filter or sort may name beyond the fixed schema.
#[derive(Debug, Default)]
pub struct Declared<'a> {
    attributes: &'a [AttributeMapping],
    /// Each SCIM source's [`path_key`] with its attribute's position: parsed once, when a filter
    /// first names something that is not a fixed attribute (a `userName eq` never needs them).
    sources: OnceCell<Vec<(String, usize)>>,
}

impl<'a> Declared<'a> {
    /// The attributes of a SCIM principal's connection (`ScimConnection::attributes`).
    pub fn new(attributes: &'a [AttributeMapping]) -> Self {
        Self {
            attributes,
            sources: OnceCell::new(),
        }
    }

    /// No custom attributes (group listings, and tests of the fixed schema).
    pub fn none() -> Self {
        Self::default()
    }

    fn sources(&self) -> &[(String, usize)] {
        self.sources.get_or_init(|| {
            self.attributes
                .iter()
                .enumerate()
                .flat_map(|(at, mapping)| {
                    mapping
                        .sources
                        .iter()
                        .filter_map(move |source| Some((path_key(&parse_path(source).ok()?), at)))
                })
                .collect()
        })
    }

    /// The declared attribute `path` names: an attribute of a declared extension by its own path,
    /// else the first whose SCIM sources at this connection include the path.
    fn resolve(&self, path: &AttrPath) -> Option<&'a AttributeMapping> {
        let in_extension = self.attributes.iter().find(|mapping| {
            let definition = &mapping.definition;
            match (&definition.scim_schema, &path.schema) {
                (Some(declared), Some(named)) => {
                    declared.eq_ignore_ascii_case(named)
                        && definition.name.as_str().eq_ignore_ascii_case(&path.attr)
                        && path.sub_attr.is_none()
                        && path.value_filter.is_none()
                }
                _ => false,
            }
        });
        in_extension.or_else(|| {
            let wanted = path_key(path);
            let (_, at) = self.sources().iter().find(|(key, _)| *key == wanted)?;
            self.attributes.get(*at)
        })
    }

    /// How a filter names each declared attribute that has a SCIM path here, for messages.
    fn paths(&self) -> Vec<String> {
        self.attributes
            .iter()
            .filter_map(|mapping| match &mapping.definition.scim_schema {
                Some(urn) => Some(format!("{urn}:{}", mapping.definition.name)),
                None => mapping.sources.first().cloned(),
            })
            .collect()
    }
}

/// What a path names, spelled one way: lowercase, the core schema left out, a bare enterprise
/// name in the enterprise extension (as PATCH reads `department`), the enterprise `manager` as
/// `manager.value`, a value filter in its canonical form.
fn path_key(path: &AttrPath) -> String {
    let enterprise = ENTERPRISE_URN.to_ascii_lowercase();
    let schema = match &path.schema {
        Some(schema) if schema.eq_ignore_ascii_case(USER_SCHEMA) => None,
        Some(schema) => Some(schema.to_ascii_lowercase()),
        None if ENTERPRISE_ONLY
            .split(' ')
            .any(|name| name.eq_ignore_ascii_case(&path.attr)) =>
        {
            Some(enterprise.clone())
        }
        None => None,
    };
    let attr = path.attr.to_ascii_lowercase();
    let sub = match (&path.sub_attr, &schema) {
        (None, Some(schema)) if *schema == enterprise && attr == "manager" => {
            Some("value".to_owned())
        }
        (sub, _) => sub.as_ref().map(|sub| sub.to_ascii_lowercase()),
    };
    let mut key = schema
        .map(|schema| format!("{schema}:"))
        .unwrap_or_default();
    key.push_str(&attr);
    if let Some(filter) = &path.value_filter {
        key.push_str(&format!("[{filter}]").to_lowercase());
    }
    if let Some(sub) = sub {
        key.push('.');
        key.push_str(&sub);
    }
    key
}

/// A resource type whose filters translate to store queries.
pub trait Resource {
    type Attr: Copy;
}

/// Translation of filters and sort keys; `declared` are the custom attributes a filter may name.
pub trait Translate: Resource {
    fn filter(filter: &Filter, declared: &Declared<'_>) -> Result<Q<Self::Attr>, ScimError>;
    fn sort_attr(name: &str, declared: &Declared<'_>) -> Result<Self::Attr, ScimError>;
    /// Whether this type can be filtered on `path` at all.
    fn filterable(path: &AttrPath, declared: &Declared<'_>) -> bool;

    /// Whether every attribute `filter` names is one this type can be filtered on: a filter
    /// that names another type's attributes does not apply to this type (`/.search` leaves the
    /// type out instead of refusing the request).
    fn applies(filter: &Filter, declared: &Declared<'_>) -> bool {
        match filter {
            Filter::And(a, b) | Filter::Or(a, b) => {
                Self::applies(a, declared) && Self::applies(b, declared)
            }
            Filter::Not(a) => Self::applies(a, declared),
            Filter::Present(path) | Filter::Has(path) | Filter::Compare { path, .. } => {
                Self::filterable(path, declared)
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

/// What a user filter may name: the fixed attributes, then the declared ones.
fn user_filterable(declared: &Declared<'_>) -> String {
    let custom = declared.paths();
    if custom.is_empty() {
        USER_FILTERABLE.to_owned()
    } else {
        format!(
            "{USER_FILTERABLE}, or a declared attribute: {}",
            custom.join(", ")
        )
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

/// The user attribute `path` names: a fixed one, else a declared one.
fn user_attr(path: &AttrPath, declared: &Declared<'_>) -> Result<UserAttr, String> {
    if let Some(attr) = fixed_user_attr(path) {
        return Ok(attr);
    }
    if let Some(mapping) = declared.resolve(path) {
        let definition = &mapping.definition;
        return Ok(UserAttr::Custom {
            id: definition.id,
            kind: definition.kind,
            case_exact: definition.case_exact,
        });
    }
    Err(why_not(path, declared))
}

/// Why a user filter cannot name `path` (the detail of the 400).
fn why_not(path: &AttrPath, declared: &Declared<'_>) -> String {
    let filterable = user_filterable(declared);
    let enterprise = path_key(path)
        .strip_prefix(&format!("{}:", ENTERPRISE_URN.to_ascii_lowercase()))
        .is_some();
    let standard = ENTERPRISE_ONLY
        .split(' ')
        .find(|name| name.eq_ignore_ascii_case(&path.attr));
    match (enterprise, standard) {
        (true, Some(name)) => {
            let mapped_elsewhere = declared
                .attributes
                .iter()
                .find(|mapping| mapping.definition.name.as_str() == name);
            match mapped_elsewhere {
                Some(mapping) => format!(
                    "{path} is not where this connection's SCIM sends the attribute {name} ({}); \
                     filter on {filterable}",
                    if mapping.sources.is_empty() {
                        "it maps nothing".to_owned()
                    } else {
                        mapping.sources.join(", ")
                    }
                ),
                None => format!(
                    "filtering on {path} needs the attribute {name} declared in the workspace \
                     (POST /api/v1/admin/attributes {{\"template\": \"{name}\"}}); filter on \
                     {filterable}"
                ),
            }
        }
        _ => format!("filtering on {path} is not supported; filter on {filterable}"),
    }
}

/// The fixed user attributes (columns of `users`).
fn fixed_user_attr(path: &AttrPath) -> Option<UserAttr> {
    if !schema_is(path, USER_SCHEMA) {
        return None;
    }
    let attr = path.attr.to_ascii_lowercase();
    let sub = lower(&path.sub_attr);
    Some(match (attr.as_str(), sub.as_deref()) {
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
        _ => return None,
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
        // A custom attribute's operand as sent: its declaration types it (`key_match`).
        ("custom", CompValue::Num(n)) => V::Number(
            n.as_f64()
                .ok_or_else(|| ScimError::invalid_filter(format!("{name}: {n} is out of range")))?,
        ),
        ("custom", CompValue::Bool(b)) => V::Bool(*b),
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
            op: op_,
            value,
        }),
        (None, CompareOp::Eq) => Ok(Q::Not(Box::new(Q::Present(attr)))),
        (None, CompareOp::Ne) => Ok(Q::Present(attr)),
        (None, _) => Err(ScimError::invalid_filter(format!(
            "{name} can only be compared with null by eq or ne"
        ))),
    }
}

/// A comparison on a user attribute; one on a custom attribute is checked against its
/// declaration here, so the 400 names the attribute as the filter did.
fn user_compare(
    attr: UserAttr,
    name: &str,
    op_: CompareOp,
    value: &CompValue,
) -> Result<Q<UserAttr>, ScimError> {
    let compared = compare(attr, user_kind(attr), name, op_, value)?;
    if let (
        UserAttr::Custom {
            kind, case_exact, ..
        },
        Q::Compare { op, value, .. },
    ) = (attr, &compared)
    {
        key_match(kind, case_exact, *op, value)
            .map_err(|err| ScimError::invalid_filter(format!("{name}: {err}")))?;
    }
    Ok(compared)
}

fn user_kind(attr: UserAttr) -> &'static str {
    match attr {
        UserAttr::Active => "bool",
        UserAttr::Created | UserAttr::LastModified => "time",
        UserAttr::Custom { .. } => "custom",
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
    fn filterable(path: &AttrPath, declared: &Declared<'_>) -> bool {
        user_attr(path, declared).is_ok()
    }

    fn filter(filter: &Filter, declared: &Declared<'_>) -> Result<Q<UserAttr>, ScimError> {
        let attr = |path| user_attr(path, declared).map_err(ScimError::invalid_filter);
        Ok(match filter {
            Filter::And(a, b) => Q::And(
                Box::new(Self::filter(a, declared)?),
                Box::new(Self::filter(b, declared)?),
            ),
            Filter::Or(a, b) => Q::Or(
                Box::new(Self::filter(a, declared)?),
                Box::new(Self::filter(b, declared)?),
            ),
            Filter::Not(a) => Q::Not(Box::new(Self::filter(a, declared)?)),
            Filter::Present(path) => Q::Present(attr(path)?),
            Filter::Has(path) => {
                let attr = attr(path)?;
                match (&path.value_filter, attr) {
                    (Some(inner), UserAttr::Email) => email_element_filter(inner)?,
                    _ => Q::Present(attr),
                }
            }
            Filter::Compare { path, op, value } => {
                user_compare(attr(path)?, &path.to_string(), *op, value)?
            }
        })
    }

    fn sort_attr(name: &str, declared: &Declared<'_>) -> Result<UserAttr, ScimError> {
        let path =
            parse_path(name).map_err(|err| ScimError::invalid_value(format!("sortBy: {err}")))?;
        user_attr(&path, declared).map_err(|_| {
            ScimError::invalid_value(format!(
                "cannot sort by {name}; sort by {}",
                user_filterable(declared)
            ))
        })
    }
}

impl Translate for GroupResource {
    fn filterable(path: &AttrPath, _: &Declared<'_>) -> bool {
        group_attr(path).is_ok()
    }

    /// Groups have no custom attributes: `declared` is not consulted.
    fn filter(filter: &Filter, _: &Declared<'_>) -> Result<Q<GroupAttr>, ScimError> {
        let none = &Declared::none();
        Ok(match filter {
            Filter::And(a, b) => Q::And(
                Box::new(Self::filter(a, none)?),
                Box::new(Self::filter(b, none)?),
            ),
            Filter::Or(a, b) => Q::Or(
                Box::new(Self::filter(a, none)?),
                Box::new(Self::filter(b, none)?),
            ),
            Filter::Not(a) => Q::Not(Box::new(Self::filter(a, none)?)),
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

    fn sort_attr(name: &str, _: &Declared<'_>) -> Result<GroupAttr, ScimError> {
        let path =
            parse_path(name).map_err(|err| ScimError::invalid_value(format!("sortBy: {err}")))?;
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
            assert_eq!(
                UserResource::applies(&filter, &Declared::none()),
                users,
                "{text} on Users"
            );
            assert_eq!(
                GroupResource::applies(&filter, &Declared::none()),
                groups,
                "{text} on Groups"
            );
        }
    }

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const HR: &str = "urn:acme:params:scim:schemas:extension:hr:2.0:User";

    fn mapping(
        name: &str,
        kind: roster_domain::attributes::AttributeKind,
        scim_schema: Option<&str>,
        sources: &[&str],
    ) -> AttributeMapping {
        use roster_domain::attributes::{
            AttributeDefinition, AttributeName, MappingOrigin, StandardAttribute,
        };
        AttributeMapping {
            definition: AttributeDefinition {
                id: roster_domain::AttributeId::new(),
                workspace_id: roster_domain::WorkspaceId::new(),
                name: AttributeName::parse(name).unwrap(),
                label: name.to_owned(),
                kind,
                case_exact: name == "badge",
                released: true,
                standard: StandardAttribute::parse(name),
                scim_schema: scim_schema.map(str::to_owned),
                created_at: Timestamp::from_micros(0),
            },
            sources: sources.iter().map(|s| (*s).to_owned()).collect(),
            origin: MappingOrigin::Default,
        }
    }

    /// A workspace's attributes as one connection maps them: the vendor defaults of four
    /// standard attributes, and two in declared extensions.
    fn workspace() -> Vec<AttributeMapping> {
        use roster_domain::attributes::AttributeKind as K;
        vec![
            mapping(
                "department",
                K::String,
                None,
                &[&format!("{ENT}:department")],
            ),
            mapping("title", K::String, None, &["title"]),
            mapping(
                "location",
                K::String,
                None,
                &[r#"addresses[type eq "work"].locality"#],
            ),
            mapping(
                "manager",
                K::UserRef,
                None,
                &[&format!("{ENT}:manager.value")],
            ),
            mapping(
                "badge",
                K::String,
                Some("urn:acme:hr"),
                &["urn:acme:hr:badge"],
            ),
            mapping(
                "costCenterCode",
                K::Number,
                Some(HR),
                &[&format!("{HR}:costCenterCode")],
            ),
        ]
    }

    fn custom(declared: &[AttributeMapping], name: &str) -> UserAttr {
        let definition = &declared
            .iter()
            .find(|m| m.definition.name.as_str() == name)
            .unwrap()
            .definition;
        UserAttr::Custom {
            id: definition.id,
            kind: definition.kind,
            case_exact: definition.case_exact,
        }
    }

    fn text_eq(attr: UserAttr, text: &str) -> Q<UserAttr> {
        Q::Compare {
            attr,
            op: CompareOp::Eq,
            value: V::Text(text.to_owned()),
        }
    }

    /// A filter naming a declared attribute, however SCIM lets it be spelled → the query on it.
    #[test]
    fn filters_name_declared_attributes_by_their_scim_paths() {
        let declared = workspace();
        let at = |name| custom(&declared, name);
        let department = text_eq(at("department"), "Sales");
        #[rustfmt::skip]
        let cases: Vec<(String, Q<UserAttr>)> = vec![
            (format!(r#"{ENT}:department eq "Sales""#), department.clone()),
            (r#"URN:IETF:params:scim:schemas:extension:Enterprise:2.0:user:Department eq "Sales""#.into(), department.clone()),
            // A bare enterprise name, as PATCH reads it.
            (r#"department eq "Sales""#.into(), department.clone()),
            (r#"title sw "Eng""#.into(), Q::Compare { attr: at("title"), op: CompareOp::Sw, value: V::Text("Eng".into()) }),
            ("urn:ietf:params:scim:schemas:core:2.0:User:title pr".into(), Q::Present(at("title"))),
            (r#"addresses[type eq "work"].locality eq "Paris""#.into(), text_eq(at("location"), "Paris")),
            (r#"Addresses[Type EQ "Work"].Locality eq "Paris""#.into(), text_eq(at("location"), "Paris")),
            // The enterprise manager is its value, named with or without `.value`.
            (r#"manager eq "u-1""#.into(), text_eq(at("manager"), "u-1")),
            (r#"manager.value eq "u-1""#.into(), text_eq(at("manager"), "u-1")),
            (format!(r#"{ENT}:manager eq "u-1""#), text_eq(at("manager"), "u-1")),
            // A declared extension, by its own path.
            (r#"urn:acme:hr:badge eq "AB12""#.into(), text_eq(at("badge"), "AB12")),
            (r#"URN:ACME:HR:Badge eq "AB12""#.into(), text_eq(at("badge"), "AB12")),
            (format!("{HR}:costCenterCode gt 42"), Q::Compare { attr: at("costCenterCode"), op: CompareOp::Gt, value: V::Number(42.0) }),
            (format!(r#"{HR}:costCenterCode eq "42""#), text_eq(at("costCenterCode"), "42")),
            (format!("{HR}:costCenterCode eq null"), Q::Not(Box::new(Q::Present(at("costCenterCode"))))),
            (
                format!(r#"userName eq "ann" and {ENT}:department eq "Sales""#),
                Q::And(Box::new(text_eq(UserAttr::UserName, "ann")), Box::new(department.clone())),
            ),
            // The fixed attributes come first.
            (r#"displayName eq "Ann""#.into(), text_eq(UserAttr::DisplayName, "Ann")),
        ];
        for (text, want) in cases {
            let filter = parse_filter(&text).unwrap();
            assert_eq!(
                UserResource::filter(&filter, &Declared::new(&declared)),
                Ok(want),
                "{text}"
            );
        }
    }

    /// Filters that cannot be answered: a 400 `invalidFilter` whose detail says why.
    #[test]
    fn undeclared_or_mistyped_custom_filters_are_refused_with_a_reason() {
        let declared = workspace();
        let elsewhere = vec![mapping(
            "department",
            roster_domain::attributes::AttributeKind::String,
            None,
            &["urn:acme:dept"],
        )];
        let listed = format!("or a declared attribute: {ENT}:department, title, ");
        #[rustfmt::skip]
        let cases: Vec<(&[AttributeMapping], String, Vec<&str>)> = vec![
            (&declared, format!(r#"{ENT}:costCenter eq "x""#), vec!["costCenter declared", r#"{"template": "costCenter"}"#]),
            (&declared, r#"employeeNumber eq "1""#.into(), vec!["employeeNumber declared"]),
            (&[], format!(r#"{ENT}:department eq "Sales""#), vec!["department declared"]),
            (&elsewhere, format!(r#"{ENT}:department eq "Sales""#), vec!["sends the attribute department (urn:acme:dept)", "urn:acme:dept"]),
            (&declared, r#"nickName eq "x""#.into(), vec!["filtering on nickName is not supported", &listed]),
            (&declared, format!(r#"{HR}:costCenterCode eq "abc""#), vec![r#"costCenterCode: must be a number, got "abc""#]),
            (&declared, format!(r#"{HR}:costCenterCode co "4""#), vec!["supports eq, ne, gt, ge, lt and le, not co"]),
            (&declared, r#"manager sw "u""#.into(), vec!["supports eq and ne, not sw"]),
            (&declared, r#"title gt null"#.into(), vec!["compared with null by eq or ne"]),
            (&declared, r#"urn:acme:hr:badge.value eq "x""#.into(), vec!["not supported"]),
        ];
        for (attributes, text, want) in cases {
            let filter = parse_filter(&text).unwrap();
            let error = UserResource::filter(&filter, &Declared::new(attributes)).unwrap_err();
            assert_eq!(
                (error.status, error.scim_type),
                (400, Some(crate::error::ScimType::InvalidFilter)),
                "{text}"
            );
            for part in want {
                assert!(error.detail.contains(part), "{text}: {}", error.detail);
            }
        }
    }

    #[test]
    fn declared_attributes_sort_and_apply_to_users_only() {
        let declared = workspace();
        let declared_here = &Declared::new(&declared);
        assert_eq!(
            UserResource::sort_attr("urn:acme:hr:badge", declared_here),
            Ok(custom(&declared, "badge"))
        );
        assert_eq!(
            UserResource::sort_attr("department", declared_here),
            Ok(custom(&declared, "department"))
        );
        let error =
            UserResource::sort_attr(&format!("{ENT}:costCenter"), declared_here).unwrap_err();
        assert_eq!(error.scim_type, Some(crate::error::ScimType::InvalidValue));
        let filter = parse_filter(r#"department eq "Sales""#).unwrap();
        assert!(UserResource::applies(&filter, declared_here));
        assert!(!UserResource::applies(&filter, &Declared::none()));
        assert!(!GroupResource::applies(&filter, declared_here));
    }
}
