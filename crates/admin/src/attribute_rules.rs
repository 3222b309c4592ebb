//! `/attribute-role-rules`: roles granted by attribute values (issue #28), e.g. "department =
//! Finance gives finance-viewer". A rule's roles move live with the values: a SCIM PATCH, a
//! login or an admin edit that changes a user's department recomputes their roles in the same
//! transaction (`user.roles_changed`), and creating or deleting a rule recomputes the users it
//! matches. The same privilege as mapping IdP groups to roles (policy `manage group mappings`);
//! a rule never grants `admin`.

use actix_web::{web, HttpResponse};
use roster_policy::admin::Action;
use roster_store::domain::{AttributeRuleId, RoleName};
use roster_store::{AttributeRoleRule, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::params::{parse_id, IdPath};

/// A rule.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttributeRuleView {
    pub id: String,
    pub attribute_id: String,
    /// The attribute's name.
    pub attribute: String,
    /// The value that grants the role (compared as the attribute compares: without case unless
    /// case-exact; a number as a number; any element of a list).
    pub value: String,
    pub role_name: String,
    pub created_at: String,
}

impl From<&AttributeRoleRule> for AttributeRuleView {
    fn from(rule: &AttributeRoleRule) -> Self {
        AttributeRuleView {
            id: rule.id.to_string(),
            attribute_id: rule.attribute_id.to_string(),
            attribute: rule.attribute.clone(),
            value: rule.value.clone(),
            role_name: rule.role.to_string(),
            created_at: rule.created_at.to_rfc3339(),
        }
    }
}

/// The answer of `GET /attribute-role-rules`, oldest first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AttributeRuleList {
    pub rules: Vec<AttributeRuleView>,
}

/// The body of `POST /attribute-role-rules`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAttributeRule {
    /// A declared attribute's name.
    pub attribute: String,
    /// The value, typed against the attribute (`"42"` for a number, `"true"` for a boolean).
    pub value: String,
    /// An existing role other than `admin`.
    pub role_name: String,
}

/// `GET /attribute-role-rules`.
pub async fn list(
    principal: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    let rules = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.attribute_role_rules(permit.workspace_id())?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(AttributeRuleList {
        rules: rules.iter().map(AttributeRuleView::from).collect(),
    }))
}

/// `POST /attribute-role-rules`: 201 with the rule; the users it matches hold the role at once.
/// 400 `validation` for an undeclared attribute, a value that does not fit it, an unknown role
/// or `admin`; 409 `conflict` for the same rule twice. Audited as `attribute_rule.created`.
pub async fn create(
    principal: Principal,
    store: web::Data<Store>,
    body: web::Json<NewAttributeRule>,
) -> Result<HttpResponse, AdminError> {
    let NewAttributeRule {
        attribute,
        value,
        role_name,
    } = body.into_inner();
    let role = RoleName::parse(&role_name)
        .map_err(|err| AdminError::validation(format!("roleName: {err}")))?;
    let created = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageGroupMappings)?;
        store
            .create_attribute_role_rule(
                permit.actor(),
                permit.workspace_id(),
                &attribute,
                &value,
                &role,
            )
            .map_err(|err| match err {
                StoreError::NotFound { what: "role" } => {
                    AdminError::validation(format!("roleName: no role {:?}", role.as_str()))
                }
                other => other.into(),
            })
    })
    .await?;
    Ok(HttpResponse::Created().json(AttributeRuleView::from(&created)))
}

/// `DELETE /attribute-role-rules/{id}`: 204; the users it matched lose the role unless something
/// else grants it. Audited as `attribute_rule.deleted`.
pub async fn delete(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<IdPath>,
) -> Result<HttpResponse, AdminError> {
    let id: AttributeRuleId = parse_id(&id, "attribute rule")?;
    roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageGroupMappings)?;
        Ok::<_, AdminError>(store.delete_attribute_role_rule(
            permit.actor(),
            permit.workspace_id(),
            id,
        )?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/attribute-role-rules",
        "listAttributeRoleRules",
        "The roles granted by attribute values",
    )
    .answers(200, schema::<AttributeRuleList>),
    Operation::post(
        "/attribute-role-rules",
        "createAttributeRoleRule",
        "Grant a role to every user with an attribute value",
    )
    .body(schema::<NewAttributeRule>)
    .answers(201, schema::<AttributeRuleView>),
    Operation::delete(
        "/attribute-role-rules/{id}",
        "deleteAttributeRoleRule",
        "Delete an attribute role rule",
    ),
];
