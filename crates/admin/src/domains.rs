//! `/api/v1/admin/domains`: the workspace's email domains and their proof. `POST /domains` adds a
//! domain as `pending` and answers the TXT record to publish (`_roster-challenge.DOMAIN`, a
//! random value); `POST /domains/{domain}/verify` looks the record up now, and the server's
//! background checker does the same with backoff ([`check`] is their one path). Only a
//! verified domain routes `login_hint` discovery to the workspace and lets its connections link
//! existing users by email; a domain is verified by one workspace at most; public mail domains
//! are refused (`roster_domain::domain_proof`). Every write asks the policy (`manage domains`).

use actix_web::{web, HttpResponse};
use roster_outbound::DnsResolver;
use roster_policy::admin::Action;
use roster_store::domain::domain_proof::{Check, Trigger};
use roster_store::domain::{Actor, Domain};
use roster_store::{Store, WorkspaceDomain};
use serde::{Deserialize, Serialize};

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::AdminSettings;

/// The DNS record that proves the domain.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DnsRecord {
    /// Always `TXT`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `_roster-challenge.DOMAIN`.
    pub name: String,
    /// The value the record must hold.
    pub value: String,
}

/// A domain of the workspace.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DomainView {
    pub domain: String,
    /// `pending`, `verified` or `failed`.
    pub state: &'static str,
    /// The record to publish at the domain's DNS host.
    pub record: DnsRecord,
    /// Checks run so far.
    pub attempts: u32,
    /// What the last check found: `found`, `wrong`, `missing` or `unreachable`.
    pub last_check: Option<String>,
    pub last_checked_at: Option<String>,
    /// When the background checker looks again (null: it does not).
    pub next_check_at: Option<String>,
    pub verified_at: Option<String>,
    pub created_at: String,
}

impl From<&WorkspaceDomain> for DomainView {
    fn from(domain: &WorkspaceDomain) -> Self {
        DomainView {
            domain: domain.domain.to_string(),
            state: domain.state.as_str(),
            record: DnsRecord {
                kind: "TXT",
                name: domain.record_name(),
                value: domain.challenge.clone(),
            },
            attempts: domain.attempts,
            last_check: domain.last_check.clone(),
            last_checked_at: domain.last_checked_at.map(|t| t.to_rfc3339()),
            next_check_at: domain.next_check_at.map(|t| t.to_rfc3339()),
            verified_at: domain.verified_at.map(|t| t.to_rfc3339()),
            created_at: domain.created_at.to_rfc3339(),
        }
    }
}

/// The answer of `GET /domains`, by name.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DomainList {
    pub domains: Vec<DomainView>,
}

/// The body of `POST /domains`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewDomain {
    pub domain: String,
}

/// Looks up `domain`'s TXT record and records what it found: the one path of the on-request
/// check and the background checker. A resolver that cannot answer changes nothing but the
/// check's time and count (`lastCheck: unreachable`).
pub async fn check(
    store: web::Data<Store>,
    dns: &DnsResolver,
    actor: Actor,
    domain: WorkspaceDomain,
    trigger: Trigger,
) -> Result<WorkspaceDomain, AdminError> {
    let check = match dns.txt(&domain.record_name()).await {
        Ok(values) => Check::of_records(&values, &domain.challenge),
        Err(err) => {
            tracing::info!(domain = %domain.domain, error = %err, "domain check: DNS did not answer");
            Check::Unreachable
        }
    };
    Ok(roster_store::blocking(move || {
        store.record_domain_check(
            &actor,
            domain.workspace_id,
            &domain.domain,
            &domain.challenge,
            check,
            trigger,
        )
    })
    .await?)
}

fn domain_in_path(name: &str) -> Result<Domain, AdminError> {
    Domain::parse(name).map_err(|err| AdminError::not_found(format!("domain: {err}")))
}

