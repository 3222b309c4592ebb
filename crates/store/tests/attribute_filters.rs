//! Filters and sorts on custom attributes (issue #28) against a real database (SQLite, or
//! PostgreSQL with `TEST_DATABASE_URL`): every operator through the attribute index, `ne` and
//! `not` matching users without a value, the `eq` fast path's pages and counts limited to what
//! the connection sees, and sorts with the users without a value last.

// Test helpers fail loudly: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use pretty_assertions::assert_eq;
use roster_store::domain::attributes::{
    AttrValue, AttributeDefinition, AttributeKind, NewAttributeDefinition, StandardAttribute,
};
use roster_store::domain::query::{CompareOp, Filter, Page, Query, SortOrder, UserAttr, Value};
use roster_store::domain::{Actor, Source, Timestamp, UserId, UserName, WorkspaceId};
use roster_store::testing::TestStore;
use roster_store::{AttributeEdit, NewProvisioningEntry, NewUser, ScimScope, StoreError};

struct Fixture {
    db: TestStore,
    workspace_id: WorkspaceId,
    scope: ScimScope,
    other: ScimScope,
    definitions: HashMap<&'static str, AttributeDefinition>,
    users: HashMap<String, UserId>,
}

impl Fixture {
    /// A workspace with six attributes, one of each kind (and a case-exact one), and a SCIM
    /// connection beside another one.
    fn new() -> Self {
        let db = TestStore::new();
        let workspace = db.workspace("acme");
        let connection = db.scim_connection(workspace.id, "Entra", true, false);
        let other = db.scim_connection(workspace.id, "Okta", true, false);
        let declare = |new: NewAttributeDefinition| {
            db.store
                .create_attribute(&Actor::Cli, workspace.id, &new)
                .unwrap()
        };
        let custom = |name, kind, case_exact| {
            NewAttributeDefinition::new(name, None, kind, case_exact, true).unwrap()
        };
        let mut definitions = HashMap::new();
        for (name, definition) in [
            (
                "department",
                declare(NewAttributeDefinition::standard(
                    StandardAttribute::Department,
                )),
            ),
            (
                "manager",
                declare(NewAttributeDefinition::standard(StandardAttribute::Manager)),
            ),
            (
                "costCenterCode",
                declare(custom("costCenterCode", AttributeKind::Number, false)),
            ),
            (
                "skills",
                declare(custom("skills", AttributeKind::StringList, false)),
            ),
            (
                "badge",
                declare(custom("badge", AttributeKind::String, true)),
            ),
            (
                "contractor",
                declare(custom("contractor", AttributeKind::Boolean, false)),
            ),
        ] {
            definitions.insert(name, definition);
        }
        let scope = |connection_id| ScimScope {
            workspace_id: workspace.id,
            connection_id,
        };
        Self {
            workspace_id: workspace.id,
            scope: scope(connection.id),
            other: scope(other.id),
            db,
            definitions,
            users: HashMap::new(),
        }
    }

    /// A user of `scope`'s connection with these values.
    fn user_of(&mut self, scope: ScimScope, name: &str, values: &[(&str, AttrValue)]) -> UserId {
        let mut new = NewUser::minimal(
            self.workspace_id,
            UserName::parse(name).unwrap(),
            Source::Scim,
        );
        new.managing_connection_id = Some(scope.connection_id);
        new.attributes = values
            .iter()
            .map(|(attribute, value)| AttributeEdit {
                definition: self.definitions[attribute].clone(),
                value: Some(value.clone()),
            })
            .collect();
        let user = self.db.store.create_user(&Actor::Cli, &new).unwrap();
        self.users.insert(name.to_owned(), user.id);
        user.id
    }

    fn user(&mut self, name: &str, values: &[(&str, AttrValue)]) -> UserId {
        self.user_of(self.scope, name, values)
    }

    fn attr(&self, name: &str) -> UserAttr {
        let definition = &self.definitions[name];
        UserAttr::Custom {
            id: definition.id,
            kind: definition.kind,
            case_exact: definition.case_exact,
        }
    }

    fn compare(&self, name: &str, op: CompareOp, value: Value) -> Filter<UserAttr> {
        Filter::Compare {
            attr: self.attr(name),
            op,
            value,
        }
    }

    fn list(&self, query: &Query<UserAttr>) -> (Vec<String>, i64) {
        let listing = self.db.store.scim_list_users(self.scope, query).unwrap();
        let names = listing
            .items
            .iter()
            .map(|user| user.user_name.as_str().to_owned())
            .collect();
        (names, listing.total)
    }

