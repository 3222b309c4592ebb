//! Users as workspace admins see and manage them: list and search, one user with the actions
//! the policy allows on them (so the console never offers what would be refused), invite, enable
//! and disable. The lockout rules (nobody disables themselves or the last active admin) are the
//! policy's, asked through a permit ([`crate::auth::permit`]).

use std::collections::BTreeSet;

use actix_web::{web, HttpResponse};
use roster_policy::admin::Action;
use roster_store::domain::{ConnectionId, Email, LifecycleEvent, Source, User, UserId, UserName};
use roster_store::{NewUser, Store, UserResource};
use serde::{Deserialize, Serialize};

use crate::auth::permit::{require, require_read, Permit, Read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::params::{parse_id, Allowance, PAGE};

/// A user with what the caller may do to them.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    #[serde(flatten)]
    pub user: UserResource,
    pub actions: UserActions,
}

/// What the console may offer for a user: each action with whether the policy allows it and why
/// not.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserActions {
    pub edit_profile: Allowance,
    pub enable: Allowance,
    pub disable: Allowance,
    pub delete: Allowance,
    pub sign_out_everywhere: Allowance,
}

/// A page of users: `next` is the `after` of the next page, null on the last.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct UserPage {
    pub users: Vec<UserView>,
    pub next: Option<String>,
}

impl UserView {
    /// `active_admins`: the workspace's, for the lockout rules.
    fn new(permit: &Permit<Read>, user: &User, active_admins: &BTreeSet<UserId>) -> Self {
        let target = permit.user_target(user, active_admins);
        let allowance = |action| Allowance::from(permit.describe(action, target));
        UserView {
            user: UserResource::from(user),
            actions: UserActions {
                edit_profile: allowance(Action::EditProfile),
                enable: allowance(Action::EnableUser),
                disable: allowance(Action::DisableUser),
                delete: allowance(Action::DeleteUser),
                sign_out_everywhere: allowance(Action::SignOutEverywhere),
            },
        }
    }
}

/// `GET /users?q=&after=&limit=&managedBy=&attribute=&value=`: users with what the admin may do
/// to each.
pub async fn list_users(
    principal: Principal,
    store: web::Data<Store>,
    query: web::Query<UserListQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(PAGE).clamp(1, 1000);
    let managed_by: Option<ConnectionId> = query
        .managed_by
        .as_deref()
        .map(|id| parse_id(id, "connection"))
        .transpose()?;
    // A setup session watches the users its IdP provisions, not the workspace's directory.
    if principal.setup_link().is_some() && managed_by.is_none() {
        return Err(AdminError::validation(
            "a setup session lists the users one connection provisions: send managedBy=CONNECTION_ID",
        )
        .with_detail(serde_json::json!({ "field": "managedBy" })));
    }
    if query.attribute.is_some() != query.value.is_some() {
        let field = if query.attribute.is_some() {
            "value"
        } else {
            "attribute"
        };
        return Err(AdminError::validation(format!(
            "{field}: attribute and value filter together (attribute=NAME&value=VALUE)"
        ))
        .with_detail(serde_json::json!({ "field": field })));
    }
    let body = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        let attribute = match (query.attribute.as_deref(), query.value.as_deref()) {
            (Some(name), Some(value)) => Some(crate::attributes::user_filter(
                &store.attribute_definitions(permit.workspace_id())?,
                name,
                value,
            )?),
            _ => None,
        };
        let page = store.admin_users_managed_by(
            permit.workspace_id(),
            managed_by,
            attribute.as_ref(),
            query.q.as_deref(),
            query.after.as_deref(),
            limit,
        )?;
        let admins = store.active_admins(permit.workspace_id())?;
        let users = page
            .items
            .iter()
            .map(|u| UserView::new(&permit, u, &admins))
            .collect();
        Ok::<_, AdminError>(UserPage {
            users,
            next: page.next,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Query parameters of `GET /users`: the listings' own, the connection whose provisioned users
/// to list (required of a setup session), and a custom attribute's value to filter by.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserListQuery {
    pub q: Option<String>,
    pub after: Option<String>,
    pub limit: Option<i64>,
    /// Only the users this connection manages (provisioned by SCIM or adopted).
    pub managed_by: Option<String>,
    /// With `value`: only the users holding `value` for this declared custom attribute.
    pub attribute: Option<String>,
    /// With `attribute`: the value to look for, typed against the attribute (text compares
    /// without case unless the attribute is case-exact; a `string_list` matches any element).
    pub value: Option<String>,
}

/// `GET /users/{id}`: one user with what the admin may do to them (the console's user page).
pub async fn get_user(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let id: UserId = parse_id(&id, "user")?;
    let body = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        let user = store.user(permit.workspace_id(), id)?;
        let admins = store.active_admins(permit.workspace_id())?;
        Ok::<_, AdminError>(UserView::new(&permit, &user, &admins))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// The body of `POST /users`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Invite {
    email: String,
    user_name: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
}

/// `POST /users`: invites a user (refused while SCIM provisions users).
pub async fn invite(
    principal: Principal,
    store: web::Data<Store>,
    body: web::Json<Invite>,
) -> Result<HttpResponse, AdminError> {
    let body = body.into_inner();
    let email = Email::parse(&body.email).map_err(|err| AdminError::validation(err.to_string()))?;
    let user_name = UserName::parse(body.user_name.as_deref().unwrap_or(email.as_str()))
        .map_err(|err| AdminError::validation(err.to_string()))?;
    let user = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::InviteUser)?;
        let new = NewUser {
            email: Some(email),
            given_name: body.given_name,
            family_name: body.family_name,
            ..NewUser::minimal(permit.workspace_id(), user_name, Source::Invited)
        };
        Ok::<_, AdminError>(store.create_user(permit.actor(), &new)?)
    })
    .await?;
    Ok(HttpResponse::Created().json(UserResource::from(&user)))
}