/// `GET /domains`: `{"domains": [DomainView]}`.
pub async fn list(
    principal: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, AdminError> {
    let domains = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.list_domains(permit.workspace_id())?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DomainList {
        domains: domains.iter().map(DomainView::from).collect(),
    }))
}

/// `GET /domains/{domain}`.
pub async fn show(
    principal: Principal,
    store: web::Data<Store>,
    name: web::Path<crate::params::DomainPath>,
) -> Result<HttpResponse, AdminError> {
    let domain = domain_in_path(&name)?;
    let found = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        Ok::<_, AdminError>(store.workspace_domain(permit.workspace_id(), &domain)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(DomainView::from(&found)))
}

/// `POST /domains` `{"domain"}`: 201 with the pending domain and the TXT record to publish. A
/// malformed or public mail domain is a 400, one the workspace has a 409. Audited as
/// `domain.added`.
pub async fn create(
    principal: Principal,
    store: web::Data<Store>,
    body: web::Json<NewDomain>,
) -> Result<HttpResponse, AdminError> {
    let domain = Domain::parse(&body.domain)
        .map_err(|err| AdminError::validation(format!("domain: {err}")))?;
    let added = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageDomains)?;
        Ok::<_, AdminError>(store.add_domain(permit.actor(), permit.workspace_id(), &domain)?)
    })
    .await?;
    Ok(HttpResponse::Created().json(DomainView::from(&added)))
}

/// `POST /domains/{domain}/verify`: looks the TXT record up now and answers the domain in its
/// new state: `verified` when the record holds the value, `failed` when it is wrong or missing,
/// unchanged when DNS did not answer. A domain another workspace holds verified is a 409.
pub async fn verify(
    principal: Principal,
    store: web::Data<Store>,
    settings: web::Data<AdminSettings>,
    name: web::Path<crate::params::DomainPath>,
) -> Result<HttpResponse, AdminError> {
    let domain = domain_in_path(&name)?;
    let reader = store.clone();
    let (actor, found) = roster_store::blocking(move || {
        let permit = require(&reader, &principal, Action::ManageDomains)?;
        let found = reader.workspace_domain(permit.workspace_id(), &domain)?;
        Ok::<_, AdminError>((permit.actor().clone(), found))
    })
    .await?;
    let checked = check(store, &settings.dns, actor, found, Trigger::Request).await?;
    Ok(HttpResponse::Ok().json(DomainView::from(&checked)))
}

/// `DELETE /domains/{domain}`: 204; the domain stops routing discovery and email linking at
/// once. Audited as `domain.deleted`.
pub async fn delete(
    principal: Principal,
    store: web::Data<Store>,
    name: web::Path<crate::params::DomainPath>,
) -> Result<HttpResponse, AdminError> {
    let domain = domain_in_path(&name)?;
    roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageDomains)?;
        Ok::<_, AdminError>(store.delete_domain(permit.actor(), permit.workspace_id(), &domain)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// This module's operations, for the OpenAPI document ([`crate::openapi`]).
pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/domains",
        "listDomains",
        "The workspace's domains with their state and the TXT record that proves each",
    )
    .answers(200, schema::<DomainList>),
    Operation::post(
        "/domains",
        "addDomain",
        "Add a domain (pending) and get the TXT record to publish; public mail domains are refused",
    )
    .body(schema::<NewDomain>)
    .answers(201, schema::<DomainView>),
    Operation::get(
        "/domains/{domain}",
        "getDomain",
        "One domain of the workspace",
    )
    .answers(200, schema::<DomainView>),
    Operation::post(
        "/domains/{domain}/verify",
        "verifyDomain",
        "Look the domain's TXT record up now: verified when it holds the value, failed otherwise",
    )
    .answers(200, schema::<DomainView>),
    Operation::delete(
        "/domains/{domain}",
        "deleteDomain",
        "Delete a domain: it stops routing discovery and email linking at once",
    ),
];
