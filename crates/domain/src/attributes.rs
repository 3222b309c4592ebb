//! Custom attributes (issue #28): what a workspace declares about its users beyond a name and an
//! email — department, title, cost centre, manager, … — and the rules every value obeys, whatever
//! brought it (SCIM, a SAML or OIDC login, the admin API).
//!
//! Pure: names, kinds, the standard catalogue, coercion of what a protocol extracted
//! ([`RawScalar`]) into a typed [`AttrValue`], and the order-preserving index keys that let one
//! B-tree serve `eq`, ranges and sorts for every kind on both databases ([`index_keys`]).
//! Nothing here knows JSON: the protocol crates extract scalars, the store keeps the values.

use std::fmt;

use crate::{AttributeId, DomainError, Timestamp, WorkspaceId};

mod mapping;

pub use mapping::{
    check_extension_urn, check_sources, default_sources, effective_sources, MappingOrigin,
    Protocol, ENTERPRISE_URN, MAX_SOURCES, MAX_SOURCE_CHARS,
};

/// The longest value accepted, in UTF-8 bytes (keeps a PostgreSQL B-tree entry well under its
/// limit, and an ID token small).
pub const MAX_VALUE_BYTES: usize = 1024;
/// The most elements a `string_list` value holds.
pub const MAX_LIST_ELEMENTS: usize = 100;
/// The most attributes a workspace declares.
pub const MAX_DEFINITIONS: usize = 50;

/// An attribute's name: how the API, events and tokens call it. `^[a-z][A-Za-z0-9_]{0,63}$`,
/// unique per workspace ignoring case, never changed once created (a product's claim keeps its
/// meaning; the label is what an admin edits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttributeName(String);

impl AttributeName {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let invalid = |reason: &str| DomainError::invalid("attribute name", reason.to_owned());
        let mut chars = text.chars();
        match chars.next() {
            None => return Err(invalid("it is empty")),
            Some(first) if !first.is_ascii_lowercase() => {
                return Err(invalid("it must start with a lowercase letter a-z"))
            }
            Some(_) => {}
        }
        if text.len() > 64 {
            return Err(invalid("it is longer than 64 characters"));
        }
        if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(invalid("only letters, digits and _ are allowed"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What uniqueness compares: the name in lowercase.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for AttributeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A custom attribute of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeDefinition {
    pub id: AttributeId,
    pub workspace_id: WorkspaceId,
    pub name: AttributeName,
    /// What the console shows; editable, unlike the name.
    pub label: String,
    pub kind: AttributeKind,
    /// Text compares with its case (employee numbers like `AB12` vs `ab12`); else without.
    pub case_exact: bool,
    /// Whether the OpenID Provider may release it to apps (under the `attributes` scope).
    pub released: bool,
    /// The standard attribute it was made from, if any (its vendor defaults apply).
    pub standard: Option<StandardAttribute>,
    /// The custom SCIM extension schema (URN) it belongs to: SCIM clients write it as
    /// `<urn>:<name>`, typed strictly, and `/Schemas` describes it.
    pub scim_schema: Option<String>,
    pub created_at: Timestamp,
}

/// A definition to create, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttributeDefinition {
    pub name: AttributeName,
    pub label: String,
    pub kind: AttributeKind,
    pub case_exact: bool,
    pub released: bool,
    pub standard: Option<StandardAttribute>,
    pub scim_schema: Option<String>,
}

/// The longest label.
pub const MAX_LABEL_CHARS: usize = 100;

impl NewAttributeDefinition {
    /// A custom definition; the label defaults to the name.
    pub fn new(
        name: &str,
        label: Option<&str>,
        kind: AttributeKind,
        case_exact: bool,
        released: bool,
    ) -> Result<Self, DomainError> {
        let name = AttributeName::parse(name)?;
        let label = check_label(label.unwrap_or(name.as_str()))?;
        if let Some(standard) = StandardAttribute::parse(name.as_str()) {
            if standard.kind() != kind {
                return Err(DomainError::invalid(
                    "attribute type",
                    format!(
                        "{} is a standard attribute of type {}",
                        name,
                        standard.kind().as_str()
                    ),
                ));
            }
        }
        Ok(Self {
            standard: StandardAttribute::parse(name.as_str()),
            name,
            label,
            kind,
            case_exact,
            released,
            scim_schema: None,
        })
    }

    /// Puts the attribute in a custom SCIM extension schema (checked URN).
    pub fn in_scim_schema(mut self, urn: &str) -> Result<Self, DomainError> {
        self.scim_schema = Some(check_extension_urn(urn)?);
        Ok(self)
    }

    /// A standard attribute, ready-made.
    pub fn standard(standard: StandardAttribute) -> Self {
        Self {
            name: AttributeName(standard.name().to_owned()),
            label: standard.label().to_owned(),
            kind: standard.kind(),
            case_exact: false,
            released: true,
            standard: Some(standard),
            scim_schema: None,
        }
    }
}

/// A label: trimmed, not empty, at most [`MAX_LABEL_CHARS`] characters, no control characters.
pub fn check_label(label: &str) -> Result<String, DomainError> {
    let label = label.trim();
    if label.is_empty() {
        return Err(DomainError::invalid("attribute label", "it is empty"));
    }
    if label.chars().count() > MAX_LABEL_CHARS {
        return Err(DomainError::invalid(
            "attribute label",
            format!("it is longer than {MAX_LABEL_CHARS} characters"),
        ));
    }
    if label.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "attribute label",
            "it holds a control character",
        ));
    }
    Ok(label.to_owned())
}

