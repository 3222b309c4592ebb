//! Products registered with Roster's OpenID Provider (OAuth clients) and the URIs they
//! registered.
//!
//! Apps are deployment-level, so their audit events belong to no workspace. A confidential app's
//! client secret is a 256-bit random string: only its SHA-256 is stored (a fast hash suffices for
//! that much entropy, as for SCIM tokens), it is returned once, and a presented secret is compared
//! in constant time. A rotation keeps the previous secret valid until a time the caller chooses
//! (the provider's grace period), so a product can roll its deployment; one previous secret at
//! most, and a second rotation ends the first one's grace at once.
//!
//! URIs are stored exactly as registered: the provider matches them byte for byte and validates
//! them before they get here (this module decides nothing about them).

use diesel::prelude::*;
use roster_domain::{
    Action, Actor, DomainError, NewAuditEvent, SecretHash, SecretKind, SecretToken, Timestamp,
};

use super::{corrupt, record_audit};
use crate::db::on_backend;
use crate::error::conflict_on;
use crate::schema::{oauth_app_uris, oauth_apps, oauth_grants};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// How an app proves itself at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// A confidential app: its secret in HTTP Basic (or, equally accepted, in the form body).
    ClientSecretBasic,
    /// A confidential app that registered the form-body method.
    ClientSecretPost,
    /// A public app (a SPA or a native app): no secret, PKCE instead.
    None,
}

impl ClientAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
            ClientAuthMethod::None => "none",
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        match value {
            "client_secret_basic" => Ok(ClientAuthMethod::ClientSecretBasic),
            "client_secret_post" => Ok(ClientAuthMethod::ClientSecretPost),
            "none" => Ok(ClientAuthMethod::None),
            other => Err(DomainError::UnknownVariant {
                field: "token_endpoint_auth_method",
                value: other.to_owned(),
            }),
        }
    }

    /// Whether the app has a client secret.
    pub fn is_confidential(self) -> bool {
        self != ClientAuthMethod::None
    }
}

/// The JWS algorithms the provider signs with: RS256 (every OP must support it) and ES256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    Rs256,
    Es256,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 2] = [SigningAlg::Rs256, SigningAlg::Es256];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        match value {
            "RS256" => Ok(SigningAlg::Rs256),
            "ES256" => Ok(SigningAlg::Es256),
            other => Err(DomainError::UnknownVariant {
                field: "algorithm",
                value: other.to_owned(),
            }),
        }
    }
}

/// Which list a registered URI belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UriKind {
    Redirect,
    PostLogout,
}

impl UriKind {
    fn as_str(self) -> &'static str {
        match self {
            UriKind::Redirect => "redirect",
            UriKind::PostLogout => "post_logout",
        }
    }
}

/// A registered app, as the provider and the operator see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthApp {
    pub client_id: String,
    pub name: String,
    pub auth_method: ClientAuthMethod,
    pub id_token_alg: SigningAlg,
    /// In the order registered.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// The first characters of the current secret, to tell secrets apart (`None` when public).
    pub secret_hint: Option<String>,
    /// Until when the secret replaced by the last rotation is still accepted.
    pub previous_secret_until: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An app about to be registered; its URIs already validated by the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOAuthApp {
    pub name: String,
    pub auth_method: ClientAuthMethod,
    pub id_token_alg: SigningAlg,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
}

/// What deleting an app did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedOAuthApp {
    pub client_id: String,
    pub name: String,
    /// Grants that were live (not revoked) and ended with the app.
    pub live_grants: i64,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_apps, treat_none_as_default_value = false)]
struct AppRow {
    client_id: String,
    name: String,
    token_endpoint_auth_method: String,
    id_token_alg: String,
    secret_hash: Option<String>,
    secret_hint: Option<String>,
    previous_secret_hash: Option<String>,
    previous_secret_until: Option<i64>,
    backchannel_logout_uri: Option<String>,
    created_at: i64,
    updated_at: i64,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_app_uris)]
struct UriRow {
    client_id: String,
    kind: String,
    uri: String,
    position: i32,
}

impl AppRow {
    fn into_app(self, uris: &[UriRow]) -> StoreResult<OAuthApp> {
        let bad = corrupt("oauth_apps");
        let of_kind = |kind: UriKind| -> Vec<String> {
            uris.iter()
                .filter(|row| row.client_id == self.client_id && row.kind == kind.as_str())
                .map(|row| row.uri.clone())
                .collect()
        };
        Ok(OAuthApp {
            redirect_uris: of_kind(UriKind::Redirect),
            post_logout_redirect_uris: of_kind(UriKind::PostLogout),
            auth_method: ClientAuthMethod::parse(&self.token_endpoint_auth_method).map_err(&bad)?,
            id_token_alg: SigningAlg::parse(&self.id_token_alg).map_err(&bad)?,
            client_id: self.client_id,
            name: self.name,
            backchannel_logout_uri: self.backchannel_logout_uri,
            secret_hint: self.secret_hint,
            previous_secret_until: self.previous_secret_until.map(Timestamp::from_micros),
            created_at: Timestamp::from_micros(self.created_at),
            updated_at: Timestamp::from_micros(self.updated_at),
        })
    }

