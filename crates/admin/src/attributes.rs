//! `/attributes`: the custom attributes a workspace declares (issue #28) — department, title,
//! cost centre, or its own — with their types. `GET /attributes/templates` lists the standard
//! ones, which `POST /attributes {"template": "department"}` declares ready-made. One
//! implementation for both entry points: workspace admins here, the operator under
//! `/api/v1/operator/workspaces/{workspace}/attributes`.

use actix_web::{web, HttpResponse};
use roster_policy::admin::Action;
use roster_store::domain::attributes::{
    coerce, AttrValue, AttributeDefinition, AttributeKind, NewAttributeDefinition, RawScalar,
    StandardAttribute,
};
use roster_store::domain::{AttributeId, UserId};
use roster_store::{raw_scalars, AttributeFilter, Store, UserResource};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::params::{parse_id, IdPath};

/// A declared attribute.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttributeView {
    pub id: String,
    /// What products see in tokens and events; never changes.
    pub name: String,
    pub label: String,
    /// `string`, `number`, `boolean`, `string_list` or `user_ref`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Text compares with its case.
    pub case_exact: bool,
    /// The OpenID Provider may release it to apps.
    pub released: bool,
    /// The standard attribute it was declared from, if any.
    pub standard: Option<&'static str>,
    /// The custom SCIM extension schema it belongs to, if any.
    pub scim_schema: Option<String>,
    pub created_at: String,
}

impl From<&AttributeDefinition> for AttributeView {
    fn from(definition: &AttributeDefinition) -> Self {
        AttributeView {
            id: definition.id.to_string(),
            name: definition.name.to_string(),
            label: definition.label.clone(),
            kind: definition.kind.as_str(),
            case_exact: definition.case_exact,
            released: definition.released,
            standard: definition.standard.map(StandardAttribute::name),
            scim_schema: definition.scim_schema.clone(),
            created_at: definition.created_at.to_rfc3339(),
        }
    }
}

/// The answer of `GET /attributes`, in declaration order.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AttributeList {
    pub attributes: Vec<AttributeView>,
}

/// A standard attribute offered ready-made.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttributeTemplate {
    pub template: &'static str,
    pub label: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Whether the workspace has declared an attribute of this name.
    pub declared: bool,
}

/// The answer of `GET /attributes/templates`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AttributeTemplates {
    pub templates: Vec<AttributeTemplate>,
}

/// The body of `POST /attributes`: a template's name, or a custom attribute.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAttribute {
    /// A standard attribute to declare ready-made (`GET /attributes/templates`); nothing else
    /// may be given with it.
    pub template: Option<String>,
    /// `^[a-z][A-Za-z0-9_]{0,63}$`, unique in the workspace ignoring case.
    pub name: Option<String>,
    /// At most 100 characters; the name when absent.
    pub label: Option<String>,
    /// `string`, `number`, `boolean`, `string_list` or `user_ref`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Default false.
    pub case_exact: Option<bool>,
    /// Default true.
    pub released: Option<bool>,
    /// A custom SCIM extension schema (URN) the attribute belongs to: SCIM clients then write it
    /// as `<urn>:<name>`, typed strictly, and `/Schemas` describes it.
    pub scim_schema: Option<String>,
}

impl NewAttribute {
    fn checked(self) -> Result<NewAttributeDefinition, AdminError> {
        let invalid = |message: String| AdminError::validation(message);
        match (self.template, self.name) {
            (Some(template), None) => {
                if self.label.is_some()
                    || self.kind.is_some()
                    || self.case_exact.is_some()
                    || self.released.is_some()
                    || self.scim_schema.is_some()
                {
                    return Err(invalid(
                        "template: nothing else may be given with a template".to_owned(),
                    ));
                }
                StandardAttribute::parse(&template)
                    .map(NewAttributeDefinition::standard)
                    .ok_or_else(|| {
                        invalid(format!(
                            "template: {template:?} is not one of {}",
                            StandardAttribute::ALL
                                .map(StandardAttribute::name)
                                .join(", ")
                        ))
                    })
            }
            (None, Some(name)) => {
                let kind = self
                    .kind
                    .as_deref()
                    .ok_or_else(|| invalid("type: required with a name".to_owned()))?;
                let kind =
                    AttributeKind::parse(kind).map_err(|err| invalid(format!("type: {err}")))?;
                NewAttributeDefinition::new(
                    &name,
                    self.label.as_deref(),
                    kind,
                    self.case_exact.unwrap_or(false),
                    self.released.unwrap_or(true),
                )
                .and_then(|new| match &self.scim_schema {
                    Some(urn) => new.in_scim_schema(urn),
                    None => Ok(new),
                })
                .map_err(|err| invalid(err.to_string()))
            }
            _ => Err(invalid(
                "give either a template or a name (and a type)".to_owned(),
            )),
        }
    }
}

/// `GET /attributes`.
pub async fn list(
    principal: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    let definitions = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.attribute_definitions(permit.workspace_id())?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(AttributeList {
        attributes: definitions.iter().map(AttributeView::from).collect(),
    }))
}

/// `GET /attributes/templates`: the standard attributes, each saying whether it is declared.
pub async fn templates(
    principal: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    let definitions = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.attribute_definitions(permit.workspace_id())?)
    })
    .await?;
    let templates = StandardAttribute::ALL
        .into_iter()
        .map(|standard| AttributeTemplate {
            template: standard.name(),
            label: standard.label(),
            kind: standard.kind().as_str(),
            declared: definitions
                .iter()
                .any(|definition| definition.name.key() == standard.name().to_ascii_lowercase()),
        })
        .collect();
    Ok(HttpResponse::Ok().json(AttributeTemplates { templates }))
}