    /// The names `filter` matches, sorted.
    fn matching(&self, filter: Filter<UserAttr>) -> Vec<String> {
        let (mut names, total) = self.list(&Query {
            filter,
            sort: None,
            page: Page::Offset {
                offset: 0,
                limit: 100,
            },
        });
        assert_eq!(total, names.len() as i64);
        names.sort();
        names
    }

    /// Deprovisions a user (SCIM DELETE): no listing shows it any more.
    fn deprovision(&self, id: UserId) {
        let workspace_id = self.workspace_id.to_string();
        let connection_id = self.scope.connection_id.to_string();
        self.db
            .store
            .scim_delete_user(&Actor::System, self.scope, &id.to_string(), None, |_| {
                NewProvisioningEntry {
                    workspace_id,
                    connection_id,
                    occurred_at: Timestamp::now().as_micros(),
                    request_id: "request".to_owned(),
                    method: "DELETE".to_owned(),
                    path: "/Users".to_owned(),
                    status: 204,
                    duration_us: 1,
                    resource_id: None,
                    error: None,
                    warnings: None,
                    query: None,
                }
            })
            .unwrap();
    }
}

fn text(value: &str) -> AttrValue {
    AttrValue::Text(value.to_owned())
}

fn t(value: &str) -> Value {
    Value::Text(value.to_owned())
}

/// Ann, Bob, Cy and Dee (without values) at the connection; a Sales user of another connection
/// and a deprovisioned one, which no filter of this connection finds.
fn directory() -> Fixture {
    let mut f = Fixture::new();
    let bob = f.user(
        "bob",
        &[
            ("department", text("SALES")),
            ("costCenterCode", AttrValue::Number(-3.0)),
            ("skills", AttrValue::List(vec!["Go".into()])),
            ("badge", text("ab12")),
            ("contractor", AttrValue::Bool(false)),
        ],
    );
    f.user(
        "ann",
        &[
            ("department", text("Sales")),
            ("costCenterCode", AttrValue::Number(42.0)),
            ("skills", AttrValue::List(vec!["Rust".into(), "SQL".into()])),
            ("badge", text("AB12")),
            ("contractor", AttrValue::Bool(true)),
            ("manager", AttrValue::UserRef(bob.to_string())),
        ],
    );
    f.user(
        "cy",
        &[
            ("department", text("Marketing")),
            ("costCenterCode", AttrValue::Number(4100.0)),
            ("badge", text("XY-9")),
        ],
    );
    f.user("dee", &[]);
    let other = f.other;
    f.user_of(other, "olga", &[("department", text("Sales"))]);
    let dan = f.user("dan", &[("department", text("Sales"))]);
    f.deprovision(dan);
    f
}

/// Every operator on every kind, and logic around them → the users it finds.
#[test]
fn custom_filters_find_what_scim_means() {
    use CompareOp::*;
    let f = directory();
    let bob_id = f.users["bob"].to_string().to_uppercase();
    let not = |filter| Filter::Not(Box::new(filter));
    let and = |a, b| Filter::And(Box::new(a), Box::new(b));
    let or = |a, b| Filter::Or(Box::new(a), Box::new(b));
    #[rustfmt::skip]
    let cases: Vec<(Filter<UserAttr>, &[&str])> = vec![
        // Text: without case, trimmed like stored values; `ne` and `not` find Dee, who has none.
        (f.compare("department", Eq, t("sales")), &["ann", "bob"]),
        (f.compare("department", Eq, t(" Sales ")), &["ann", "bob"]),
        (f.compare("department", Ne, t("Sales")), &["cy", "dee"]),
        (not(f.compare("department", Eq, t("Sales"))), &["cy", "dee"]),
        (Filter::Present(f.attr("department")), &["ann", "bob", "cy"]),
        (not(Filter::Present(f.attr("department"))), &["dee"]),
        (f.compare("department", Sw, t("MAR")), &["cy"]),
        (f.compare("department", Co, t("ale")), &["ann", "bob"]),
        (f.compare("department", Co, t("")), &["ann", "bob", "cy"]),
        (f.compare("department", Ew, t("ING")), &["cy"]),
        (f.compare("department", Gt, t("n")), &["ann", "bob"]),
        (f.compare("department", Le, t("Marketing")), &["cy"]),
        (f.compare("department", Eq, t("50%_")), &[]),
        (f.compare("department", Co, t("%")), &[]),
        // Numbers, in numeric order (negative ones too), from a number or its text.
        (f.compare("costCenterCode", Gt, Value::Number(0.0)), &["ann", "cy"]),
        (f.compare("costCenterCode", Ge, t("42")), &["ann", "cy"]),
        (f.compare("costCenterCode", Lt, Value::Number(0.0)), &["bob"]),
        (f.compare("costCenterCode", Le, Value::Number(-3.0)), &["bob"]),
        (f.compare("costCenterCode", Eq, Value::Number(4100.0)), &["cy"]),
        (f.compare("costCenterCode", Ne, Value::Number(42.0)), &["bob", "cy", "dee"]),
        // A list matches when one element does.
        (f.compare("skills", Eq, t("sql")), &["ann"]),
        (f.compare("skills", Eq, t("GO")), &["bob"]),
        (f.compare("skills", Ne, t("rust")), &["bob", "cy", "dee"]),
        (f.compare("skills", Sw, t("r")), &["ann"]),
        // Case-exact text, on both databases alike.
        (f.compare("badge", Eq, t("AB12")), &["ann"]),
        (f.compare("badge", Eq, t("ab12")), &["bob"]),
        (f.compare("badge", Sw, t("AB")), &["ann"]),
        (f.compare("badge", Co, t("B1")), &["ann"]),
        (f.compare("badge", Ew, t("b12")), &["bob"]),
        (f.compare("badge", Ew, t("12")), &["ann", "bob"]),
        (f.compare("badge", Ew, t("longer than any badge")), &[]),
        // Booleans and user references.
        (f.compare("contractor", Eq, Value::Bool(true)), &["ann"]),
        (f.compare("contractor", Eq, t("false")), &["bob"]),
        (f.compare("contractor", Ne, Value::Bool(true)), &["bob", "cy", "dee"]),
        (f.compare("manager", Eq, t(&bob_id)), &["ann"]),
        // Logic around them, and beside the fixed attributes.
        (and(f.compare("department", Eq, t("Sales")), f.compare("costCenterCode", Gt, Value::Number(0.0))), &["ann"]),
        (or(f.compare("costCenterCode", Lt, Value::Number(0.0)), f.compare("department", Eq, t("marketing"))), &["bob", "cy"]),
        (
            and(
                Filter::Compare { attr: UserAttr::UserName, op: Eq, value: t("ANN") },
                f.compare("department", Eq, t("Sales")),
            ),
            &["ann"],
        ),
    ];
    for (filter, want) in cases {
        assert_eq!(f.matching(filter.clone()), want, "{filter:?}");
    }
}

