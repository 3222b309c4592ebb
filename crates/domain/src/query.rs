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
}
