//! What a directory query asks for, independent of any wire format or SQL: filter trees over the
//! attributes the store indexes, sort keys and pages.
//!
//! Protocol crates translate their own syntax (a SCIM `filter=`) into these types; the store
//! compiles them to SQL in exactly one place. An attribute that is not listed here cannot be
//! filtered on, so every accepted filter is an indexed query, never a scan of JSON.
//!
//! A workspace's custom attributes (issue #28) are filtered through their index
//! (`user_attribute_values`: one order-preserving key per value), so [`key_match`] turns a
//! comparison on one into a condition on keys: the operand is typed and keyed exactly as stored
//! values are ([`crate::attributes::coerce`], [`crate::attributes::index_keys`]), and the operator
//! becomes key equality, a key range or a substring of a key. One B-tree then answers `eq`,
//! ranges, `sw` and sorts for every kind, on both databases.

use std::ops::Bound;

use crate::attributes::{coerce, index_keys, AttrValue, AttributeKind, CoerceError, RawScalar};
use crate::{AttributeId, Timestamp};

/// A boolean filter over attributes `A`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter<A> {
    /// Matches everything.
    All,
    And(Box<Filter<A>>, Box<Filter<A>>),
    Or(Box<Filter<A>>, Box<Filter<A>>),
    Not(Box<Filter<A>>),
    Compare {
        attr: A,
        op: CompareOp,
        value: Value,
    },
    /// The attribute has a value.
    Present(A),
}

/// Comparison operators (SCIM's set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A comparison operand, already converted to the attribute's type. Text operands of
/// case-insensitive attributes are compared by their normalised key by the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    /// A number (custom number attributes; built-in attributes take no numbers).
    Number(f64),
    Bool(bool),
    Time(Timestamp),
}

/// User attributes a query may filter or sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAttr {
    Id,
    /// Case-insensitive.
    UserName,
    /// Case-sensitive.
    ExternalId,
    /// The user's email, case-insensitive.
    Email,
    DisplayName,
    GivenName,
    FamilyName,
    Active,
    Created,
    LastModified,
    /// A custom attribute the workspace declares, compared through its index keys
    /// ([`key_match`]).
    Custom {
        id: AttributeId,
        kind: AttributeKind,
        case_exact: bool,
    },
}

/// What a comparison on a custom attribute asks of the attribute's index keys. A user matches
/// when one of its keys does (any element of a list) — except with [`KeyMatch::NoneEqual`], which
/// matches when none does, so a user without a value matches `ne` as SCIM wants
/// (RFC 7644 §3.4.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMatch {
    /// `eq`.
    Equal(String),
    /// `ne`: no key equals this one.
    NoneEqual(String),
    /// `gt`, `ge`, `lt`, `le`, and `sw` as the range of the keys that start with the operand.
    Range {
        lower: Bound<String>,
        upper: Bound<String>,
    },
    /// `co`: a key contains this text.
    Contains(String),
    /// `ew`: a key ends with this text.
    EndsWith(String),
}

/// Why a comparison does not apply to a custom attribute (the message names no attribute: the
/// caller does).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyMatchError {
    #[error("a {kind} attribute supports {supported}, not {op}")]
    Operator {
        kind: &'static str,
        supported: &'static str,
        op: &'static str,
    },
    /// The operand does not fit the attribute (`costCenterCode eq "abc"`).
    #[error("{0}")]
    Operand(CoerceError),
    #[error("is not compared with a date-time")]
    Time,
}

/// The operators a kind of custom attribute supports, as the message that refuses the others
/// lists them: text compares by every operator, numbers by order, booleans and user references
/// by equality only.
fn supported(kind: AttributeKind) -> (&'static [CompareOp], &'static str) {
    use CompareOp::*;
    match kind {
        AttributeKind::String | AttributeKind::StringList => (
            &[Eq, Ne, Co, Sw, Ew, Gt, Ge, Lt, Le],
            "eq, ne, co, sw, ew, gt, ge, lt and le",
        ),
        AttributeKind::Number => (&[Eq, Ne, Gt, Ge, Lt, Le], "eq, ne, gt, ge, lt and le"),
        AttributeKind::Boolean | AttributeKind::UserRef => (&[Eq, Ne], "eq and ne"),
    }
}

