//! The SCIM write and read operations, independent of HTTP: each takes the authenticated client
//! and a parsed body, runs its store operation (blocking — callers run it on the blocking pool),
//! and returns what the response should carry. Handlers and `/Bulk` both call these, so a bulk
//! operation behaves exactly like the same request sent alone.

use std::cell::{Cell, RefCell};

use roster_domain::{Group, IgnoredChange, Timestamp};
use roster_store::{
    CreateOutcome, MemberOp, MemberReport, NewProvisioningEntry, Store, StoreError,
};
use serde_json::Value;

use crate::auth::ScimClient;
use crate::error::ScimError;
use crate::group_resource::{parse_group, render_group, update_from_resource};
use crate::patch::{apply_user_patch, parse_patch_request, split_group_patch, MemberChange};
use crate::projection::Projection;
use crate::respond::LogFacts;
use crate::settings::ScimSettings;
use crate::user_resource::{
    changed_attributes, drop_never_returned, never_returned_warning, parse_user, render_user,
};

/// What a successful operation answers.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub status: u16,
    /// The resource to return (None for 204).
    pub resource: Option<Value>,
    pub version: Option<i64>,
    /// Set on creates.
    pub location: Option<String>,
    pub facts: LogFacts,
}

/// Everything an operation needs.
#[derive(Clone)]
pub struct Ctx<'a> {
    pub client: &'a ScimClient,
    pub store: &'a Store,
    pub settings: &'a ScimSettings,
}

fn ignored_warnings(ignored: &[IgnoredChange]) -> Vec<String> {
    ignored
        .iter()
        .map(|c| {
            format!(
                "ignored change of immutable {}: want {:?}, kept {:?}",
                c.attribute, c.want, c.got
            )
        })
        .collect()
}

fn unknown_members_warning(report: &MemberReport) -> Vec<String> {
    if report.unknown.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "ignored {} member id(s) that are no user provisioned by this connection: {}",
        report.unknown.len(),
        report
            .unknown
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    )]
}

/// The facts of a successful write, whose provisioning-log row commits with it.
fn facts(resource_id: String, warnings: Vec<String>) -> LogFacts {
    LogFacts {
        resource_id: Some(resource_id),
        warnings,
        error: None,
        logged: true,
    }
}

impl Ctx<'_> {
    /// The provisioning-log row of this request, answered with `status` and `facts`.
    fn log_entry(&self, status: u16, facts: &LogFacts) -> NewProvisioningEntry {
        let request = &self.client.request;
        NewProvisioningEntry {
            workspace_id: self.client.principal.connection.workspace_id.to_string(),
            connection_id: self.client.principal.connection.id.to_string(),
            occurred_at: Timestamp::now().as_micros(),
            request_id: request.request_id.clone(),
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            status: i32::from(status),
            duration_us: i64::try_from(request.started.elapsed().as_micros()).unwrap_or(i64::MAX),
            resource_id: facts.resource_id.clone(),
            error: None,
            warnings: (!facts.warnings.is_empty())
                .then(|| serde_json::json!(facts.warnings).to_string()),
        }
    }
}

fn create_warnings(outcome: CreateOutcome) -> Vec<String> {
    match outcome {
        CreateOutcome::Created => vec![],
        CreateOutcome::Adopted => {
            vec!["adopted an existing user with the same userName and email".to_owned()]
        }
        CreateOutcome::Reprovisioned => {
            vec!["brought back an inactive user of this connection".to_owned()]
        }
    }
}

/// `POST /Users`.
pub fn create_user(ctx: &Ctx<'_>, body: &Value) -> Result<Outcome, ScimError> {
    let scope = ctx.client.scope();
    let parsed = parse_user(body, ctx.client.attributes())?;
    let dropped = parsed.dropped_never_returned;
    let attribute_warnings = parsed.attribute_warnings.clone();
    let new_user = parsed.into_new_user(scope.workspace_id, scope.connection_id);
    let user_facts = |user: &roster_domain::User, outcome: CreateOutcome| {
        let mut warnings = create_warnings(outcome);
        warnings.extend(dropped.then(never_returned_warning));
        warnings.extend(attribute_warnings.iter().cloned());
        facts(user.id.to_string(), warnings)
    };
    let (user, outcome) =
        ctx.store
            .scim_create_user(&ctx.client.actor(), scope, &new_user, |(user, outcome)| {
                ctx.log_entry(201, &user_facts(user, *outcome))
            })?;
    Ok(Outcome {
        status: 201,
        resource: Some(render_user(
            &user,
            &ctx.settings.base_url,
            ctx.client.attributes(),
        )),
        version: Some(user.version),
        location: Some(format!("{}/Users/{}", ctx.settings.base_url, user.id)),
        facts: user_facts(&user, outcome),
    })
}