/// `eq` on a custom attribute reads the index in user id order: cursor pages walk every match
/// once, offset pages agree, and the total counts only what the connection sees (not another
/// connection's user, an invited one or a deprovisioned one with the same value).
#[test]
fn a_custom_eq_pages_like_any_listing() {
    let mut f = Fixture::new();
    let mut engineers = Vec::new();
    for i in 0..7 {
        engineers.push(f.user(&format!("eng{i}"), &[("department", text("Eng"))]));
        f.user(&format!("ops{i}"), &[("department", text("Ops"))]);
    }
    let other = f.other;
    f.user_of(other, "elsewhere", &[("department", text("Eng"))]);
    let gone = f.user("gone", &[("department", text("Eng"))]);
    f.deprovision(gone);
    // Nobody's: an invited user (no managing connection) with the value.
    let mut invited = NewUser::minimal(
        f.workspace_id,
        UserName::parse("invited").unwrap(),
        Source::Invited,
    );
    invited.attributes = vec![AttributeEdit {
        definition: f.definitions["department"].clone(),
        value: Some(text("Eng")),
    }];
    f.db.store.create_user(&Actor::Cli, &invited).unwrap();
    engineers.sort();
    let want: Vec<String> = engineers
        .iter()
        .map(|id| {
            let name = f.users.iter().find(|(_, user)| *user == id).unwrap().0;
            name.clone()
        })
        .collect();
    let eng = f.compare("department", CompareOp::Eq, t("eng"));
    let query = |page| Query {
        filter: eng.clone(),
        sort: None,
        page,
    };

    let mut walked = Vec::new();
    let mut last_id: Option<String> = None;
    for _ in 0..5 {
        let listing =
            f.db.store
                .scim_list_users(
                    f.scope,
                    &query(Page::After {
                        last_id: last_id.clone(),
                        limit: 3,
                    }),
                )
                .unwrap();
        assert_eq!(listing.total, 7, "every page of the walk");
        if listing.items.is_empty() {
            break;
        }
        last_id = listing.items.last().map(|user| user.id.to_string());
        walked.extend(
            listing
                .items
                .iter()
                .map(|user| user.user_name.as_str().to_owned()),
        );
    }
    assert_eq!(walked, want);

    let mut offsets = Vec::new();
    for offset in [0, 3, 6] {
        let (names, total) = f.list(&query(Page::Offset { offset, limit: 3 }));
        assert_eq!(total, 7);
        offsets.extend(names);
    }
    assert_eq!(offsets, want);
    // A first page that holds every match is its own total.
    assert_eq!(
        f.list(&query(Page::Offset {
            offset: 0,
            limit: 50
        })),
        (want.clone(), 7)
    );
    assert_eq!(
        f.list(&query(Page::Offset {
            offset: 10,
            limit: 3
        })),
        (Vec::new(), 7)
    );
    // A value with fewer holders than the workspace has users the connection does not see:
    // counted by looking its holders up.
    f.user("solo", &[("department", text("Solo"))]);
    let solo = |offset| {
        f.list(&Query {
            filter: f.compare("department", CompareOp::Eq, t("solo")),
            sort: None,
            page: Page::Offset { offset, limit: 1 },
        })
    };
    assert_eq!(solo(0), (vec!["solo".to_owned()], 1));
    assert_eq!(solo(1), (Vec::new(), 1));
}