    /// Whether `presented` is the current secret, or the previous one before `now` passed its
    /// grace. Both comparisons always run, in constant time, whatever the first one found.
    fn secret_matches(&self, presented: &SecretHash, now: Timestamp) -> bool {
        let matches = |stored: &Option<String>| {
            stored
                .as_ref()
                .is_some_and(|hash| SecretHash(hash.clone()).matches_hash(presented))
        };
        let current = matches(&self.secret_hash);
        let previous = matches(&self.previous_secret_hash);
        let in_grace = self
            .previous_secret_until
            .is_some_and(|until| until > now.as_micros());
        current | (previous & in_grace)
    }
}

fn load_app(conn: &mut DbConnection, client_id: &str) -> StoreResult<AppRow> {
    oauth_apps::table
        .find(client_id)
        .select(AppRow::as_select())
        .get_result(conn)
        .optional()?
        .ok_or(StoreError::NotFound { what: "app" })
}

fn load_uris(conn: &mut DbConnection, client_id: Option<&str>) -> StoreResult<Vec<UriRow>> {
    let mut query = oauth_app_uris::table
        .select(UriRow::as_select())
        .order((oauth_app_uris::client_id, oauth_app_uris::position))
        .into_boxed();
    if let Some(client_id) = client_id {
        query = query.filter(oauth_app_uris::client_id.eq(client_id.to_owned()));
    }
    Ok(query.load(conn)?)
}

fn app_audit(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &'static str,
    client_id: &str,
    detail: serde_json::Value,
) -> StoreResult<()> {
    record_audit(
        conn,
        &NewAuditEvent {
            workspace_id: None,
            actor: actor.clone(),
            action: Action(action),
            target_kind: "oauth_app",
            target_id: client_id.to_owned(),
            detail: detail.to_string(),
        },
    )
}

impl Store {
    /// Registers an app at `now`: a fresh client id and, for a confidential app, a fresh secret,
    /// returned here once in plaintext. Audited as `oauth_app.created`.
    pub fn create_oauth_app(
        &self,
        actor: &Actor,
        app: &NewOAuthApp,
        now: Timestamp,
    ) -> StoreResult<(OAuthApp, Option<SecretToken>)> {
        let secret = if app.auth_method.is_confidential() {
            Some(SecretToken::generate(SecretKind::ClientSecret)?)
        } else {
            None
        };
        let row = AppRow {
            client_id: uuid::Uuid::now_v7().hyphenated().to_string(),
            name: app.name.clone(),
            token_endpoint_auth_method: app.auth_method.as_str().to_owned(),
            id_token_alg: app.id_token_alg.as_str().to_owned(),
            secret_hash: secret.as_ref().map(|s| s.hash().0),
            secret_hint: secret.as_ref().map(SecretToken::hint),
            previous_secret_hash: None,
            previous_secret_until: None,
            backchannel_logout_uri: app.backchannel_logout_uri.clone(),
            created_at: now.as_micros(),
            updated_at: now.as_micros(),
        };
        let client_id = &row.client_id;
        let uris: Vec<UriRow> = [
            (UriKind::Redirect, &app.redirect_uris),
            (UriKind::PostLogout, &app.post_logout_redirect_uris),
        ]
        .into_iter()
        .flat_map(|(kind, list)| {
            list.iter().zip(0..).map(move |(uri, position)| UriRow {
                client_id: client_id.clone(),
                kind: kind.as_str().to_owned(),
                uri: uri.clone(),
                position,
            })
        })
        .collect();
        let created = self.write(|conn| {
            diesel::insert_into(oauth_apps::table)
                .values(&row)
                .execute(conn)?;
            // Multi-row inserts run on the backend's own connection (diesel's multi-backend
            // connection has no batch insert).
            on_backend!(conn, |c| diesel::insert_into(oauth_app_uris::table)
                .values(&uris)
                .execute(c))
            .map_err(|err| {
                conflict_on(
                    err,
                    "app",
                    &[("oauth_app_uris", "the same URI is listed twice")],
                )
            })?;
            app_audit(
                conn,
                actor,
                "oauth_app.created",
                &row.client_id,
                serde_json::json!({
                    "name": row.name,
                    "token_endpoint_auth_method": row.token_endpoint_auth_method,
                    "id_token_alg": row.id_token_alg,
                    "redirect_uris": app.redirect_uris,
                    "post_logout_redirect_uris": app.post_logout_redirect_uris,
                    "backchannel_logout_uri": row.backchannel_logout_uri,
                    "secret_hint": row.secret_hint,
                }),
            )?;
            load_app(conn, &row.client_id)?.into_app(&uris)
        })?;
        Ok((created, secret))
    }

