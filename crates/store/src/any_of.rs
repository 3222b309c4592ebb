//! `column IN (values)` written as one statement text for any number of values, so diesel keeps
//! it prepared.
//!
//! diesel's `eq_any` on SQLite binds one parameter per value, so the SQL changes with the count
//! and diesel prepares the statement again at every execution. In a SAML login's group sync
//! those prepares were 5 % of the login's CPU time, spent inside SQLite's one writer. [`any_of`]
//! binds the values once: as a JSON array read back by `json_each` on SQLite, as an array with
//! `= ANY` on PostgreSQL (what `eq_any` does there too). It implements the two backends' own
//! query builders only, so queries using it run through [`on_backend!`](crate::db::on_backend).

use diesel::expression::{AppearsOnTable, Expression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, Bool, Nullable, Text};
use diesel::sqlite::Sqlite;
use diesel::QueryResult;

/// `expr IN (values)`; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct AnyOf<E> {
    expr: E,
    values: Vec<String>,
    /// The values as a JSON array, SQLite's single parameter.
    json: String,
}

/// `expr` equals one of `values` (none: false). `expr` is a text column, nullable or not.
pub(crate) fn any_of<E>(expr: E, values: &[String]) -> AnyOf<E>
where
    E: Expression,
{
    AnyOf {
        expr,
        values: values.to_vec(),
        json: serde_json::Value::from(values.to_vec()).to_string(),
    }
}

impl<E: Expression> Expression for AnyOf<E> {
    /// Nullable, as `IN` on a nullable column is; `filter` and `or` take either.
    type SqlType = Nullable<Bool>;
}

impl<E: QueryId> QueryId for AnyOf<E> {
    type QueryId = AnyOf<E::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = E::HAS_STATIC_QUERY_ID;
}

impl<E, GroupBy> ValidGrouping<GroupBy> for AnyOf<E>
where
    E: ValidGrouping<GroupBy>,
{
    type IsAggregate = E::IsAggregate;
}

impl<E, QuerySource> AppearsOnTable<QuerySource> for AnyOf<E> where E: AppearsOnTable<QuerySource> {}

impl<E: QueryFragment<Sqlite>> QueryFragment<Sqlite> for AnyOf<E> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.expr.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        out.push_bind_param::<Text, _>(&self.json)?;
        out.push_sql("))");
        Ok(())
    }
}

impl<E: QueryFragment<Pg>> QueryFragment<Pg> for AnyOf<E> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.expr.walk_ast(out.reborrow())?;
        out.push_sql(" = ANY(");
        out.push_bind_param::<Array<Text>, _>(&self.values)?;
        out.push_sql(")");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use diesel::prelude::*;

    use super::any_of;
    use crate::db::on_backend;
    use crate::schema::workspaces;
    use crate::testing::TestStore;

    /// The slugs among `values`, on the test backend (SQLite, or PostgreSQL when set).
    fn slugs_among(db: &TestStore, values: &[&str]) -> Vec<String> {
        let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        db.store
            .read(|conn| {
                Ok(on_backend!(conn, |c| workspaces::table
                    .filter(any_of(workspaces::slug, &values))
                    .select(workspaces::slug)
                    .order(workspaces::slug.asc())
                    .load::<String>(c))?)
            })
            .unwrap()
    }

    #[test]
    fn matches_exactly_the_listed_values() {
        let db = TestStore::new();
        for slug in ["acme", "globex", "initech"] {
            db.workspace(slug);
        }
        assert_eq!(slugs_among(&db, &["initech", "acme"]), ["acme", "initech"]);
        assert_eq!(
            slugs_among(
                &db,
                &[
                    "globex",
                    "nope",
                    "ac",
                    "acme ",
                    "x') OR 1=1 --",
                    "[\"acme\"]"
                ]
            ),
            ["globex"],
            "only equal values match; quotes and JSON in a value are just text"
        );
        assert!(slugs_among(&db, &[]).is_empty(), "no values, no rows");
        // A second count of values reuses the statement and still answers right.
        assert_eq!(
            slugs_among(&db, &["acme", "globex", "initech"]),
            ["acme", "globex", "initech"]
        );
    }
}
