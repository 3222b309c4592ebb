//! Which apps a user is signed into through Roster's OpenID Provider, and "sign out everywhere".
//!
//! An admin who suspects a stolen laptop or a leaked session needs two answers at once: where the
//! user is signed in, and a way to end all of it without disabling the user (who keeps working
//! once they sign in again). The listing shows each live grant (one sign-in of one app) and never
//! a token; signing out ends every Roster session and every grant in one store transaction
//! (`Store::sign_out_everywhere`) and answers with what it ended.

use actix_web::{web, HttpResponse};
use roster_policy::admin::Action;
use roster_store::domain::{Timestamp, UserId};
use roster_store::{SignedInApp, Store};
use serde::Serialize;

use crate::auth::permit::require_read;
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::params::parse_id;

/// One app a user is signed into: one live grant, without any token.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedInAppView {
    /// The grant: one sign-in of the app (a user signed in from two browsers has two).
    grant_id: String,
    app_name: String,
    client_id: String,
    /// The scopes granted.
    scopes: Vec<String>,
    /// Whether the app holds a refresh token that outlives the session (`offline_access`).
    offline: bool,
    /// When the user signed in to the app (RFC 3339).
    since: String,
}

impl From<SignedInApp> for SignedInAppView {
    fn from(app: SignedInApp) -> Self {
        Self {
            grant_id: app.grant_id,
            app_name: app.app_name,
            client_id: app.client_id,
            scopes: app.scope.split_whitespace().map(str::to_owned).collect(),
            offline: app.offline,
            since: app.created_at.to_rfc3339(),
        }
    }
}

/// The answer of `GET /users/{id}/apps`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAppsView {
    user_id: String,
    /// Newest sign-in first.
    apps: Vec<SignedInAppView>,
}

/// The answer of `POST /users/{id}/sign-out-everywhere`: what was ended.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedOutView {
    user_id: String,
    /// Every Roster session of the user ended (their session tokens no longer verify).
    roster_sessions_ended: bool,
    /// The apps signed out: every grant that was live, now revoked.
    apps_signed_out: Vec<SignedInAppView>,
}

/// `GET /users/{id}/apps`: the apps the user is signed into (live grants), newest first.
pub async fn list(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let id: UserId = parse_id(&id, "user")?;
    let apps = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        store.user(permit.workspace_id(), id)?;
        Ok::<_, AdminError>(store.user_oauth_apps(permit.workspace_id(), id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(UserAppsView {
        user_id: id.to_string(),
        apps: apps.into_iter().map(SignedInAppView::from).collect(),
    }))
}

/// `POST /users/{id}/sign-out-everywhere`: ends every Roster session of the user and revokes
/// every app grant, in one transaction.
pub async fn sign_out_everywhere(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let id: UserId = parse_id(&id, "user")?;
    let signed_out = roster_store::blocking(move || {
        let read = require_read(&store, &principal)?;
        let user = store.user(read.workspace_id(), id)?;
        let admins = store.active_admins(read.workspace_id())?;
        let permit = read.require(Action::SignOutEverywhere, read.user_target(&user, &admins))?;
        Ok::<_, AdminError>(store.sign_out_everywhere(
            permit.actor(),
            permit.workspace_id(),
            id,
            Timestamp::now(),
        )?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(SignedOutView {
        user_id: signed_out.user.id.to_string(),
        roster_sessions_ended: true,
        apps_signed_out: signed_out
            .apps
            .into_iter()
            .map(SignedInAppView::from)
            .collect(),
    }))
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get("/users/{id}/apps", "listUserApps", "The apps the user is signed into through Roster's OpenID Provider (live grants; never a token)")
        .answers(200, schema::<UserAppsView>),
    Operation::post("/users/{id}/sign-out-everywhere", "signOutEverywhere", "End every Roster session of the user and revoke every app grant; answers with what was ended")
        .answers(200, schema::<SignedOutView>),

];