/// What values an attribute holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeKind {
    String,
    Number,
    Boolean,
    /// Several strings (skills, cost centres); only this kind is multi-valued.
    StringList,
    /// Another user of the workspace (`manager`), by Roster user id.
    UserRef,
}

impl AttributeKind {
    pub const ALL: [AttributeKind; 5] = [
        AttributeKind::String,
        AttributeKind::Number,
        AttributeKind::Boolean,
        AttributeKind::StringList,
        AttributeKind::UserRef,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AttributeKind::String => "string",
            AttributeKind::Number => "number",
            AttributeKind::Boolean => "boolean",
            AttributeKind::StringList => "string_list",
            AttributeKind::UserRef => "user_ref",
        }
    }

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| DomainError::UnknownVariant {
                field: "attribute type",
                value: text.to_owned(),
            })
    }
}

/// The attributes offered ready-made: every IdP has them, and the vendor defaults map them so
/// most admins map nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StandardAttribute {
    Department,
    Title,
    EmployeeNumber,
    CostCenter,
    Division,
    Organization,
    Manager,
    Location,
    Phone,
}

impl StandardAttribute {
    pub const ALL: [StandardAttribute; 9] = [
        StandardAttribute::Department,
        StandardAttribute::Title,
        StandardAttribute::EmployeeNumber,
        StandardAttribute::CostCenter,
        StandardAttribute::Division,
        StandardAttribute::Organization,
        StandardAttribute::Manager,
        StandardAttribute::Location,
        StandardAttribute::Phone,
    ];

    /// Its name: SCIM's enterprise-extension spelling where there is one.
    pub fn name(self) -> &'static str {
        match self {
            StandardAttribute::Department => "department",
            StandardAttribute::Title => "title",
            StandardAttribute::EmployeeNumber => "employeeNumber",
            StandardAttribute::CostCenter => "costCenter",
            StandardAttribute::Division => "division",
            StandardAttribute::Organization => "organization",
            StandardAttribute::Manager => "manager",
            StandardAttribute::Location => "location",
            StandardAttribute::Phone => "phone",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StandardAttribute::Department => "Department",
            StandardAttribute::Title => "Job title",
            StandardAttribute::EmployeeNumber => "Employee number",
            StandardAttribute::CostCenter => "Cost centre",
            StandardAttribute::Division => "Division",
            StandardAttribute::Organization => "Organization",
            StandardAttribute::Manager => "Manager",
            StandardAttribute::Location => "Location",
            StandardAttribute::Phone => "Phone",
        }
    }

    pub fn kind(self) -> AttributeKind {
        match self {
            StandardAttribute::Manager => AttributeKind::UserRef,
            _ => AttributeKind::String,
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|standard| standard.name() == name)
    }
}

