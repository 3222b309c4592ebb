//! A SAML connection's own keys (Roster's keys as the service provider: what signs its requests
//! and decrypts its assertions), as a workspace's admins rotate them: listed with their
//! certificates, never a private key; rotated, a new key published beside the current one
//! (generated, or the admin's own key and certificate); retired once the IdP has the new
//! certificate. The `connection.certificate_expiring` event asks the admin to do exactly this,
//! so it must not need the operator's CLI (`roster connection keys`, which runs the same store
//! operations and shows the same view).
//!
//! The rules are the store's (`add_sp_key`, `retire_sp_key`): a rotation overlaps the old key
//! so that no login breaks, the last published key of a use cannot be retired, and retiring
//! erases the private half; both are audited. Retiring stops every IdP that still uses the key,
//! so it is confirmed by repeating the key's id in the body.

use actix_web::{web, HttpResponse};
use roster_policy::admin::Action;
use roster_sso::saml::SpKeyUse;
use roster_store::domain::{Connection, ConnectionId, ConnectionKind, Timestamp};
use roster_store::{SpKeyRecord, Store};
use serde::{Deserialize, Serialize};

use crate::auth::permit::{require, require_read};
use crate::auth::Principal;
use crate::error::AdminError;
use crate::openapi::{schema, Operation};
use crate::params::parse_id;

/// One of the connection's keys, as the SP metadata publishes it: never its private half.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpKeyView {
    pub id: String,
    /// `signing` or `encryption`.
    #[serde(rename = "use")]
    pub key_use: String,
    /// 1 for the connection's first key of this use, then one more per rotation.
    pub generation: i32,
    /// `published` (in the SP metadata, and used) or `retired`.
    pub status: &'static str,
    /// Whether this is the key that signs requests (the oldest published signing key).
    pub signs: bool,
    pub created_at: String,
    pub expires_at: String,
    pub retired_at: Option<String>,
    /// The certificate as the SP metadata publishes it (base64 DER).
    pub certificate: String,
}

/// Keys of a connection (per use, oldest first) as [`SpKeyView`]s.
pub fn sp_key_views(keys: &[SpKeyRecord]) -> Vec<SpKeyView> {
    let signer = roster_store::signing_sp_key(keys).map(|key| key.id.as_str());
    keys.iter()
        .map(|key| SpKeyView {
            id: key.id.clone(),
            key_use: key.key_use.clone(),
            generation: key.generation,
            status: if key.is_published() {
                "published"
            } else {
                "retired"
            },
            signs: signer == Some(key.id.as_str()),
            created_at: Timestamp::from_micros(key.created_at).to_rfc3339(),
            expires_at: Timestamp::from_micros(key.not_after).to_rfc3339(),
            retired_at: key
                .retired_at
                .map(|at| Timestamp::from_micros(at).to_rfc3339()),
            certificate: key.certificate.clone(),
        })
        .collect()
}

/// The answer of `GET /connections/{id}/sp-keys`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SpKeyList {
    pub keys: Vec<SpKeyView>,
}

/// The answer of a rotation: the key added, and every key now.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SpKeyAdded {
    pub added: String,
    pub keys: Vec<SpKeyView>,
}

/// The answer of a retirement: the key retired, and every key now.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SpKeyRetired {
    pub retired: String,
    pub keys: Vec<SpKeyView>,
}

/// The body of `POST /connections/{id}/sp-keys`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateSpKey {
    /// `signing` or `encryption`.
    #[serde(rename = "use")]
    key_use: String,
    /// The admin's own RSA private key (PEM, 2048 bits or more), with `certificate`; without
    /// both, Roster generates the key (RSA 2048, self-signed, 5 years). Never returned.
    private_key: Option<String>,
    /// The key's certificate (PEM), unexpired.
    certificate: Option<String>,
}

/// The private key never reaches a log through `{:?}`.
impl std::fmt::Debug for RotateSpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotateSpKey")
            .field("key_use", &self.key_use)
            .field(
                "private_key",
                &self.private_key.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// The body of `POST /connections/{id}/sp-keys/{key}/retire`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetireSpKey {
    /// The key's id again: retiring stops every IdP that still uses the key.
    confirm: Option<String>,
}

/// A SAML connection of the caller's workspace (404 for another workspace's; 400 for a
/// connection of another kind, which has no SP keys).
fn saml_connection(
    store: &Store,
    workspace_id: roster_store::domain::WorkspaceId,
    id: ConnectionId,
) -> Result<Connection, AdminError> {
    let connection = store.connection(workspace_id, id)?;
    if connection.kind != ConnectionKind::Saml {
        return Err(AdminError::validation(format!(
            "this is a {} connection: only a SAML connection has SP keys",
            connection.kind.as_str()
        )));
    }
    Ok(connection)
}