/// `sortBy` a custom attribute: users with a value in key order (numbers numerically, a list by
/// its first element), then those without; descending is the exact reverse.
#[test]
fn sorting_by_a_custom_attribute_puts_users_without_a_value_last() {
    let mut f = directory();
    f.user(
        "eve",
        &[("skills", AttrValue::List(vec!["Ada".into(), "Zig".into()]))],
    );
    let everyone = |f: &Fixture, attribute: &str, order| {
        f.list(&Query {
            filter: Filter::All,
            sort: Some((f.attr(attribute), order)),
            page: Page::Offset {
                offset: 0,
                limit: 100,
            },
        })
        .0
    };
    // Users without a value keep the id order: Bob was created before Dee and Eve.
    assert_eq!(
        everyone(&f, "costCenterCode", SortOrder::Ascending),
        ["bob", "ann", "cy", "dee", "eve"]
    );
    assert_eq!(
        everyone(&f, "costCenterCode", SortOrder::Descending),
        ["eve", "dee", "cy", "ann", "bob"]
    );
    assert_eq!(
        everyone(&f, "skills", SortOrder::Ascending),
        ["eve", "bob", "ann", "cy", "dee"]
    );
    assert_eq!(
        everyone(&f, "department", SortOrder::Ascending),
        ["cy", "bob", "ann", "dee", "eve"],
        "Sales and SALES tie: the id decides"
    );
    // Sorted and filtered, paged by offset.
    let sales_by_code = |offset| {
        f.list(&Query {
            filter: f.compare("department", CompareOp::Eq, t("sales")),
            sort: Some((f.attr("costCenterCode"), SortOrder::Descending)),
            page: Page::Offset { offset, limit: 1 },
        })
    };
    assert_eq!(sales_by_code(0), (vec!["ann".to_owned()], 2));
    assert_eq!(sales_by_code(1), (vec!["bob".to_owned()], 2));
}

/// A comparison the attribute's type does not allow is an invalid filter, not an error of the
/// database.
#[test]
fn a_mistyped_custom_comparison_is_an_invalid_filter() {
    let f = Fixture::new();
    for filter in [
        f.compare("costCenterCode", CompareOp::Co, t("4")),
        f.compare("costCenterCode", CompareOp::Eq, t("forty-two")),
        f.compare("contractor", CompareOp::Gt, Value::Bool(false)),
        f.compare("department", CompareOp::Eq, Value::Time(Timestamp::now())),
    ] {
        let error =
            f.db.store
                .scim_list_users(
                    f.scope,
                    &Query {
                        filter: filter.clone(),
                        sort: None,
                        page: Page::Offset {
                            offset: 0,
                            limit: 10,
                        },
                    },
                )
                .unwrap_err();
        assert!(
            matches!(&error, StoreError::InvalidFilter(detail) if detail.starts_with("a custom attribute: ")),
            "{filter:?}: {error:?}"
        );
    }
}

/// An import rebuilds the index from the values it brings (in bulk), so the imported directory
/// filters and sorts as the exported one did.
#[test]
fn an_imported_directory_filters_through_its_rebuilt_index() {
    let f = directory();
    let export = f.db.store.export_workspace(f.workspace_id).unwrap();
    let target = TestStore::new();
    let imported = target.store.import_workspace(&Actor::Cli, &export).unwrap();
    let there = Fixture {
        scope: ScimScope {
            workspace_id: imported.id,
            ..f.scope
        },
        ..f
    };
    let there = Fixture {
        db: target,
        ..there
    };
    assert_eq!(
        there.matching(there.compare("department", CompareOp::Eq, t("Sales"))),
        ["ann", "bob"]
    );
    assert_eq!(
        there.matching(there.compare("skills", CompareOp::Eq, t("sql"))),
        ["ann"]
    );
    assert_eq!(
        there.matching(there.compare("costCenterCode", CompareOp::Lt, Value::Number(0.0))),
        ["bob"]
    );
}
