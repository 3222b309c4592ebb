//! Users, groups, connections and tokens as workspace admins manage them, every route asked of
//! the one policy (`roster_policy::admin::allowed`) first, through a permit
//! ([`crate::auth::permit`]): a refusal is a 403 whose `detail` carries the policy's code and
//! reason, and nothing is read or written.

use std::collections::BTreeSet;

use actix_web::{web, HttpResponse};
use roster_policy::admin::{Action, Decision, Target};
use roster_store::domain::{
    ConnectionId, Email, GroupId, LifecycleEvent, Provenance, Source, Timestamp, User, UserId,
    UserName, WorkspaceId,
};
use roster_store::{NewUser, Store};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::permit::{require, require_read, Permit, Read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::AdminSettings;

const PAGE: i64 = 100;

pub(crate) fn parse_id<T: std::str::FromStr>(id: &str, what: &str) -> Result<T, AdminError> {
    id.parse()
        .map_err(|_| AdminError::not_found(format!("{what} {id:?} not found")))
}

fn user_json(user: &User, actions: Value) -> Value {
    let mut out = roster_store::user_json(user);
    out["actions"] = actions;
    out
}

/// What the console may offer for a user: each action with whether it is allowed and why not
/// (`active_admins`: the workspace's, for the lockout rules).
fn user_actions(permit: &Permit<Read>, user: &User, active_admins: &BTreeSet<UserId>) -> Value {
    let target = permit.user_target(user, active_admins);
    let describe = |action| match permit.describe(action, target) {
        Decision::Allowed => json!({ "allowed": true }),
        Decision::Refused(r) => json!({ "allowed": false, "refusal": r.code, "reason": r.reason }),
    };
    json!({
        "editProfile": describe(Action::EditProfile),
        "enable": describe(Action::EnableUser),
        "disable": describe(Action::DisableUser),
        "delete": describe(Action::DeleteUser),
        "signOutEverywhere": describe(Action::SignOutEverywhere),
    })
}

/// Query parameters of the listings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    q: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

/// `GET /users?q=&after=&limit=`: users with what the admin may do to each.
pub async fn list_users(
    principal: Principal,
    store: web::Data<Store>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(PAGE).clamp(1, 1000);
    let body = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        let page = store.admin_users(
            permit.workspace_id(),
            query.q.as_deref(),
            query.after.as_deref(),
            limit,
        )?;
        let admins = store.active_admins(permit.workspace_id())?;
        let users: Vec<Value> = page
            .items
            .iter()
            .map(|u| user_json(u, user_actions(&permit, u, &admins)))
            .collect();
        Ok::<_, AdminError>(json!({ "users": users, "next": page.next }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /users/{id}`: one user with what the admin may do to them (the console's user page).
pub async fn get_user(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id: UserId = parse_id(&id, "user")?;
    let body = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        let user = store.user(permit.workspace_id(), id)?;
        let admins = store.active_admins(permit.workspace_id())?;
        Ok::<_, AdminError>(user_json(&user, user_actions(&permit, &user, &admins)))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// The body of `POST /users`.
#[derive(Debug, Deserialize)]
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
    Ok(HttpResponse::Created().json(roster_store::user_json(&user)))
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
    Ok(HttpResponse::Ok().json(roster_store::user_json(&user)))
}

/// `POST /users/{id}/disable`: ends the user's sessions at once. Refused for the caller's own
/// account (`self_lockout`) and for the workspace's last active admin (`last_active_admin`).
pub async fn disable(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    lifecycle(
        principal,
        store,
        id.into_inner(),
        Action::DisableUser,
        LifecycleEvent::Deactivate,
    )
    .await
}

/// `POST /users/{id}/enable`.
pub async fn enable(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    lifecycle(
        principal,
        store,
        id.into_inner(),
        Action::EnableUser,
        LifecycleEvent::Reactivate,
    )
    .await
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
            let mut out = roster_store::group_json(group);
            out["mapped"] = json!(store.is_mapped_group(permit.workspace_id(), group.id)?);
            groups.push(out);
        }
        Ok::<_, AdminError>(json!({ "groups": groups, "next": page.next }))
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
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddMember {
    user_id: String,
}

/// `POST /groups/{id}/members`: adds a manual member.
pub async fn add_member(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<String>,
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
    Ok(HttpResponse::Ok().json(json!({ "added": added })))
}

/// `DELETE /groups/{id}/members/{userId}`: removes a manual membership.
pub async fn remove_member(
    principal: Principal,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (group, user) = path.into_inner();
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

/// `GET /connections`.
pub async fn list_connections(
    principal: Principal,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
) -> Result<HttpResponse, AdminError> {
    let list = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.list_connections(permit.workspace_id())?)
    })
    .await?;
    let connections: Vec<Value> = list
        .iter()
        .map(|c| {
            let mut out = roster_store::connection_json(c);
            out["lastSyncAt"] = json!(c.last_sync_at.map(|at| at.to_rfc3339()));
            out["scimBaseUrl"] = json!(format!("{}/scim/v2", settings.public_url));
            out
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "connections": connections })))
}

/// The body of `PUT /connections/{id}/scim`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScimSwitch {
    enabled: bool,
}

/// `PUT /connections/{id}/scim`: "Automate provisioning with SCIM" on or off.
pub async fn set_scim(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<String>,
    body: web::Json<ScimSwitch>,
) -> Result<HttpResponse, AdminError> {
    let id: ConnectionId = parse_id(&id, "connection")?;
    let enabled = body.enabled;
    let connection = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ToggleScim)?;
        Ok::<_, AdminError>(store.set_connection_scim(
            permit.actor(),
            permit.workspace_id(),
            id,
            enabled,
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(roster_store::connection_json(&connection)))
}

/// `GET /sso-enforcement`: whether SSO is enforced, and whether the caller may change that —
/// the policy's answer for `toggle SSO enforcement`, so the console can disable its control and
/// say why (a password session or an API key would lock itself out).
pub async fn sso_enforcement(
    principal: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    let body = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        let workspace = store.workspace(permit.workspace_id())?;
        let change = match permit.describe(Action::ToggleSsoEnforcement, Target::Workspace) {
            Decision::Allowed => json!({ "allowed": true }),
            Decision::Refused(r) => {
                json!({ "allowed": false, "refusal": r.code, "reason": r.reason })
            }
        };
        Ok::<_, AdminError>(json!({ "ssoEnforced": workspace.sso_enforced, "change": change }))
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Debug, Deserialize)]
pub struct SsoEnforcement {
    enforced: bool,
}

/// `PUT /sso-enforcement`: when on, password logins of this workspace's users are refused.
pub async fn set_sso_enforcement(
    principal: Principal,
    store: web::Data<Store>,
    body: web::Json<SsoEnforcement>,
) -> Result<HttpResponse, AdminError> {
    let enforced = body.enforced;
    let workspace = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ToggleSsoEnforcement)?;
        Ok::<_, AdminError>(store.set_sso_enforced(
            permit.actor(),
            permit.workspace_id(),
            enforced,
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "ssoEnforced": workspace.sso_enforced })))
}

/// `GET /connections/{id}/tokens`: the tokens (never their secrets).
pub async fn list_tokens(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id: ConnectionId = parse_id(&id, "connection")?;
    let tokens = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        store.connection(permit.workspace_id(), id)?;
        Ok::<_, AdminError>(store.list_scim_tokens(permit.workspace_id(), id)?)
    })
    .await?;
    let list: Vec<Value> = tokens
        .iter()
        .map(|t| {
            json!({
                "id": t.id.to_string(), "name": t.name, "hint": t.hint,
                "createdAt": t.created_at.to_rfc3339(),
                "expiresAt": t.expires_at.map(|at| at.to_rfc3339()),
                "lastUsedAt": t.last_used_at.map(|at| at.to_rfc3339()),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "tokens": list })))
}

/// The body of `POST /connections/{id}/tokens`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewToken {
    name: Option<String>,
    expires_in_days: Option<u32>,
}

/// `POST /connections/{id}/tokens`: a new SCIM token, shown once with the base URL to paste.
pub async fn create_token(
    principal: Principal,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
    id: web::Path<String>,
    body: web::Json<NewToken>,
) -> Result<HttpResponse, AdminError> {
    let id: ConnectionId = parse_id(&id, "connection")?;
    let body = body.into_inner();
    let name = body.name.unwrap_or_else(|| "console".to_owned());
    if name.trim().is_empty() || name.len() > 100 {
        return Err(AdminError::validation("name must have 1 to 100 characters"));
    }
    let expires_at = roster_store::domain::token_expiry(Timestamp::now(), body.expires_in_days)
        .map_err(|err| AdminError::validation(format!("expiresInDays: {err}")))?;
    let (info, secret) = roster_store::blocking(move || {
        let read = require_read(&store, &principal)?;
        let connection = store.connection(read.workspace_id(), id)?;
        let permit =
            read.require_for_connection(Action::CreateScimToken, Target::Workspace, &connection)?;
        Ok::<_, AdminError>(store.create_scim_token(
            permit.actor(),
            permit.workspace_id(),
            id,
            &name,
            expires_at,
        )?)
    })
    .await?;
    Ok(HttpResponse::Created().json(json!({
        "id": info.id.to_string(),
        "name": info.name,
        "token": secret.expose(),
        "scimBaseUrl": format!("{}/scim/v2", settings.public_url),
        "expiresAt": info.expires_at.map(|at| at.to_rfc3339()),
    })))
}

/// `DELETE /connections/{id}/tokens/{tokenId}`: requests with it are refused from now on.
pub async fn revoke_token(
    principal: Principal,
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (_, token) = path.into_inner();
    let token_id = parse_id(&token, "token")?;
    roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::RevokeScimToken)?;
        Ok::<_, AdminError>(store.revoke_scim_token(
            permit.actor(),
            permit.workspace_id(),
            token_id,
        )?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Query of the provisioning log.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    connection: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

/// `GET /provisioning-log?connection=&before=&limit=`: SCIM requests, newest first.
pub async fn provisioning_log(
    principal: Principal,
    store: web::Data<Store>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let connection: Option<ConnectionId> = query
        .connection
        .as_deref()
        .map(|c| parse_id(c, "connection"))
        .transpose()?;
    let limit = query.limit.unwrap_or(PAGE).clamp(1, 1000);
    let entries = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.provisioning_log(
            permit.workspace_id(),
            connection,
            query.before,
            limit,
        )?)
    })
    .await?;
    let list: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "seq": e.seq, "connectionId": e.connection_id, "requestId": e.request_id,
                "at": Timestamp::from_micros(e.occurred_at).to_rfc3339(),
                "method": e.method, "path": e.path, "query": e.query, "status": e.status, "durationUs": e.duration_us,
                "resourceId": e.resource_id, "error": e.error,
                "warnings": e.warnings.as_deref().and_then(|w| serde_json::from_str::<Value>(w).ok()),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "entries": list })))
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// Query of the audit trail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    after: Option<i64>,
    before: Option<i64>,
    order: Option<String>,
    limit: Option<i64>,
    format: Option<String>,
}

/// `GET /audit?after=&limit=&format=json|csv`: the audit trail in commit order; with
/// `order=desc` (and `before=SEQ` to page) newest first, as the console's view shows it.
pub async fn audit(
    principal: Principal,
    store: web::Data<Store>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(1000).clamp(1, 10_000);
    let format = query.format.unwrap_or_else(|| "json".to_owned());
    if !matches!(format.as_str(), "json" | "csv") {
        return Err(AdminError::validation("format must be json or csv"));
    }
    let newest_first = match query.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(AdminError::validation("order must be asc or desc")),
    };
    match (newest_first, query.after, query.before) {
        (false, _, Some(_)) => {
            return Err(AdminError::validation(
                "before pages order=desc; in commit order, page with after",
            ))
        }
        (true, Some(_), _) => {
            return Err(AdminError::validation(
                "after pages commit order; with order=desc, page with before",
            ))
        }
        _ => {}
    }
    let events = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        let events = if newest_first {
            store.audit_events_newest_first(permit.workspace_id(), query.before, limit)?
        } else {
            store.audit_events(permit.workspace_id(), query.after, limit)?
        };
        Ok::<_, AdminError>(events)
    })
    .await?;
    if format == "csv" {
        let mut out = String::from(
            "seq,occurred_at,actor_kind,actor_id,action,target_kind,target_id,detail\n",
        );
        for e in &events {
            let row = [
                e.seq.to_string(),
                e.occurred_at.to_rfc3339(),
                e.actor_kind.clone(),
                e.actor_id.clone().unwrap_or_default(),
                e.action.clone(),
                e.target_kind.clone(),
                e.target_id.clone(),
                e.detail.clone(),
            ];
            out.push_str(
                &row.iter()
                    .map(|f| csv_field(f))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                "attachment; filename=\"roster-audit.csv\"",
            ))
            .body(out));
    }
    let list: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "seq": e.seq, "at": e.occurred_at.to_rfc3339(), "actorKind": e.actor_kind, "actorId": e.actor_id,
                "action": e.action, "targetKind": e.target_kind, "targetId": e.target_id,
                "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "events": list })))
}