impl CompareOp {
    const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// SCIM's keyword for the operator (RFC 7644 §3.4.2.2, table 3): the one keyword table.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// The operator a SCIM keyword names, in any case (`EQ` is `eq`).
    pub fn from_keyword(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl std::fmt::Display for CompareOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The highest code point: appended to a key, the exclusive upper end of the keys starting with
/// it (byte order is code point order in UTF-8).
const AFTER_EVERY_SUFFIX: char = '\u{10FFFF}';

/// Turns `attr op value` on a custom attribute of `kind` into a condition on its index keys.
/// The operand is typed as a stored value is (`"42"` is the number 42, blank text is no value)
/// and keyed the same way (lowercase unless `case_exact`, numbers by `number_key`, booleans
/// `0`/`1`, user ids in lowercase); `co`, `sw` and `ew` take the text as sent, only folded.
pub fn key_match(
    kind: AttributeKind,
    case_exact: bool,
    op: CompareOp,
    value: &Value,
) -> Result<KeyMatch, KeyMatchError> {
    let (operators, list) = supported(kind);
    if !operators.contains(&op) {
        return Err(KeyMatchError::Operator {
            kind: kind.as_str(),
            supported: list,
            op: op.as_str(),
        });
    }
    let raw = match value {
        Value::Text(text) => RawScalar::Text(text.clone()),
        Value::Number(number) => RawScalar::Number(*number),
        Value::Bool(value) => RawScalar::Bool(*value),
        Value::Time(_) => return Err(KeyMatchError::Time),
    };
    let key = match op {
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
            let text = match &raw {
                RawScalar::Text(text) => text.clone(),
                // `co 42` on a text attribute: the number as a stored text holds it.
                other => match coerce(AttributeKind::String, std::slice::from_ref(other)) {
                    Ok(Some(AttrValue::Text(text))) => text,
                    _ => String::new(),
                },
            };
            if case_exact {
                text
            } else {
                text.to_lowercase()
            }
        }
        _ => typed_key(kind, case_exact, &raw)?,
    };
    Ok(match op {
        CompareOp::Eq => KeyMatch::Equal(key),
        CompareOp::Ne => KeyMatch::NoneEqual(key),
        CompareOp::Gt => KeyMatch::Range {
            lower: Bound::Excluded(key),
            upper: Bound::Unbounded,
        },
        CompareOp::Ge => KeyMatch::Range {
            lower: Bound::Included(key),
            upper: Bound::Unbounded,
        },
        CompareOp::Lt => KeyMatch::Range {
            lower: Bound::Unbounded,
            upper: Bound::Excluded(key),
        },
        CompareOp::Le => KeyMatch::Range {
            lower: Bound::Unbounded,
            upper: Bound::Included(key),
        },
        CompareOp::Sw => KeyMatch::Range {
            upper: Bound::Excluded(format!("{key}{AFTER_EVERY_SUFFIX}")),
            lower: Bound::Included(key),
        },
        CompareOp::Co => KeyMatch::Contains(key),
        CompareOp::Ew => KeyMatch::EndsWith(key),
    })
}

/// The index key of an operand typed as a stored value of `kind` is. Blank text is no value:
/// no stored text equals it (its key is empty), and it is no number or boolean.
fn typed_key(
    kind: AttributeKind,
    case_exact: bool,
    raw: &RawScalar,
) -> Result<String, KeyMatchError> {
    let typed = coerce(kind, std::slice::from_ref(raw)).map_err(KeyMatchError::Operand)?;
    let blank = || match raw {
        RawScalar::Text(text) => text.clone(),
        _ => String::new(),
    };
    let key = match (typed, kind) {
        (Some(typed), _) => index_keys(&typed, case_exact)
            .into_iter()
            .next()
            .unwrap_or_default(),
        (None, AttributeKind::Number) => {
            return Err(KeyMatchError::Operand(CoerceError::NotANumber(blank())))
        }
        (None, AttributeKind::Boolean) => {
            return Err(KeyMatchError::Operand(CoerceError::NotABoolean(blank())))
        }
        (None, _) => String::new(),
    };
    // Roster's user ids are lowercase UUIDs; a reference is found whatever case it is sent in.
    Ok(if kind == AttributeKind::UserRef {
        key.to_ascii_lowercase()
    } else {
        key
    })
}

/// Group attributes a query may filter or sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupAttr {
    Id,
    /// Case-insensitive.
    DisplayName,
    /// Case-sensitive.
    ExternalId,
    Created,
    LastModified,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Ascending,
    Descending,
}