/// `POST /attributes`: 201 with the attribute; 400 `validation` for a bad body, 409 `conflict`
/// for a name the workspace has (any case) or past 50 attributes. Audited as
/// `attribute.created`.
pub async fn create(
    principal: Principal,
    store: web::Data<Store>,
    body: web::Json<NewAttribute>,
) -> Result<HttpResponse, AdminError> {
    let new = body.into_inner().checked()?;
    let created = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageAttributes)?;
        Ok::<_, AdminError>(store.create_attribute(permit.actor(), permit.workspace_id(), &new)?)
    })
    .await?;
    Ok(HttpResponse::Created().json(AttributeView::from(&created)))
}

/// `DELETE /attributes/{id}`: 204; 404 for an attribute of another workspace. Audited as
/// `attribute.deleted`.
pub async fn delete(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<IdPath>,
) -> Result<HttpResponse, AdminError> {
    let id: AttributeId = parse_id(&id, "attribute")?;
    roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageAttributes)?;
        Ok::<_, AdminError>(store.delete_attribute(permit.actor(), permit.workspace_id(), id)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The body of `PUT /users/{id}/attributes`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeEdit {
    /// Attribute name → its new value (`null` clears it). Attributes not named keep their
    /// value.
    #[schemars(with = "std::collections::BTreeMap<String, serde_json::Value>")]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// `PUT /users/{id}/attributes`: sets some of a user's attribute values, each typed against its
/// declaration. 200 with the user; a value that does not fit its type, an undeclared attribute or
/// a `user_ref` naming nobody of the workspace is a `400 validation` naming the attribute, and
/// nothing changes. An IdP-managed (SCIM) user is refused as for every profile edit (policy
/// `edit profile`). One `user.updated` event names the changed attributes.
pub async fn set_user_values(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<IdPath>,
    body: web::Json<AttributeEdit>,
) -> Result<HttpResponse, AdminError> {
    let id: UserId = parse_id(&id, "user")?;
    let edit = body.into_inner().attributes;
    let user = roster_store::blocking(move || {
        let read = require_read(&store, &principal)?;
        let user = store.user(read.workspace_id(), id)?;
        let admins = store.active_admins(read.workspace_id())?;
        let permit = read.require(Action::EditProfile, read.user_target(&user, &admins))?;
        let definitions = store.attribute_definitions(permit.workspace_id())?;
        let edits = edits_of(&definitions, edit)?;
        Ok::<_, AdminError>(store.set_user_attributes(
            permit.actor(),
            permit.workspace_id(),
            id,
            &edits,
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(UserResource::from(&user)))
}

/// The edits of `edit`: each named attribute typed against its definition (`null` clears it).
fn edits_of(
    definitions: &[AttributeDefinition],
    edit: serde_json::Map<String, Value>,
) -> Result<Vec<roster_store::AttributeEdit>, AdminError> {
    edit.into_iter()
        .map(|(name, value)| {
            let refused = |why: String| AdminError::validation(format!("attributes.{name}: {why}"));
            let definition = definitions
                .iter()
                .find(|definition| definition.name.key() == name.to_ascii_lowercase())
                .ok_or_else(|| refused("the workspace declares no such attribute".to_owned()))?;
            let raw = raw_scalars(&value).map_err(refused)?;
            let value = coerce(definition.kind, &raw).map_err(|err| refused(err.to_string()))?;
            if let Some(AttrValue::UserRef(id)) = &value {
                id.parse::<UserId>()
                    .map_err(|_| refused(format!("{id:?} is not a user id")))?;
            }
            Ok(roster_store::AttributeEdit {
                definition: definition.clone(),
                value,
            })
        })
        .collect()
}

/// The filter of `GET /users?attribute=NAME&value=VALUE`: the users holding `value` (typed
/// against the declaration, as an edit would be) for the declared attribute `name`. An
/// undeclared attribute, or a value that does not fit its type, is a `400 validation`.
pub(crate) fn user_filter(
    definitions: &[AttributeDefinition],
    name: &str,
    value: &str,
) -> Result<AttributeFilter, AdminError> {
    let refused = |field: &str, why: String| {
        AdminError::validation(format!("{field}: {why}"))
            .with_detail(serde_json::json!({ "field": field }))
    };
    let definition = definitions
        .iter()
        .find(|definition| definition.name.key() == name.to_ascii_lowercase())
        .ok_or_else(|| {
            refused(
                "attribute",
                format!("the workspace declares no attribute {name:?}"),
            )
        })?;
    let typed = coerce(definition.kind, &[RawScalar::Text(value.to_owned())])
        .map_err(|err| refused("value", err.to_string()))?
        .ok_or_else(|| refused("value", "give the value to look for".to_owned()))?;
    Ok(AttributeFilter::new(definition, &typed))
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/attributes",
        "listAttributes",
        "The workspace's custom attributes, in declaration order",
    )
    .answers(200, schema::<AttributeList>),
    Operation::get(
        "/attributes/templates",
        "listAttributeTemplates",
        "The standard attributes offered ready-made, each saying whether it is declared",
    )
    .answers(200, schema::<AttributeTemplates>),
    Operation::post(
        "/attributes",
        "createAttribute",
        "Declare a custom attribute: a template, or a name and a type",
    )
    .body(schema::<NewAttribute>)
    .answers(201, schema::<AttributeView>),
    Operation::delete(
        "/attributes/{id}",
        "deleteAttribute",
        "Delete a custom attribute",
    ),
    Operation::put(
        "/users/{id}/attributes",
        "setUserAttributes",
        "Set some of a user's custom attribute values (null clears one)",
    )
    .body(schema::<AttributeEdit>)
    .answers(200, schema::<UserResource>),
];
