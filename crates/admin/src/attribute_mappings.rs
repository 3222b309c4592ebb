//! `/connections/{id}/attribute-mappings`: where a connection's IdP sends each custom attribute
//! (issue #28). Most admins map nothing: a standard attribute takes its vendor's default and an
//! attribute of a declared SCIM extension its own path. An admin overrides one attribute for
//! one protocol with a list of sources (the first with a value wins), turns it off with `[]`,
//! or goes back to the default with `null`. Changes apply from the next login or SCIM write.

use actix_web::{web, HttpResponse};
use roster_policy::admin::Action;
use roster_store::domain::attributes::{check_sources, AttributeKind, Protocol};
use roster_store::domain::{AttributeId, ConnectionId, ConnectionKind};
use roster_store::{AttributeMapping, Store};
use serde::{Deserialize, Serialize};

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::params::{parse_id, AttributeMappingPath, IdPath};

/// Where one attribute comes from, for one protocol.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttributeMappingView {
    pub attribute_id: String,
    pub attribute: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `saml`, `oidc` or `scim`.
    pub protocol: &'static str,
    /// SAML attribute names, OIDC claim paths or SCIM paths, in order of preference.
    pub sources: Vec<String>,
    /// `custom` (set here), `default` (the vendor's), `extension` (a declared SCIM extension's
    /// own path) or `none`.
    pub origin: &'static str,
}

impl AttributeMappingView {
    fn of(mapping: &AttributeMapping, protocol: Protocol) -> Self {
        AttributeMappingView {
            attribute_id: mapping.definition.id.to_string(),
            attribute: mapping.definition.name.to_string(),
            kind: AttributeKind::as_str(mapping.definition.kind),
            protocol: protocol.as_str(),
            sources: mapping.sources.clone(),
            origin: mapping.origin.as_str(),
        }
    }
}

/// The answer of `GET /connections/{id}/attribute-mappings`: for each attribute, its sources for
/// the connection's login protocol (a SAML or OIDC connection) and for SCIM.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AttributeMappingList {
    pub mappings: Vec<AttributeMappingView>,
}

/// The body of `PUT /connections/{id}/attribute-mappings/{attribute}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingEdit {
    /// `saml`, `oidc` or `scim`.
    pub protocol: String,
    /// The sources in order of preference; `[]` maps nothing; `null` goes back to the default.
    pub sources: Option<Vec<String>>,
}

/// The protocols a connection of `kind` brings attributes by.
fn protocols_of(kind: ConnectionKind) -> &'static [Protocol] {
    match kind {
        ConnectionKind::Saml => &[Protocol::Saml, Protocol::Scim],
        ConnectionKind::Oidc => &[Protocol::Oidc, Protocol::Scim],
        ConnectionKind::Scim => &[Protocol::Scim],
    }
}

/// `GET /connections/{id}/attribute-mappings`.
pub async fn list(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<IdPath>,
) -> Result<HttpResponse, AdminError> {
    let connection_id: ConnectionId = parse_id(&id, "connection")?;
    let mappings = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        let connection = store.connection(permit.workspace_id(), connection_id)?;
        let mut views = Vec::new();
        for protocol in protocols_of(connection.kind) {
            for mapping in
                store.attribute_mappings(permit.workspace_id(), connection_id, *protocol)?
            {
                views.push(AttributeMappingView::of(&mapping, *protocol));
            }
        }
        Ok::<_, AdminError>(views)
    })
    .await?;
    Ok(HttpResponse::Ok().json(AttributeMappingList { mappings }))
}

/// `PUT /connections/{id}/attribute-mappings/{attribute}`: 200 with the mapping now in force;
/// 400 `validation` for a protocol the connection does not speak or a bad source list; 404 for
/// an unknown connection or attribute. Audited as `connection.attribute_mapping_set`.
pub async fn set(
    principal: Principal,
    store: web::Data<Store>,
    path: web::Path<AttributeMappingPath>,
    body: web::Json<MappingEdit>,
) -> Result<HttpResponse, AdminError> {
    let AttributeMappingPath { id, attribute } = path.into_inner();
    let connection_id: ConnectionId = parse_id(&id, "connection")?;
    let attribute_id: AttributeId = parse_id(&attribute, "attribute")?;
    let MappingEdit { protocol, sources } = body.into_inner();
    let protocol = Protocol::parse(&protocol)
        .map_err(|_| AdminError::validation("protocol: one of saml, oidc, scim"))?;
    let sources = sources
        .map(|sources| check_sources(&sources))
        .transpose()
        .map_err(|err| AdminError::validation(err.to_string()))?;
    let (mapping, protocol) = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageAttributes)?;
        let connection = store.connection(permit.workspace_id(), connection_id)?;
        if !protocols_of(connection.kind).contains(&protocol) {
            return Err(AdminError::validation(format!(
                "protocol: a {} connection brings no {} attributes",
                connection.kind.as_str(),
                protocol.as_str()
            )));
        }
        let mapping = store.set_attribute_mapping(
            permit.actor(),
            permit.workspace_id(),
            connection_id,
            attribute_id,
            protocol,
            sources,
        )?;
        Ok::<_, AdminError>((mapping, protocol))
    })
    .await?;
    Ok(HttpResponse::Ok().json(AttributeMappingView::of(&mapping, protocol)))
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/connections/{id}/attribute-mappings",
        "listAttributeMappings",
        "Where the connection's IdP sends each custom attribute, per protocol",
    )
    .answers(200, schema::<AttributeMappingList>),
    Operation::put(
        "/connections/{id}/attribute-mappings/{attribute}",
        "setAttributeMapping",
        "Override (or reset with null) where the IdP sends one attribute for one protocol",
    )
    .body(schema::<MappingEdit>)
    .answers(200, schema::<AttributeMappingView>),
];