/// PUT and PATCH of a user: `change` turns the current resource into the wanted one (or `None`
/// for no change) inside the store's transaction; the identifier rule is applied after it.
fn modify_user(
    ctx: &Ctx<'_>,
    id: &str,
    if_match: Option<i64>,
    change: impl FnOnce(Value) -> Result<Option<Value>, ScimError>,
) -> Result<Outcome, ScimError> {
    let strict = ctx.client.principal.connection.strict_immutability;
    let base_url = &ctx.settings.base_url;
    let mappings = ctx.client.attributes();
    let ignored = RefCell::new(Vec::new());
    let dropped = Cell::new(false);
    let attribute_warnings = RefCell::new(Vec::new());
    let warnings = || {
        let mut warnings = ignored_warnings(&ignored.borrow());
        warnings.extend(dropped.get().then(never_returned_warning));
        warnings.extend(attribute_warnings.borrow().iter().cloned());
        warnings
    };
    let user = ctx.store.scim_modify_user(
        &ctx.client.actor(),
        ctx.client.scope(),
        id,
        if_match,
        |current| {
            let before = render_user(current, base_url, mappings);
            let Some(mut after) = change(before.clone())? else {
                return Ok::<_, ScimError>(None);
            };
            // Before the diff: a password alone is no change (no write, no event, no version).
            if let Some(resource) = after.as_object_mut() {
                dropped.set(drop_never_returned(resource));
            }
            let changed = changed_attributes(&before, &after);
            if changed.is_empty() {
                return Ok(None);
            }
            let parsed = parse_user(&after, mappings)?;
            *attribute_warnings.borrow_mut() = parsed.attribute_warnings.clone();
            let (update, skipped) = parsed.into_update(current, strict, changed)?;
            *ignored.borrow_mut() = skipped;
            Ok(Some(update))
        },
        |user| ctx.log_entry(200, &facts(user.id.to_string(), warnings())),
    )?;
    Ok(Outcome {
        status: 200,
        resource: Some(render_user(&user, base_url, mappings)),
        version: Some(user.version),
        location: None,
        facts: facts(user.id.to_string(), warnings()),
    })
}

/// `PUT /Users/{id}`: replaces the user's attributes (identifiers excepted).
pub fn replace_user(
    ctx: &Ctx<'_>,
    id: &str,
    body: Value,
    if_match: Option<i64>,
) -> Result<Outcome, ScimError> {
    parse_user(&body, ctx.client.attributes())?;
    modify_user(ctx, id, if_match, move |before| {
        let mut after = body;
        // Read-only attributes come from the server, whatever the body says.
        if let (Some(after), Some(before)) = (after.as_object_mut(), before.as_object()) {
            for key in ["id", "meta", "schemas"] {
                match before.get(key) {
                    Some(value) => after.insert(key.to_owned(), value.clone()),
                    None => after.remove(key),
                };
            }
        }
        Ok(Some(after))
    })
}

/// `PATCH /Users/{id}`.
pub fn patch_user(
    ctx: &Ctx<'_>,
    id: &str,
    body: &Value,
    if_match: Option<i64>,
) -> Result<Outcome, ScimError> {
    let ops = parse_patch_request(body, ctx.settings.max_patch_operations)?;
    modify_user(ctx, id, if_match, move |mut resource| {
        if ops.is_empty() || !apply_user_patch(&mut resource, &ops)? {
            return Ok(None);
        }
        Ok(Some(resource))
    })
}

/// `DELETE /Users/{id}`: deprovisions.
pub fn delete_user(ctx: &Ctx<'_>, id: &str, if_match: Option<i64>) -> Result<Outcome, ScimError> {
    ctx.store.scim_delete_user(
        &ctx.client.actor(),
        ctx.client.scope(),
        id,
        if_match,
        |()| ctx.log_entry(204, &facts(id.to_owned(), Vec::new())),
    )?;
    Ok(Outcome {
        status: 204,
        facts: facts(id.to_owned(), Vec::new()),
        ..Outcome::default()
    })
}