/// Enables or disables a user. The policy decides on the user as it is now and on the
/// workspace's active admins (nobody disables themselves or the last active admin).
async fn lifecycle(
    principal: Principal,
    store: web::Data<Store>,
    id: String,
    action: Action,
    event: LifecycleEvent,
) -> Result<HttpResponse, AdminError> {
    let id: UserId = parse_id(&id, "user")?;
    let user = roster_store::blocking(move || {
        let read = require_read(&store, &principal)?;
        let user = store.user(read.workspace_id(), id)?;
        let admins = store.active_admins(read.workspace_id())?;
        let permit = read.require(action, read.user_target(&user, &admins))?;
        Ok::<_, AdminError>(store.change_lifecycle(
            permit.actor(),
            permit.workspace_id(),
            id,
            event,
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(UserResource::from(&user)))
}

/// `POST /users/{id}/disable`: ends the user's sessions at once. Refused for the caller's own
/// account (`self_lockout`) and for the workspace's last active admin (`last_active_admin`).
pub async fn disable(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    lifecycle(
        principal,
        store,
        id.into_inner().into_string(),
        Action::DisableUser,
        LifecycleEvent::Deactivate,
    )
    .await
}

/// `POST /users/{id}/enable`.
pub async fn enable(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    lifecycle(
        principal,
        store,
        id.into_inner().into_string(),
        Action::EnableUser,
        LifecycleEvent::Reactivate,
    )
    .await
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/users",
        "listUsers",
        "Users with search, pagination and allowed actions",
    )
    .query(schema::<UserListQuery>)
    .answers(200, schema::<UserPage>),
    Operation::post(
        "/users",
        "inviteUser",
        "Invite a user (refused while SCIM provisions users)",
    )
    .body(schema::<Invite>)
    .answers(201, schema::<UserResource>),
    Operation::post(
        "/users/{id}/disable",
        "disableUser",
        "Disable a user; sessions end at once",
    )
    .answers(200, schema::<UserResource>),
    Operation::post("/users/{id}/enable", "enableUser", "Enable a user")
        .answers(200, schema::<UserResource>),
    Operation::get(
        "/users/{id}",
        "getUser",
        "One user with the actions the admin may take",
    )
    .answers(200, schema::<UserView>),
];
