//! The operator API (`/api/v1/operator`): the SaaS operator's backend, holding one operator key
//! (`roster operator-key create`), creates a workspace per customer, lists, renames and deletes
//! them, and reaches each workspace's admin routes at
//! `/api/v1/operator/workspaces/{workspace}/…` — the same handlers as `/api/v1/admin/…`, mounted a
//! second time (one implementation, two entry points; [`crate::auth::Principal`] takes the
//! workspace from the path and asks the same policy, as an admin that did not sign in with SSO).
//!
//! Only an operator key gets in: an [`Operator`] is the only way to the deployment-level routes,
//! and only [`authenticate`] makes one. A workspace's admin API key is refused here with a 403
//! (it speaks for one workspace), and an operator key on `/api/v1/admin` likewise. Every write is
//! audited as the operator key (`actor_kind` `operator`).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use roster_store::domain::{
    Actor, Domain, SecretKind, SecretToken, Slug, TokenId, Workspace, WorkspaceId,
};
use roster_store::{NewWorkspace, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{AdminCode, AdminError};
use crate::openapi::{schema, Operation};

/// The operator, authenticated by an operator key.
#[derive(Debug, Clone)]
pub struct Operator {
    key_id: TokenId,
}

impl Operator {
    /// Who the audit trail names for the operator's writes.
    pub(crate) fn actor(&self) -> Actor {
        Actor::Operator {
            key_id: self.key_id.to_string(),
        }
    }
}

/// The operator key behind `bearer`: 401 without one or for an unknown or revoked key, 403 for a
/// workspace's admin API key.
pub(crate) async fn authenticate(
    store: web::Data<Store>,
    bearer: Option<String>,
) -> Result<TokenId, AdminError> {
    let Some(token) = bearer else {
        return Err(AdminError::unauthorized(
            "send Authorization: Bearer <operator key>",
        ));
    };
    if SecretToken::from_presented(&token).claims(SecretKind::ApiKey) {
        return Err(AdminError::new(
            AdminCode::Forbidden,
            "an admin API key speaks for one workspace; the operator API takes an operator key (roster operator-key create)",
        )
        .with_detail(json!({ "refusal": "workspace_key" })));
    }
    roster_store::blocking(move || store.authenticate_operator_key(&token))
        .await
        .map_err(|err| match err {
            StoreError::Unauthorized => AdminError::unauthorized("invalid or revoked operator key"),
            other => other.into(),
        })
}

/// A workspace named by id or by slug.
pub(crate) fn lookup_workspace(store: &Store, named: &str) -> Result<Workspace, StoreError> {
    match named.parse::<WorkspaceId>() {
        Ok(id) => store.workspace(id),
        Err(_) => store.workspace_by_slug(named),
    }
}

/// A workspace named in a path: by id or by slug.
fn find_workspace(store: &Store, named: &str) -> Result<Workspace, AdminError> {
    lookup_workspace(store, named).map_err(|err| match err {
        StoreError::NotFound { .. } => {
            AdminError::not_found(format!("workspace {named:?} not found"))
        }
        other => other.into(),
    })
}

/// For the workspace routes mounted under `/api/v1/operator/workspaces/{workspace}`: the key,
/// then the workspace (after the key, so an unauthenticated caller learns nothing of which
/// workspaces exist).
pub(crate) async fn authenticate_for_workspace(
    store: web::Data<Store>,
    bearer: Option<String>,
    workspace: String,
) -> Result<(TokenId, WorkspaceId), AdminError> {
    let key_id = authenticate(store.clone(), bearer).await?;
    let workspace = roster_store::blocking(move || find_workspace(&store, &workspace)).await?;
    Ok((key_id, workspace.id))
}

impl FromRequest for Operator {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let bearer = crate::auth::bearer(req);
        let store = req.app_data::<web::Data<Store>>().cloned();
        Box::pin(async move {
            let store = store.ok_or_else(|| AdminError::internal("internal error"))?;
            Ok(Operator {
                key_id: authenticate(store, bearer).await?,
            })
        })
    }
}

/// A workspace as the operator sees it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceView {
    pub id: String,
    /// The workspace's stable name in URLs (`/sso/{slug}/…`); never changes.
    pub slug: String,
    /// The display name.
    pub name: String,
    pub domains: Vec<String>,
    pub sso_enforced: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Workspace> for WorkspaceView {
    fn from(workspace: &Workspace) -> Self {
        WorkspaceView {
            id: workspace.id.to_string(),
            slug: workspace.slug.to_string(),
            name: workspace.name.clone(),
            domains: workspace.domains.iter().map(|d| d.to_string()).collect(),
            sso_enforced: workspace.sso_enforced,
            created_at: workspace.created_at.to_rfc3339(),
            updated_at: workspace.updated_at.to_rfc3339(),
        }
    }
}

