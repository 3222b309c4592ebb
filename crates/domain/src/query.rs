//! What a directory query asks for, independent of any wire format or SQL: filter trees over the
//! attributes the store indexes, sort keys and pages.
//!
//! Protocol crates translate their own syntax (a SCIM `filter=`) into these types; the store
//! compiles them to SQL in exactly one place. An attribute that is not listed here cannot be
//! filtered on, so every accepted filter is an indexed query, never a scan of JSON.

use crate::Timestamp;

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

/// One page of results and the number of all matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: i64,
}
