//! Attribute role rules (issue #28): "department = Finance gives the role finance-viewer". A rule
//! names an attribute, a value and a role; every user whose value matches holds the role, among
//! those their assignments and group mappings grant ([`super::mapping::recompute_roles`]).
//!
//! A rule matches through the attribute index: its `value_key` is the value's index key (text
//! without case unless the attribute is case-exact, numbers in their order-preserving key, any
//! element of a list), so it matches exactly the users a SCIM filter `eq` finds. Roles move live:
//! every write of a user's attribute values recomputes that user's roles in its transaction, and
//! creating or deleting a rule recomputes the users it matches. A rule never grants `admin`: an
//! IdP attribute is not how anyone becomes, or stops being, an administrator of Roster.

use diesel::prelude::*;
use roster_domain::attributes::{coerce, index_keys, AttrValue, RawScalar};
use roster_domain::{
    Action, Actor, AttributeId, AttributeRuleId, DomainError, NewAuditEvent, RoleName, Timestamp,
    WorkspaceId, ADMIN_ROLE,
};

use super::{corrupt, record_audit};
use crate::error::conflict_on;
use crate::schema::{attribute_definitions, attribute_role_rules, roles, user_attribute_values};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// A rule as listed: the attribute and role by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeRoleRule {
    pub id: AttributeRuleId,
    pub attribute_id: AttributeId,
    pub attribute: String,
    /// As the admin typed it.
    pub value: String,
    pub role: RoleName,
    pub created_at: Timestamp,
}

/// The users of the workspace whose `attribute_id` value has `value_key`.
pub(crate) fn users_matching(
    conn: &mut DbConnection,
    attribute_id: &str,
    value_key: &str,
) -> StoreResult<Vec<String>> {
    Ok(user_attribute_values::table
        .filter(user_attribute_values::attribute_id.eq(attribute_id))
        .filter(user_attribute_values::sort_key.eq(value_key))
        .select(user_attribute_values::user_id)
        .distinct()
        .load(conn)?)
}

/// Whether the workspace has any rule at all: the one check a role recomputation makes before
/// it reads each user's lifecycle and rule roles (most workspaces have no rules, and a group
/// PATCH recomputes every member it adds).
pub(crate) fn workspace_has_rules(
    conn: &mut DbConnection,
    workspace_id: WorkspaceId,
) -> StoreResult<bool> {
    let rules = attribute_role_rules::table
        .inner_join(
            attribute_definitions::table
                .on(attribute_definitions::id.eq(attribute_role_rules::attribute_id)),
        )
        .filter(attribute_definitions::workspace_id.eq(workspace_id.to_string()))
        .select(attribute_role_rules::id);
    Ok(diesel::select(diesel::dsl::exists(rules)).get_result(conn)?)
}

/// The roles the rules grant a user (by role id), through their indexed values.
pub(crate) fn rule_roles(conn: &mut DbConnection, user_id: &str) -> StoreResult<Vec<String>> {
    Ok(attribute_role_rules::table
        .inner_join(
            user_attribute_values::table.on(user_attribute_values::attribute_id
                .eq(attribute_role_rules::attribute_id)
                .and(user_attribute_values::sort_key.eq(attribute_role_rules::value_key))),
        )
        .filter(user_attribute_values::user_id.eq(user_id))
        .select(attribute_role_rules::role_id)
        .distinct()
        .load(conn)?)
}

fn invalid(reason: impl Into<String>) -> StoreError {
    StoreError::Invalid(DomainError::InvalidValue {
        field: "rule",
        reason: reason.into(),
    })
}

impl Store {
    /// The workspace's rules, oldest first.
    pub fn attribute_role_rules(
        &self,
        workspace_id: WorkspaceId,
    ) -> StoreResult<Vec<AttributeRoleRule>> {
        self.read(|conn| {
            let rows: Vec<(String, String, String, String, String, i64)> =
                attribute_role_rules::table
                    .inner_join(attribute_definitions::table)
                    .inner_join(roles::table.on(roles::id.eq(attribute_role_rules::role_id)))
                    .filter(attribute_role_rules::workspace_id.eq(workspace_id.to_string()))
                    .order((
                        attribute_role_rules::created_at.asc(),
                        attribute_role_rules::id.asc(),
                    ))
                    .select((
                        attribute_role_rules::id,
                        attribute_role_rules::attribute_id,
                        attribute_definitions::name,
                        attribute_role_rules::value,
                        roles::name,
                        attribute_role_rules::created_at,
                    ))
                    .load(conn)?;
            rows.into_iter()
                .map(|(id, attribute_id, attribute, value, role, created_at)| {
                    let bad = corrupt("attribute_role_rules");
                    Ok(AttributeRoleRule {
                        id: id.parse().map_err(&bad)?,
                        attribute_id: attribute_id.parse().map_err(&bad)?,
                        attribute,
                        value,
                        role: RoleName::parse(&role).map_err(&bad)?,
                        created_at: Timestamp::from_micros(created_at),
                    })
                })
                .collect()
        })
    }