/// A page of workspaces in slug order.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WorkspacePage {
    pub workspaces: Vec<WorkspaceView>,
    /// The `after` of the next page; null on the last.
    pub next: Option<String>,
}

/// Query of `GET /workspaces`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceQuery {
    /// The `next` of the previous page (a slug).
    after: Option<String>,
    /// Page size, 1 to 1000; 100 when absent.
    limit: Option<i64>,
}

/// `GET /workspaces?after=&limit=`.
pub async fn list_workspaces(
    _operator: Operator,
    store: web::Data<Store>,
    query: web::Query<WorkspaceQuery>,
) -> Result<HttpResponse, AdminError> {
    let WorkspaceQuery { after, limit } = query.into_inner();
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AdminError::validation("limit must be between 1 and 1000"));
    }
    let page =
        roster_store::blocking(move || store.workspaces_page(after.as_deref(), limit)).await?;
    Ok(HttpResponse::Ok().json(WorkspacePage {
        workspaces: page.items.iter().map(WorkspaceView::from).collect(),
        next: page.next,
    }))
}

/// The body of `POST /workspaces`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWorkspace {
    /// Lower-case letters, digits and dashes; unique; never changes.
    slug: String,
    /// The display name.
    name: String,
    /// Email domains the customer owns.
    #[serde(default)]
    domains: Vec<String>,
}

/// `POST /workspaces`: 201 with the workspace (with its `member` and `admin` roles); a taken
/// slug is a 409.
pub async fn create_workspace(
    operator: Operator,
    store: web::Data<Store>,
    body: web::Json<CreateWorkspace>,
) -> Result<HttpResponse, AdminError> {
    let body = body.into_inner();
    let slug =
        Slug::parse(&body.slug).map_err(|err| AdminError::validation(format!("slug: {err}")))?;
    let name = display_name(&body.name)?;
    let domains = body
        .domains
        .iter()
        .map(|d| Domain::parse(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| AdminError::validation(format!("domains: {err}")))?;
    let workspace = roster_store::blocking(move || {
        store.create_workspace(
            &operator.actor(),
            NewWorkspace {
                slug,
                name,
                domains,
            },
        )
    })
    .await?;
    Ok(HttpResponse::Created().json(WorkspaceView::from(&workspace)))
}

fn display_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AdminError::validation("name must have 1 to 200 characters"));
    }
    Ok(name.to_owned())
}

/// `GET /workspaces/{workspace}` (id or slug).
pub async fn get_workspace(
    _operator: Operator,
    store: web::Data<Store>,
    workspace: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let workspace =
        roster_store::blocking(move || find_workspace(&store, &workspace.into_inner())).await?;
    Ok(HttpResponse::Ok().json(WorkspaceView::from(&workspace)))
}

/// The body of `PATCH /workspaces/{workspace}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspace {
    /// The new display name.
    name: String,
}

/// `PATCH /workspaces/{workspace}`: renames it (the slug never changes). Audited as
/// `workspace.updated`.
pub async fn update_workspace(
    operator: Operator,
    store: web::Data<Store>,
    workspace: web::Path<String>,
    body: web::Json<UpdateWorkspace>,
) -> Result<HttpResponse, AdminError> {
    let name = display_name(&body.name)?;
    let workspace = roster_store::blocking(move || {
        let workspace = find_workspace(&store, &workspace.into_inner())?;
        Ok::<_, AdminError>(store.rename_workspace(&operator.actor(), workspace.id, &name)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WorkspaceView::from(&workspace)))
}

/// Query of `DELETE /workspaces/{workspace}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmDeletion {
    /// The workspace's slug again: a deletion cannot be undone.
    confirm: Option<String>,
}