/// One value as a protocol extracted it, before it is typed: SAML and SCIM strings, OIDC and
/// SCIM JSON numbers and booleans (kept as they came, so `42` and `"42"` both work).
#[derive(Debug, Clone, PartialEq)]
pub enum RawScalar {
    Text(String),
    Number(f64),
    Bool(bool),
}

/// A typed value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Text(String),
    Number(f64),
    Bool(bool),
    List(Vec<String>),
    /// A user id (the reference is resolved by the store).
    UserRef(String),
}

/// Why a value does not fit its attribute (the message names no attribute: the caller does).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoerceError {
    #[error("must be a number, got {0:?}")]
    NotANumber(String),
    #[error("must be true or false, got {0:?}")]
    NotABoolean(String),
    #[error("takes one value, got {0}")]
    SeveralValues(usize),
    #[error("is longer than {MAX_VALUE_BYTES} bytes")]
    TooLong,
    #[error("holds more than {MAX_LIST_ELEMENTS} values")]
    TooManyValues,
}

/// Types what a protocol extracted for an attribute of `kind`. Blank text is no value; no
/// value at all is `None` (the caller keeps or clears, as its policy says). Several values are
/// only for a `string_list`: "first wins" would silently hide an IdP's mistake.
pub fn coerce(kind: AttributeKind, raw: &[RawScalar]) -> Result<Option<AttrValue>, CoerceError> {
    let present: Vec<&RawScalar> = raw
        .iter()
        .filter(|scalar| !matches!(scalar, RawScalar::Text(text) if text.trim().is_empty()))
        .collect();
    if kind == AttributeKind::StringList {
        if present.len() > MAX_LIST_ELEMENTS {
            return Err(CoerceError::TooManyValues);
        }
        let texts = present
            .into_iter()
            .map(|scalar| checked_text(as_text(scalar)))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((!texts.is_empty()).then_some(AttrValue::List(texts)));
    }
    let scalar = match present.as_slice() {
        [] => return Ok(None),
        [one] => *one,
        several => return Err(CoerceError::SeveralValues(several.len())),
    };
    Ok(Some(match kind {
        AttributeKind::String => AttrValue::Text(checked_text(as_text(scalar))?),
        AttributeKind::UserRef => AttrValue::UserRef(checked_text(as_text(scalar))?),
        AttributeKind::Number => AttrValue::Number(number(scalar)?),
        AttributeKind::Boolean => AttrValue::Bool(boolean(scalar)?),
        AttributeKind::StringList => unreachable_list(),
    }))
}

/// `coerce` returns before this for lists; kept total without a panic.
fn unreachable_list() -> AttrValue {
    AttrValue::List(Vec::new())
}

fn as_text(scalar: &RawScalar) -> String {
    match scalar {
        RawScalar::Text(text) => text.trim().to_owned(),
        RawScalar::Number(number) => format_number(*number),
        RawScalar::Bool(value) => value.to_string(),
    }
}

fn checked_text(text: String) -> Result<String, CoerceError> {
    if text.len() > MAX_VALUE_BYTES {
        Err(CoerceError::TooLong)
    } else {
        Ok(text)
    }
}

fn number(scalar: &RawScalar) -> Result<f64, CoerceError> {
    let value = match scalar {
        RawScalar::Number(number) => *number,
        RawScalar::Text(text) => text
            .trim()
            .parse::<f64>()
            .map_err(|_| CoerceError::NotANumber(text.clone()))?,
        RawScalar::Bool(value) => return Err(CoerceError::NotANumber(value.to_string())),
    };
    if value.is_finite() {
        // -0 and 0 are one value.
        Ok(if value == 0.0 { 0.0 } else { value })
    } else {
        Err(CoerceError::NotANumber(as_text(scalar)))
    }
}

fn boolean(scalar: &RawScalar) -> Result<bool, CoerceError> {
    match scalar {
        RawScalar::Bool(value) => Ok(*value),
        RawScalar::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(CoerceError::NotABoolean(text.clone())),
        },
        RawScalar::Number(number) if *number == 1.0 => Ok(true),
        RawScalar::Number(number) if *number == 0.0 => Ok(false),
        RawScalar::Number(number) => Err(CoerceError::NotABoolean(format_number(*number))),
    }
}