/// `GET /connections/{id}/sp-keys`: every key, retired ones included. A connection that never
/// served its metadata gets its first keys now, as on its first login.
pub async fn list(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
) -> Result<HttpResponse, AdminError> {
    let id: ConnectionId = parse_id(&id, "connection")?;
    let keys = roster_store::blocking(move || {
        let permit = require_read(&store, &principal)?;
        let connection = saml_connection(&store, permit.workspace_id(), id)?;
        roster_sso::sp_keys::connection_keys(&store, &connection)?;
        Ok::<_, AdminError>(store.sp_key_history(id)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(SpKeyList {
        keys: sp_key_views(&keys),
    }))
}

/// `POST /connections/{id}/sp-keys`: publishes a new key of a use beside the current one(s).
/// Both encryption keys decrypt from now on; the old signing key keeps signing until retired.
pub async fn rotate(
    principal: Principal,
    store: web::Data<Store>,
    id: web::Path<crate::params::IdPath>,
    body: web::Json<RotateSpKey>,
) -> Result<HttpResponse, AdminError> {
    let id: ConnectionId = parse_id(&id, "connection")?;
    let body = body.into_inner();
    let key_use = SpKeyUse::parse(&body.key_use)
        .ok_or_else(|| AdminError::validation("use must be signing or encryption"))?;
    let own_key = match (body.private_key, body.certificate) {
        (Some(private_key), Some(certificate)) => Some((private_key, certificate)),
        (None, None) => None,
        _ => return Err(AdminError::validation(
            "privateKey and certificate go together: send both, or neither to have a key generated",
        )),
    };
    let (added, keys) = roster_store::blocking(move || {
        let permit = require(&store, &principal, Action::ManageConnections)?;
        let connection = saml_connection(&store, permit.workspace_id(), id)?;
        // The current keys first, so a rotation of a connection that had none adds a second.
        roster_sso::sp_keys::connection_keys(&store, &connection)?;
        let key = match own_key {
            Some((private_key, certificate)) => {
                roster_sso::sp_keys::own_key(key_use.as_str(), &private_key, &certificate)
                    .map_err(|err| AdminError::validation(format!("privateKey: {err}")))?
            }
            None => roster_sso::sp_keys::new_key(
                key_use.as_str(),
                &format!("Roster SP {}", connection.id),
            )
            .map_err(AdminError::internal)?,
        };
        let added = store.add_sp_key(permit.actor(), &connection, key)?;
        Ok::<_, AdminError>((added.id, store.sp_key_history(id)?))
    })
    .await?;
    Ok(HttpResponse::Created().json(SpKeyAdded {
        added,
        keys: sp_key_views(&keys),
    }))
}

/// `POST /connections/{id}/sp-keys/{key}/retire`: unpublishes the key and erases its private
/// half, once `confirm` repeats its id; the last published key of a use is refused (409).
pub async fn retire(
    principal: Principal,
    store: web::Data<Store>,
    path: web::Path<crate::params::SpKeyPath>,
    body: web::Json<RetireSpKey>,
) -> Result<HttpResponse, AdminError> {
    let crate::params::SpKeyPath { id, key } = path.into_inner();
    let id: ConnectionId = parse_id(&id, "connection")?;
    if body.confirm.as_deref() != Some(key.as_str()) {
        return Err(AdminError::validation(format!(
            "retiring {key} stops every IdP that still uses it: repeat its id as confirm"
        )));
    }
    let keys = roster_store::blocking({
        let key = key.clone();
        move || {
            let permit = require(&store, &principal, Action::ManageConnections)?;
            let connection = saml_connection(&store, permit.workspace_id(), id)?;
            store.retire_sp_key(permit.actor(), &connection, &key)?;
            Ok::<_, AdminError>(store.sp_key_history(id)?)
        }
    })
    .await?;
    Ok(HttpResponse::Ok().json(SpKeyRetired {
        retired: key,
        keys: sp_key_views(&keys),
    }))
}

pub(crate) const API: &[Operation] = &[
    Operation::get(
        "/connections/{id}/sp-keys",
        "listSpKeys",
        "A SAML connection's own keys with their certificates (never a private key)",
    )
    .answers(200, schema::<SpKeyList>),
    Operation::post(
        "/connections/{id}/sp-keys",
        "rotateSpKey",
        "Publish a new signing or encryption key beside the current one (generated, or your own)",
    )
    .body(schema::<RotateSpKey>)
    .answers(201, schema::<SpKeyAdded>),
    Operation::post(
        "/connections/{id}/sp-keys/{key}/retire",
        "retireSpKey",
        "Retire a key once the IdP has its successor (its private half is erased)",
    )
    .body(schema::<RetireSpKey>)
    .answers(200, schema::<SpKeyRetired>),
];
