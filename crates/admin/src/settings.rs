//! Workspace settings an admin changes: SSO enforcement, with the policy's answer to whether the
//! caller may change it (a password session or an API key would lock itself out).

use actix_web::{web, HttpResponse};
use roster_policy::admin::{Action, Target};
use roster_store::Store;
use serde::{Deserialize, Serialize};

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::params::Allowance;

/// Whether SSO is enforced, and whether the caller may change that.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoEnforcementView {
    pub sso_enforced: bool,
    pub change: Allowance,
}

/// The answer of `PUT /sso-enforcement`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoEnforced {
    pub sso_enforced: bool,
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
        Ok::<_, AdminError>(SsoEnforcementView {
            sso_enforced: workspace.sso_enforced,
            change: permit
                .describe(Action::ToggleSsoEnforcement, Target::Workspace)
                .into(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// The body of `PUT /sso-enforcement`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
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
    Ok(HttpResponse::Ok().json(SsoEnforced {
        sso_enforced: workspace.sso_enforced,
    }))
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/sso-enforcement",
        "getSsoEnforcement",
        "Whether SSO is enforced, and whether the caller may change it (and why not)",
    )
    .answers(200, schema::<SsoEnforcementView>),
    Operation::put(
        "/sso-enforcement",
        "setSsoEnforcement",
        "Enforce SSO: refuse password logins (body {\"enforced\": bool})",
    )
    .body(schema::<SsoEnforcement>)
    .answers(200, schema::<SsoEnforced>),
];