/// Which page of results: an offset page (`startIndex`/`count`) or a keyset page after the last
/// id seen (cursor pagination; only in the default id order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    Offset { offset: i64, limit: i64 },
    After { last_id: Option<String>, limit: i64 },
}

/// A complete query: filter, optional sort attribute, page.
#[derive(Debug, Clone, PartialEq)]
pub struct Query<A> {
    pub filter: Filter<A>,
    pub sort: Option<(A, SortOrder)>,
    pub page: Page,
}

impl Page {
    /// Whether this is the first page, and how many rows it may hold.
    pub fn first_and_limit(&self) -> (bool, i64) {
        match self {
            Page::Offset { offset, limit } => (*offset == 0, *limit),
            Page::After { last_id, limit } => (last_id.is_none(), *limit),
        }
    }
}

impl Query<UserAttr> {
    /// A lookup that matches one user at most and asks for its first page: an equality on a key
    /// that is unique among the users one connection sees (the id, `userName` in the workspace,
    /// `externalId` in the connection) — Entra's `userName eq` before every create.
    pub fn is_unique_lookup(&self) -> bool {
        let (first, limit) = self.page.first_and_limit();
        first
            && limit >= 1
            && matches!(
                self.filter,
                Filter::Compare {
                    attr: UserAttr::Id | UserAttr::UserName | UserAttr::ExternalId,
                    op: CompareOp::Eq,
                    ..
                }
            )
    }
}

impl Filter<UserAttr> {
    /// Whether only users holding a value of a custom attribute can match: the filter is that
    /// attribute's comparison (other than `ne`) or presence, or a conjunction with one. Their
    /// matches can then be read from the attribute's index, however many users the directory
    /// holds.
    pub fn narrowed_by_custom_attribute(&self) -> bool {
        match self {
            Filter::And(a, b) => {
                a.narrowed_by_custom_attribute() || b.narrowed_by_custom_attribute()
            }
            Filter::Compare {
                attr: UserAttr::Custom { .. },
                op,
                ..
            } => *op != CompareOp::Ne,
            Filter::Present(UserAttr::Custom { .. }) => true,
            _ => false,
        }
    }
}

