//! Groups and their manual members. IdP groups belong to the IdP; an app group that a mapping
//! fills is the mapping's: the policy decides which members an admin may change.

use actix_web::{web, HttpResponse};
use roster_policy::admin::{Action, Target};
use roster_store::domain::{GroupId, Provenance, UserId, WorkspaceId};
use roster_store::{GroupResource, Store};
use serde::{Deserialize, Serialize};

use crate::auth::permit::require_read;
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::params::{parse_id, ListQuery, PAGE};

/// A group, and whether a mapping fills it (then its members are the mapping's).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct GroupView {
    #[serde(flatten)]
    pub group: GroupResource,
    pub mapped: bool,
}

/// A page of groups: `next` is the `after` of the next page, null on the last.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct GroupPage {
    pub groups: Vec<GroupView>,
    pub next: Option<String>,
}

/// The answer of `POST /groups/{id}/members`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MemberAdded {
    /// False when the user already was a manual member.
    pub added: bool,
}

/// `GET /groups?q=&after=&limit=`.
pub async fn list_groups(
    principal: Principal,
    store: web::Data<Store>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(PAGE).clamp(1, 1000);
    let body = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        let page = store.admin_groups(
            permit.workspace_id(),
            query.q.as_deref(),
            query.after.as_deref(),
            limit,
        )?;
        let mut groups = Vec::with_capacity(page.items.len());
        for group in &page.items {
            groups.push(GroupView {
                group: GroupResource::from(group),
                mapped: store.is_mapped_group(permit.workspace_id(), group.id)?,
            });
        }
        Ok::<_, AdminError>(GroupPage {
            groups,
            next: page.next,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

fn member_target(
    store: &Store,
    workspace_id: WorkspaceId,
    group_id: GroupId,
) -> Result<Target, AdminError> {
    let group = store.group(workspace_id, group_id)?;
    Ok(match group.kind {
        roster_store::domain::GroupKind::Idp => Target::IdpGroup,
        roster_store::domain::GroupKind::App => Target::AppGroup {
            mapped: store.is_mapped_group(workspace_id, group_id)?,
        },
    })
}

/// The body of `POST /groups/{id}/members`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddMember {
    user_id: String,
}

/// `POST /groups/{id}/members`: adds a manual member.
pub async fn add_member(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
    body: web::Json<AddMember>,
) -> Result<HttpResponse, AdminError> {
    let group_id: GroupId = parse_id(&id, "group")?;
    let user_id: UserId = parse_id(&body.user_id, "user")?;
    let added = roster_store::blocking(move || {
        let read = require_read(&store, &principal)?;
        let target = member_target(&store, read.workspace_id(), group_id)?;
        let permit = read.require(Action::EditGroupMembers, target)?;
        Ok::<_, AdminError>(store.add_group_member(
            permit.actor(),
            permit.workspace_id(),
            group_id,
            user_id,
            Provenance::Manual,
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(MemberAdded { added }))
}

/// `DELETE /groups/{id}/members/{userId}`: removes a manual membership.
pub async fn remove_member(
    principal: Principal,
    store: web::Data<Store>,
    path: web::Path<crate::params::MemberPath>,
) -> Result<HttpResponse, AdminError> {
    let crate::params::MemberPath { id: group, user } = path.into_inner();
    let group_id: GroupId = parse_id(&group, "group")?;
    let user_id: UserId = parse_id(&user, "user")?;
    roster_store::blocking(move || {
        let read = require_read(&store, &principal)?;
        let target = member_target(&store, read.workspace_id(), group_id)?;
        let permit = read.require(Action::EditGroupMembers, target)?;
        if store.remove_manual_member(permit.actor(), permit.workspace_id(), group_id, user_id)? {
            Ok(())
        } else {
            Err(AdminError::not_found(
                "no manual membership of that user in that group",
            ))
        }
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get("/groups", "listGroups", "Groups with search and pagination")
        .query(schema::<ListQuery>)
        .answers(200, schema::<GroupPage>),
    Operation::post(
        "/groups/{id}/members",
        "addGroupMember",
        "Add a manual member",
    )
    .body(schema::<AddMember>)
    .answers(200, schema::<MemberAdded>),
    Operation::delete(
        "/groups/{id}/members/{user}",
        "removeGroupMember",
        "Remove a manual member",
    ),
];