    /// Every registered app, oldest first.
    pub fn oauth_apps(&self) -> StoreResult<Vec<OAuthApp>> {
        let (rows, uris) = self.read(|conn| {
            let rows: Vec<AppRow> = oauth_apps::table
                .order((oauth_apps::created_at, oauth_apps::client_id))
                .select(AppRow::as_select())
                .load(conn)?;
            Ok((rows, load_uris(conn, None)?))
        })?;
        rows.into_iter().map(|row| row.into_app(&uris)).collect()
    }

    /// One app by client id, or `NotFound`.
    pub fn oauth_app(&self, client_id: &str) -> StoreResult<OAuthApp> {
        let (row, uris) = self.read(|conn| {
            Ok((
                load_app(conn, client_id)?,
                load_uris(conn, Some(client_id))?,
            ))
        })?;
        row.into_app(&uris)
    }

    /// Replaces a confidential app's secret at `now`; the one it replaces stays valid until
    /// `previous_valid_until` (pass `now` to end it at once). Returns the new secret once.
    /// Audited as `oauth_app.secret_rotated`.
    pub fn rotate_oauth_app_secret(
        &self,
        actor: &Actor,
        client_id: &str,
        now: Timestamp,
        previous_valid_until: Timestamp,
    ) -> StoreResult<(OAuthApp, SecretToken)> {
        let secret = SecretToken::generate(SecretKind::ClientSecret)?;
        let app = self.write(|conn| {
            let row = load_app(conn, client_id)?;
            if row.secret_hash.is_none() {
                return Err(StoreError::Invalid(DomainError::InvalidValue {
                    field: "client_id",
                    reason: "a public app has no client secret to rotate".to_owned(),
                }));
            }
            let previous_until = previous_valid_until.as_micros().max(now.as_micros());
            diesel::update(oauth_apps::table.find(client_id))
                .set((
                    oauth_apps::previous_secret_hash.eq(&row.secret_hash),
                    oauth_apps::previous_secret_until.eq(Some(previous_until)),
                    oauth_apps::secret_hash.eq(Some(secret.hash().0)),
                    oauth_apps::secret_hint.eq(Some(secret.hint())),
                    oauth_apps::updated_at.eq(now.as_micros()),
                ))
                .execute(conn)?;
            app_audit(
                conn,
                actor,
                "oauth_app.secret_rotated",
                client_id,
                serde_json::json!({
                    "previous_secret_hint": row.secret_hint,
                    "secret_hint": secret.hint(),
                    "previous_secret_valid_until":
                        Timestamp::from_micros(previous_until).to_rfc3339(),
                }),
            )?;
            load_app(conn, client_id)?.into_app(&load_uris(conn, Some(client_id))?)
        })?;
        Ok((app, secret))
    }

    /// Deletes an app with everything issued to it (grants, codes, refresh tokens, pending
    /// requests go with it by cascade). Audited as `oauth_app.deleted`.
    pub fn delete_oauth_app(&self, actor: &Actor, client_id: &str) -> StoreResult<DeletedOAuthApp> {
        self.write(|conn| {
            let row = load_app(conn, client_id)?;
            let live_grants: i64 = oauth_grants::table
                .filter(oauth_grants::client_id.eq(client_id))
                .filter(oauth_grants::revoked_at.is_null())
                .count()
                .get_result(conn)?;
            diesel::delete(oauth_apps::table.find(client_id)).execute(conn)?;
            app_audit(
                conn,
                actor,
                "oauth_app.deleted",
                client_id,
                serde_json::json!({ "name": row.name, "live_grants": live_grants }),
            )?;
            Ok(DeletedOAuthApp {
                client_id: row.client_id,
                name: row.name,
                live_grants,
            })
        })
    }

    /// The app whose client id and secret these are, at `now`: the current secret, or the
    /// previous one within its grace. `Unauthorized` for an unknown app, a public app, or a wrong
    /// or expired secret, alike.
    pub fn authenticate_oauth_client(
        &self,
        client_id: &str,
        presented_secret: &str,
        now: Timestamp,
    ) -> StoreResult<OAuthApp> {
        let presented = SecretToken::from_presented(presented_secret).hash();
        let found = self.read(|conn| match load_app(conn, client_id) {
            Ok(row) => Ok(Some((row, load_uris(conn, Some(client_id))?))),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err),
        })?;
        match found {
            Some((row, uris)) if row.secret_matches(&presented, now) => row.into_app(&uris),
            Some(_) | None => Err(StoreError::Unauthorized),
        }
    }
}