/// A number as text: integers without a fraction (`42`, not `42.0`).
fn format_number(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{}", number as i64)
    } else {
        format!("{number}")
    }
}

/// An order-preserving text key for a finite number: `a < b` exactly when
/// `number_key(a) < number_key(b)` byte-wise, so one text index sorts numbers too. The IEEE bits,
/// sign flipped for positives and all bits flipped for negatives, as 16 hex digits.
pub fn number_key(number: f64) -> String {
    let number = if number == 0.0 { 0.0 } else { number };
    let bits = number.to_bits();
    let ordered = if bits >> 63 == 0 {
        bits | (1 << 63)
    } else {
        !bits
    };
    format!("{ordered:016x}")
}

/// The index keys of a value: one per list element, else one. Text compares without case unless
/// the attribute is case-exact; booleans are `0`/`1`; user references their id.
pub fn index_keys(value: &AttrValue, case_exact: bool) -> Vec<String> {
    let text = |text: &str| {
        if case_exact {
            text.to_owned()
        } else {
            text.to_lowercase()
        }
    };
    match value {
        AttrValue::Text(value) => vec![text(value)],
        AttrValue::Number(number) => vec![number_key(*number)],
        AttrValue::Bool(value) => vec![if *value { "1" } else { "0" }.to_owned()],
        AttrValue::List(values) => values.iter().map(|value| text(value)).collect(),
        AttrValue::UserRef(id) => vec![id.clone()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn names_are_identifiers_compared_without_case() {
        for good in [
            "department",
            "costCenter",
            "x",
            "a_1",
            &format!("a{}", "b".repeat(63)),
        ] {
            assert_eq!(AttributeName::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "Department",
            "1x",
            "_x",
            "cost-center",
            "café",
            "a b",
            &"a".repeat(65),
        ] {
            assert!(AttributeName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            AttributeName::parse("costCenter").unwrap().key(),
            "costcenter"
        );
    }

    #[test]
    fn a_definition_checks_its_name_label_and_a_standard_name_s_type() {
        let custom =
            NewAttributeDefinition::new("costCenterCode", None, AttributeKind::Number, false, true)
                .unwrap();
        assert_eq!(custom.label, "costCenterCode");
        assert_eq!(custom.standard, None);
        let department = NewAttributeDefinition::new(
            "department",
            Some(" Dept "),
            AttributeKind::String,
            false,
            true,
        )
        .unwrap();
        assert_eq!(department.label, "Dept");
        assert_eq!(department.standard, Some(StandardAttribute::Department));
        for (name, label, kind, want) in [
            ("Bad", None, AttributeKind::String, "attribute name"),
            ("x", Some(" "), AttributeKind::String, "attribute label"),
            ("x", Some("a\nb"), AttributeKind::String, "attribute label"),
            ("manager", None, AttributeKind::String, "attribute type"),
        ] {
            let error = NewAttributeDefinition::new(name, label, kind, false, true).unwrap_err();
            assert!(error.to_string().contains(want), "{name}: {error}");
        }
        let long = "x".repeat(MAX_LABEL_CHARS + 1);
        assert!(check_label(&long).is_err());
        assert_eq!(
            NewAttributeDefinition::standard(StandardAttribute::Manager).kind,
            AttributeKind::UserRef
        );
    }

    #[test]
    fn kinds_and_standard_attributes_round_trip() {
        for kind in AttributeKind::ALL {
            assert_eq!(AttributeKind::parse(kind.as_str()).unwrap(), kind);
        }
        assert!(AttributeKind::parse("date").is_err());
        for standard in StandardAttribute::ALL {
            assert_eq!(StandardAttribute::parse(standard.name()), Some(standard));
            AttributeName::parse(standard.name()).expect("a standard name is a valid name");
        }
        assert_eq!(StandardAttribute::Manager.kind(), AttributeKind::UserRef);
    }

    fn text(value: &str) -> RawScalar {
        RawScalar::Text(value.to_owned())
    }

    type Case = (
        AttributeKind,
        Vec<RawScalar>,
        Result<Option<AttrValue>, CoerceError>,
    );

    /// What a protocol extracted → the typed value, or the refusal.
    #[test]
    fn coercion_table() {
        use AttrValue as V;
        use AttributeKind::*;
        let long = "x".repeat(MAX_VALUE_BYTES + 1);
        let many: Vec<RawScalar> = (0..=MAX_LIST_ELEMENTS)
            .map(|i| text(&i.to_string()))
            .collect();
        let cases: Vec<Case> = vec![
            (String, vec![], Ok(None)),
            (String, vec![text("  ")], Ok(None)),
            (
                String,
                vec![text(" Sales ")],
                Ok(Some(V::Text("Sales".into()))),
            ),
            (
                String,
                vec![RawScalar::Number(42.0)],
                Ok(Some(V::Text("42".into()))),
            ),
            (
                String,
                vec![text("a"), text("b")],
                Err(CoerceError::SeveralValues(2)),
            ),
            (String, vec![text(&long)], Err(CoerceError::TooLong)),
            (Number, vec![text("42")], Ok(Some(V::Number(42.0)))),
            (Number, vec![text("4.2e1")], Ok(Some(V::Number(42.0)))),
            (
                Number,
                vec![RawScalar::Number(-0.0)],
                Ok(Some(V::Number(0.0))),
            ),
            (
                Number,
                vec![text("abc")],
                Err(CoerceError::NotANumber("abc".into())),
            ),
            (
                Number,
                vec![text("NaN")],
                Err(CoerceError::NotANumber("NaN".into())),
            ),
            (
                Number,
                vec![text("inf")],
                Err(CoerceError::NotANumber("inf".into())),
            ),
            (Boolean, vec![text("True")], Ok(Some(V::Bool(true)))),
            (Boolean, vec![text("0")], Ok(Some(V::Bool(false)))),
            (
                Boolean,
                vec![RawScalar::Bool(true)],
                Ok(Some(V::Bool(true))),
            ),
            (
                Boolean,
                vec![text("yes")],
                Err(CoerceError::NotABoolean("yes".into())),
            ),
            (
                StringList,
                vec![text("a"), text(" "), text("b")],
                Ok(Some(V::List(vec!["a".into(), "b".into()]))),
            ),
            (StringList, vec![text(" ")], Ok(None)),
            (StringList, many, Err(CoerceError::TooManyValues)),
            (
                UserRef,
                vec![text("u-1")],
                Ok(Some(V::UserRef("u-1".into()))),
            ),
        ];
        for (kind, raw, want) in cases {
            assert_eq!(coerce(kind, &raw), want, "{kind:?} {raw:?}");
        }
    }

    #[test]
    fn number_keys_sort_as_the_numbers_do() {
        let numbers = [
            -1e300, -42.5, -1.0, -1e-300, 0.0, 1e-300, 0.5, 1.0, 2.0, 10.0, 42.5, 1e300,
        ];
        for pair in numbers.windows(2) {
            assert!(
                number_key(pair[0]) < number_key(pair[1]),
                "{} < {}",
                pair[0],
                pair[1]
            );
        }
        assert_eq!(number_key(-0.0), number_key(0.0));
        assert_eq!(number_key(1.0).len(), 16);
    }

    #[test]
    fn index_keys_fold_case_unless_exact_and_list_every_element() {
        let sales = AttrValue::Text("Sales".into());
        assert_eq!(index_keys(&sales, false), ["sales"]);
        assert_eq!(index_keys(&sales, true), ["Sales"]);
        assert_eq!(
            index_keys(&AttrValue::List(vec!["A".into(), "b".into()]), false),
            ["a", "b"]
        );
        assert_eq!(index_keys(&AttrValue::Bool(true), false), ["1"]);
        assert_eq!(
            index_keys(&AttrValue::Number(1.0), false),
            [number_key(1.0)]
        );
        assert_eq!(
            index_keys(&AttrValue::UserRef("U-1".into()), false),
            ["U-1"]
        );
    }
}