/// `DELETE /workspaces/{workspace}?confirm=SLUG`: deletes the workspace and everything of it at
/// once (docs/operator-api.md says what is kept: the deployment-level audit record). Without
/// the slug in `confirm`, a 400 that says so, and nothing changes.
pub async fn delete_workspace(
    operator: Operator,
    store: web::Data<Store>,
    workspace: web::Path<String>,
    query: web::Query<ConfirmDeletion>,
) -> Result<HttpResponse, AdminError> {
    let confirm = query.into_inner().confirm;
    roster_store::blocking(move || {
        let workspace = find_workspace(&store, &workspace.into_inner())?;
        if confirm.as_deref() != Some(workspace.slug.as_str()) {
            return Err(AdminError::validation(format!(
                "deleting a workspace deletes its users, connections and history for good; confirm with ?confirm={}",
                workspace.slug
            ))
            .with_detail(json!({ "field": "confirm" })));
        }
        Ok(store.delete_workspace(&operator.actor(), workspace.id)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Query of `GET /events`: the workspace feed's, and a workspace to keep.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorFeedQuery {
    /// The `next` cursor of the previous page; absent to start at the oldest retained event.
    after: Option<String>,
    /// 1 to 1000; 100 when absent.
    limit: Option<i64>,
    /// Comma-separated event types to keep (e.g. `workspace.created,user.created`).
    #[serde(rename = "type")]
    types: Option<String>,
    /// One workspace's events only (id or slug).
    workspace: Option<String>,
}

/// `GET /events?after=&limit=&type=&workspace=`: every workspace's events in one order
/// (docs/events.md).
pub async fn events(
    _operator: Operator,
    store: web::Data<Store>,
    query: web::Query<OperatorFeedQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let request = crate::events::FeedRequest::parse(
        query.after.as_deref(),
        query.limit,
        query.types.as_deref(),
    )?;
    let page = roster_store::blocking(move || {
        let workspace = query
            .workspace
            .as_deref()
            .map(|named| find_workspace(&store, named))
            .transpose()?;
        request.read(&store, workspace.map(|w| w.id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Query of `GET /audit`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorAuditQuery {
    /// The `seq` of the oldest record of the previous page: the next page is older.
    before: Option<i64>,
    /// 1 to 1000; 100 when absent.
    limit: Option<i64>,
}

/// `GET /audit?before=&limit=`: the deployment's own audit trail, newest first — operator keys
/// created and revoked, workspaces deleted, apps registered, rotated and deleted, session keys
/// rotated (what happens inside a workspace is in that workspace's trail).
pub async fn audit(
    _operator: Operator,
    store: web::Data<Store>,
    query: web::Query<OperatorAuditQuery>,
) -> Result<HttpResponse, AdminError> {
    let OperatorAuditQuery { before, limit } = query.into_inner();
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AdminError::validation("limit must be between 1 and 1000"));
    }
    let events =
        roster_store::blocking(move || store.system_audit_events_before(before, limit)).await?;
    Ok(HttpResponse::Ok().json(crate::logs::AuditTrail {
        events: events
            .into_iter()
            .map(crate::logs::AuditEntry::from)
            .collect(),
    }))
}

/// The operator API's own operations, relative to `/api/v1/operator` (the workspace routes under
/// `/workspaces/{workspace}` are the admin API's, documented from its tables).
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/workspaces",
        "listWorkspaces",
        "Workspaces in slug order, with a cursor",
    )
    .query(schema::<WorkspaceQuery>)
    .answers(200, schema::<WorkspacePage>),
    Operation::post(
        "/workspaces",
        "createWorkspace",
        "Create a workspace (with its member and admin roles)",
    )
    .body(schema::<CreateWorkspace>)
    .answers(201, schema::<WorkspaceView>),
    Operation::get(
        "/workspaces/{workspace}",
        "getWorkspace",
        "One workspace, by id or slug",
    )
    .answers(200, schema::<WorkspaceView>),
    Operation::patch(
        "/workspaces/{workspace}",
        "updateWorkspace",
        "Rename a workspace (the slug never changes)",
    )
    .body(schema::<UpdateWorkspace>)
    .answers(200, schema::<WorkspaceView>),
    Operation::get(
        "/events",
        "listOperatorEvents",
        "Every workspace's events in one order, after a cursor",
    )
    .query(schema::<OperatorFeedQuery>)
    .answers(200, schema::<crate::events::EventPage>),
    Operation::get(
        "/audit",
        "listDeploymentAuditEvents",
        "The deployment's own audit trail, newest first (keys, workspace deletions, apps)",
    )
    .query(schema::<OperatorAuditQuery>)
    .answers(200, schema::<crate::logs::AuditTrail>),
    Operation::delete(
        "/workspaces/{workspace}",
        "deleteWorkspace",
        "Delete a workspace and everything of it, for good (confirm with its slug)",
    )
    .query(schema::<ConfirmDeletion>),
];