/// Renders a group, loading its members only if the projection wants them.
pub fn render_group_with(
    ctx: &Ctx<'_>,
    group: &Group,
    projection: &Projection,
) -> Result<Value, ScimError> {
    let members = if projection.wants("members") {
        Some(ctx.store.scim_group_members(group.id)?)
    } else {
        None
    };
    let mut resource = render_group(group, members.as_deref(), &ctx.settings.base_url);
    projection.apply(&mut resource);
    Ok(resource)
}

fn group_outcome(
    ctx: &Ctx<'_>,
    status: u16,
    group: &Group,
    report: &MemberReport,
    projection: Option<&Projection>,
) -> Result<Outcome, ScimError> {
    let resource = match projection {
        Some(projection) => Some(render_group_with(ctx, group, projection)?),
        None => None,
    };
    Ok(Outcome {
        status: if resource.is_none() { 204 } else { status },
        resource,
        version: Some(group.version),
        location: (status == 201).then(|| format!("{}/Groups/{}", ctx.settings.base_url, group.id)),
        facts: group_facts(group, report),
    })
}

fn group_facts(group: &Group, report: &MemberReport) -> LogFacts {
    facts(group.id.to_string(), unknown_members_warning(report))
}

/// The provisioning-log row of a group write answered with `status`.
fn group_log<'a>(
    ctx: &'a Ctx<'_>,
    status: u16,
) -> impl FnOnce(&(Group, MemberReport)) -> NewProvisioningEntry + 'a {
    move |(group, report)| ctx.log_entry(status, &group_facts(group, report))
}

/// `POST /Groups`.
pub fn create_group(ctx: &Ctx<'_>, body: &Value) -> Result<Outcome, ScimError> {
    let parsed = parse_group(body)?;
    let (group, report) = ctx.store.scim_create_group(
        &ctx.client.actor(),
        ctx.client.scope(),
        &parsed.update,
        &parsed.members,
        group_log(ctx, 201),
    )?;
    group_outcome(ctx, 201, &group, &report, Some(&Projection::default()))
}

/// `PUT /Groups/{id}`: replaces name, externalId and the member list.
pub fn replace_group(
    ctx: &Ctx<'_>,
    id: &str,
    body: &Value,
    if_match: Option<i64>,
) -> Result<Outcome, ScimError> {
    let parsed = parse_group(body)?;
    let (group, report) = ctx.store.scim_modify_group(
        &ctx.client.actor(),
        ctx.client.scope(),
        id,
        if_match,
        |_| Ok::<_, StoreError>((Some(parsed.update), vec![MemberOp::Replace(parsed.members)])),
        group_log(ctx, 200),
    )?;
    group_outcome(ctx, 200, &group, &report, Some(&Projection::default()))
}

fn member_op(change: MemberChange) -> MemberOp {
    match change {
        MemberChange::Add(ids) => MemberOp::Add(ids),
        MemberChange::Remove(ids) => MemberOp::Remove(ids),
        MemberChange::RemoveAll => MemberOp::RemoveAll,
        MemberChange::Replace(ids) => MemberOp::Replace(ids),
    }
}

/// `PATCH /Groups/{id}`: 204, or 200 with the resource when `projection` is given.
pub fn patch_group(
    ctx: &Ctx<'_>,
    id: &str,
    body: &Value,
    if_match: Option<i64>,
    projection: Option<&Projection>,
) -> Result<Outcome, ScimError> {
    let ops = parse_patch_request(body, ctx.settings.max_patch_operations)?;
    let base_url = &ctx.settings.base_url;
    let (group, report) = ctx.store.scim_modify_group(
        &ctx.client.actor(),
        ctx.client.scope(),
        id,
        if_match,
        |current| {
            let mut resource = render_group(current, None, base_url);
            let (changed, changes) = split_group_patch(&mut resource, &ops)?;
            let update = if changed {
                Some(update_from_resource(&resource)?)
            } else {
                None
            };
            Ok::<_, ScimError>((update, changes.into_iter().map(member_op).collect()))
        },
        group_log(ctx, if projection.is_some() { 200 } else { 204 }),
    )?;
    group_outcome(ctx, 200, &group, &report, projection)
}

/// `DELETE /Groups/{id}`.
pub fn delete_group(ctx: &Ctx<'_>, id: &str, if_match: Option<i64>) -> Result<Outcome, ScimError> {
    ctx.store.scim_delete_group(
        &ctx.client.actor(),
        ctx.client.scope(),
        id,
        if_match,
        |()| ctx.log_entry(204, &facts(id.to_owned(), Vec::new())),
    )?;
    Ok(Outcome {
        status: 204,
        facts: facts(id.to_owned(), Vec::new()),
        ..Outcome::default()
    })
}