/// One page of results and the number of all matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(filter: Filter<UserAttr>, page: Page) -> Query<UserAttr> {
        Query {
            filter,
            sort: None,
            page,
        }
    }

    fn eq(attr: UserAttr) -> Filter<UserAttr> {
        Filter::Compare {
            attr,
            op: CompareOp::Eq,
            value: Value::Text("a@b.c".into()),
        }
    }

    #[test]
    fn unique_lookups_are_first_pages_of_an_equality_on_a_unique_key() {
        let first = Page::Offset {
            offset: 0,
            limit: 100,
        };
        for attr in [UserAttr::Id, UserAttr::UserName, UserAttr::ExternalId] {
            assert!(
                query(eq(attr), first.clone()).is_unique_lookup(),
                "{attr:?}"
            );
        }
        assert!(query(
            eq(UserAttr::UserName),
            Page::After {
                last_id: None,
                limit: 1
            }
        )
        .is_unique_lookup());
        // Not unique, not an equality, not the first page, or a page of nothing.
        assert!(!query(eq(UserAttr::Email), first.clone()).is_unique_lookup());
        let co = Filter::Compare {
            attr: UserAttr::UserName,
            op: CompareOp::Co,
            value: Value::Text("a".into()),
        };
        assert!(!query(co, first.clone()).is_unique_lookup());
        let either = Filter::Or(Box::new(eq(UserAttr::Id)), Box::new(eq(UserAttr::UserName)));
        assert!(!query(either, first).is_unique_lookup());
        let second = Page::Offset {
            offset: 1,
            limit: 100,
        };
        assert!(!query(eq(UserAttr::UserName), second).is_unique_lookup());
        let empty = Page::Offset {
            offset: 0,
            limit: 0,
        };
        assert!(!query(eq(UserAttr::UserName), empty).is_unique_lookup());
        let later = Page::After {
            last_id: Some("x".into()),
            limit: 100,
        };
        assert!(!query(eq(UserAttr::UserName), later).is_unique_lookup());
    }

    /// (kind, case-exact, operator, operand, what the index is asked).
    type KeyMatchCase = (
        AttributeKind,
        bool,
        CompareOp,
        Value,
        Result<KeyMatch, KeyMatchError>,
    );

    /// A comparison on a custom attribute → the condition on its index keys, or the refusal.
    #[test]
    fn key_match_table() {
        use crate::attributes::{number_key, AttributeKind as K};
        use Bound::{Excluded, Included, Unbounded};
        use CompareOp as Op;
        use KeyMatch as M;
        let text = |t: &str| Value::Text(t.to_owned());
        let range = |lower, upper| M::Range { lower, upper };
        let key = |k: &str| k.to_owned();
        let max = '\u{10FFFF}';
        #[rustfmt::skip]
        let cases: Vec<KeyMatchCase> = vec![
            // Text: folded unless case-exact, trimmed as stored values are.
            (K::String, false, Op::Eq, text(" Sales "), Ok(M::Equal(key("sales")))),
            (K::String, true, Op::Eq, text("Sales"), Ok(M::Equal(key("Sales")))),
            (K::String, false, Op::Ne, text("Sales"), Ok(M::NoneEqual(key("sales")))),
            (K::String, false, Op::Eq, Value::Number(42.0), Ok(M::Equal(key("42")))),
            (K::String, false, Op::Eq, text("  "), Ok(M::Equal(key("")))),
            (K::String, false, Op::Gt, text("M"), Ok(range(Excluded(key("m")), Unbounded))),
            (K::String, false, Op::Le, text("M"), Ok(range(Unbounded, Included(key("m"))))),
            (K::String, false, Op::Sw, text("Dept-"), Ok(range(Included(key("dept-")), Excluded(format!("dept-{max}"))))),
            (K::String, true, Op::Sw, text("AB"), Ok(range(Included(key("AB")), Excluded(format!("AB{max}"))))),
            (K::String, false, Op::Co, text("ALE"), Ok(M::Contains(key("ale")))),
            (K::StringList, false, Op::Ew, text("SQL"), Ok(M::EndsWith(key("sql")))),
            (K::String, false, Op::Co, Value::Number(4.0), Ok(M::Contains(key("4")))),
            // Numbers: typed as stored ("42" is 42), ordered by their keys.
            (K::Number, false, Op::Eq, Value::Number(42.0), Ok(M::Equal(number_key(42.0)))),
            (K::Number, false, Op::Eq, text("42"), Ok(M::Equal(number_key(42.0)))),
            (K::Number, false, Op::Ge, Value::Number(-1.5), Ok(range(Included(number_key(-1.5)), Unbounded))),
            (K::Number, false, Op::Lt, Value::Number(0.0), Ok(range(Unbounded, Excluded(number_key(0.0))))),
            (K::Number, false, Op::Eq, text("abc"), Err(KeyMatchError::Operand(CoerceError::NotANumber("abc".into())))),
            (K::Number, false, Op::Eq, text(""), Err(KeyMatchError::Operand(CoerceError::NotANumber("".into())))),
            (K::Number, false, Op::Eq, Value::Bool(true), Err(KeyMatchError::Operand(CoerceError::NotANumber("true".into())))),
            (K::Number, false, Op::Co, text("4"), Err(KeyMatchError::Operator { kind: "number", supported: "eq, ne, gt, ge, lt and le", op: "co" })),
            // Booleans and user references: equality only.
            (K::Boolean, false, Op::Eq, Value::Bool(true), Ok(M::Equal(key("1")))),
            (K::Boolean, false, Op::Ne, text("False"), Ok(M::NoneEqual(key("0")))),
            (K::Boolean, false, Op::Eq, text("yes"), Err(KeyMatchError::Operand(CoerceError::NotABoolean("yes".into())))),
            (K::Boolean, false, Op::Gt, Value::Bool(true), Err(KeyMatchError::Operator { kind: "boolean", supported: "eq and ne", op: "gt" })),
            (K::UserRef, false, Op::Eq, text("0190D7A4-9A1C-7B3E-8F00-0123456789AB"), Ok(M::Equal(key("0190d7a4-9a1c-7b3e-8f00-0123456789ab")))),
            (K::UserRef, false, Op::Sw, text("0190"), Err(KeyMatchError::Operator { kind: "user_ref", supported: "eq and ne", op: "sw" })),
            (K::String, false, Op::Eq, Value::Time(Timestamp::from_micros(0)), Err(KeyMatchError::Time)),
        ];
        for (kind, case_exact, op, value, want) in cases {
            assert_eq!(
                key_match(kind, case_exact, op, &value),
                want,
                "{kind:?} {op:?} {value:?}"
            );
        }
    }

    #[test]
    fn a_range_for_sw_holds_exactly_the_keys_that_start_with_the_prefix() {
        let Ok(KeyMatch::Range {
            lower: Bound::Included(lower),
            upper: Bound::Excluded(upper),
        }) = key_match(
            AttributeKind::String,
            false,
            CompareOp::Sw,
            &Value::Text("dept-7".into()),
        )
        else {
            panic!("sw is a range");
        };
        for (key, inside) in [
            ("dept-7", true),
            ("dept-70", true),
            ("dept-7\u{e9}t\u{e9}", true),
            ("dept-7\u{10fffe}", true),
            ("dept-6", false),
            ("dept-8", false),
            ("dept-", false),
            ("dept7", false),
        ] {
            let key = key.to_owned();
            assert_eq!(key >= lower && key < upper, inside, "{key:?}");
        }
    }

    #[test]
    fn which_filters_only_users_with_a_custom_value_match() {
        let custom = UserAttr::Custom {
            id: AttributeId::new(),
            kind: AttributeKind::String,
            case_exact: false,
        };
        let compare = |attr, op| Filter::Compare {
            attr,
            op,
            value: Value::Text("x".into()),
        };
        let and = |a, b| Filter::And(Box::new(a), Box::new(b));
        let or = |a, b| Filter::Or(Box::new(a), Box::new(b));
        let not = |a| Filter::Not(Box::new(a));
        for (filter, narrowed) in [
            (compare(custom, CompareOp::Eq), true),
            (compare(custom, CompareOp::Sw), true),
            (Filter::Present(custom), true),
            (
                and(
                    compare(UserAttr::UserName, CompareOp::Co),
                    compare(custom, CompareOp::Gt),
                ),
                true,
            ),
            (
                and(Filter::All, and(Filter::All, Filter::Present(custom))),
                true,
            ),
            // Users without a value match these.
            (compare(custom, CompareOp::Ne), false),
            (not(compare(custom, CompareOp::Eq)), false),
            (not(Filter::Present(custom)), false),
            (
                or(
                    compare(custom, CompareOp::Eq),
                    compare(UserAttr::UserName, CompareOp::Eq),
                ),
                false,
            ),
            // Not custom at all.
            (compare(UserAttr::DisplayName, CompareOp::Eq), false),
            (Filter::All, false),
        ] {
            assert_eq!(
                filter.narrowed_by_custom_attribute(),
                narrowed,
                "{filter:?}"
            );
        }
    }
}