    /// Creates a rule: `attribute` (by name) `= value` grants `role` (by name). The value is typed
    /// against the attribute (`Invalid` when it does not fit, or for the admin role); the same
    /// rule twice is a `Conflict`. The users it matches get the role in the same transaction
    /// (`user.roles_changed`). Audited as `attribute_rule.created`.
    pub fn create_attribute_role_rule(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        attribute: &str,
        value: &str,
        role: &RoleName,
    ) -> StoreResult<AttributeRoleRule> {
        if role.as_str().eq_ignore_ascii_case(ADMIN_ROLE) {
            return Err(invalid(
                "a rule cannot grant admin: assign it, or map an IdP group to it",
            ));
        }
        self.write(|conn| {
            let definition = super::attributes::load_definitions(conn, workspace_id)?
                .into_iter()
                .find(|d| d.name.key() == attribute.to_ascii_lowercase())
                .ok_or_else(|| {
                    invalid(format!("the workspace declares no attribute {attribute:?}"))
                })?;
            let role_row = super::role::find_role_by_name(conn, workspace_id, role.as_str())?;
            let typed = match coerce(definition.kind, &[RawScalar::Text(value.to_owned())]) {
                Ok(Some(typed)) => typed,
                Ok(None) => return Err(invalid("the value is blank")),
                Err(err) => return Err(invalid(format!("the value {err}"))),
            };
            let value_key = match typed {
                AttrValue::List(items) if items.len() != 1 => {
                    return Err(invalid("a rule matches one value"))
                }
                typed => index_keys(&typed, definition.case_exact)
                    .into_iter()
                    .next()
                    .ok_or_else(|| invalid("the value is blank"))?,
            };
            let id = AttributeRuleId::new();
            let now = Timestamp::now();
            diesel::insert_into(attribute_role_rules::table)
                .values((
                    attribute_role_rules::id.eq(id.to_string()),
                    attribute_role_rules::workspace_id.eq(workspace_id.to_string()),
                    attribute_role_rules::attribute_id.eq(definition.id.to_string()),
                    attribute_role_rules::value.eq(value.trim()),
                    attribute_role_rules::value_key.eq(&value_key),
                    attribute_role_rules::role_id.eq(role_row.id.to_string()),
                    attribute_role_rules::created_at.eq(now.as_micros()),
                ))
                .execute(conn)
                .map_err(|err| {
                    conflict_on(
                        err,
                        "attribute rule",
                        &[("value_key", "this rule already exists")],
                    )
                })?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("attribute_rule.created"),
                    target_kind: "attribute_rule",
                    target_id: id.to_string(),
                    detail: serde_json::json!({
                        "attribute": definition.name.as_str(),
                        "value": value.trim(),
                        "role": role.as_str(),
                    })
                    .to_string(),
                },
            )?;
            let users = users_matching(conn, &definition.id.to_string(), &value_key)?;
            let cause = serde_json::json!({ "attribute_rule": id.to_string() });
            super::mapping::recompute_roles(conn, actor, workspace_id, &users, &cause)?;
            Ok(AttributeRoleRule {
                id,
                attribute_id: definition.id,
                attribute: definition.name.to_string(),
                value: value.trim().to_owned(),
                role: role.clone(),
                created_at: now,
            })
        })
    }

    /// Deletes a rule of the workspace (`NotFound` for another's); the users it matched lose the
    /// role unless something else grants it, in the same transaction. Audited as
    /// `attribute_rule.deleted`.
    pub fn delete_attribute_role_rule(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        id: AttributeRuleId,
    ) -> StoreResult<()> {
        self.write(|conn| {
            let (attribute_id, value_key, value): (String, String, String) =
                attribute_role_rules::table
                    .filter(attribute_role_rules::workspace_id.eq(workspace_id.to_string()))
                    .filter(attribute_role_rules::id.eq(id.to_string()))
                    .select((
                        attribute_role_rules::attribute_id,
                        attribute_role_rules::value_key,
                        attribute_role_rules::value,
                    ))
                    .first(conn)
                    .optional()?
                    .ok_or(StoreError::NotFound {
                        what: "attribute rule",
                    })?;
            diesel::delete(attribute_role_rules::table.find(id.to_string())).execute(conn)?;
            record_audit(
                conn,
                &NewAuditEvent {
                    workspace_id: Some(workspace_id),
                    actor: actor.clone(),
                    action: Action("attribute_rule.deleted"),
                    target_kind: "attribute_rule",
                    target_id: id.to_string(),
                    detail: serde_json::json!({ "value": value }).to_string(),
                },
            )?;
            let users = users_matching(conn, &attribute_id, &value_key)?;
            let cause = serde_json::json!({ "attribute_rule": id.to_string() });
            super::mapping::recompute_roles(conn, actor, workspace_id, &users, &cause)
        })
    }
}
