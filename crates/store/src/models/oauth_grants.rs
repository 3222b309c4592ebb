//! Grants: one authorization of one app for one user, the family every code and refresh token
//! issued under it belongs to, and the unit of revocation.
//!
//! Revoking a grant (logout, refresh-token reuse, a code presented twice, the user deactivated)
//! ends every refresh token descending from it and makes userinfo refuse its access tokens. The
//! live grants of a user are the apps that user is signed into, and the list of apps a
//! back-channel logout goes to.

use diesel::prelude::*;
use roster_domain::attributes::AttributeName;
use roster_domain::{
    Action, Actor, DomainError, GroupKind, Lifecycle, NewAuditEvent, SecretToken, Timestamp, User,
    UserId, Workspace, WorkspaceId,
};
use roster_policy::EffectiveRoles;
use sha2::{Digest, Sha256};

use super::{corrupt, record_audit};
use crate::db::on_backend;
use crate::schema::{oauth_apps, oauth_grants, users};
use crate::{DbConnection, Store, StoreError, StoreResult};

/// A grant, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_grants, treat_none_as_default_value = false)]
pub struct OAuthGrant {
    pub id: String,
    pub client_id: String,
    pub workspace_id: String,
    pub user_id: String,
    /// The connection (upstream IdP) the user signed in through.
    pub connection_id: Option<String>,
    /// The Roster session the grant came from, for logout.
    pub session_id: Option<String>,
    /// The opaque session id this app sees (`sid` claim): one per session and app.
    pub sid: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// Whether `offline_access` was granted (refresh tokens outlive the session).
    pub offline: bool,
    /// When the user authenticated (microseconds), the ID token's `auth_time`.
    pub auth_time: i64,
    /// Authentication methods (JSON list), the ID token's `amr`.
    pub amr: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// Why it was revoked (`logout`, `refresh_token_reuse`, `code_reuse`, `user_deactivated`...).
    pub revoked_reason: Option<String>,
    /// The authentication context class the upstream IdP asserted, the ID token's `acr`.
    pub acr: Option<String>,
}

/// Why a grant was revoked, as recorded in `revoked_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    /// RP-initiated logout, or the Roster session ended.
    Logout,
    /// An authorization code was presented after it had been used.
    CodeReuse,
    /// A rotated refresh token was presented again.
    RefreshTokenReuse,
    /// The user stopped being active (SCIM `active=false` or DELETE, an admin disabling them).
    UserDeactivated,
    /// "Sign out everywhere", or an operator revoking one grant.
    Admin,
    /// The app revoked it (RFC 7009 revocation endpoint).
    ClientRevoked,
}

impl RevokeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Logout => "logout",
            RevokeReason::CodeReuse => "code_reuse",
            RevokeReason::RefreshTokenReuse => "refresh_token_reuse",
            RevokeReason::UserDeactivated => "user_deactivated",
            RevokeReason::Admin => "admin",
            RevokeReason::ClientRevoked => "client_revoked",
        }
    }

    /// Whether the app gets a back-channel logout for a grant revoked for this reason.
    ///
    /// Yes when something outside the app ended the user's access: a logout, the user
    /// deactivated or deprovisioned, an admin signing them out — the app would otherwise keep its
    /// own session until it next calls Roster. No when the app's own request revealed it: a
    /// code presented twice or a rotated refresh token reused (the app's next token request is
    /// answered `invalid_grant`, and which of two presenters is the app cannot be told), or
    /// the app revoking its own token (RFC 7009).
    pub fn tells_app(self) -> bool {
        match self {
            RevokeReason::Logout | RevokeReason::UserDeactivated | RevokeReason::Admin => true,
            RevokeReason::CodeReuse
            | RevokeReason::RefreshTokenReuse
            | RevokeReason::ClientRevoked => false,
        }
    }
}

/// Why a code or a refresh token was refused: every case is RFC 6749 `invalid_grant` except
/// [`InvalidGrant::ScopeWidened`] (`invalid_scope`). The provider maps this enum exhaustively;
/// the description it shows may name the reason, the token itself never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidGrant {
    /// No such code or refresh token.
    Unknown,
    /// Issued to another client; refused without being consumed.
    WrongClient,
    /// The token request's `redirect_uri` differs from the authorization request's.
    RedirectUriMismatch,
    /// The code was issued with a PKCE challenge and no verifier came.
    VerifierMissing,
    /// The verifier does not hash to the challenge.
    VerifierMismatch,
    /// A verifier came for a code issued without a challenge (RFC 9700 §4.8).
    UnexpectedVerifier,
    /// Past its expiry.
    Expired,
    /// The code was already used: the grant it issued is now revoked.
    CodeReused,
    /// The refresh token was already rotated: its whole grant is now revoked.
    RefreshTokenReused,
    /// The grant was revoked (logout, reuse, the user deactivated).
    GrantRevoked,
    /// A refresh asked for a scope the grant does not hold.
    ScopeWidened,
}

/// Why an access token's grant no longer answers at userinfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantNotLive {
    Unknown,
    Revoked,
    UserInactive,
    /// The user's session epoch moved since the token was issued (a sign-out everywhere).
    EpochMoved,
}

/// A grant about to be created with its authorization code: everything the ID token states
/// later, captured at the moment the user authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOAuthGrant {
    pub client_id: String,
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
    /// The upstream connection the user signed in through (`idp` claim).
    pub connection_id: Option<String>,
    /// The Roster session, for logout.
    pub session_id: Option<String>,
    /// The `sid` this app sees.
    pub sid: String,
    pub scope: String,
    /// Whether `offline_access` was granted: redemption then also issues a refresh token.
    pub offline: bool,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    /// The authentication context class the upstream IdP asserted (`acr`), if any.
    pub acr: Option<String>,
}

/// The user of a live grant as the provider states it (ID token, userinfo), read on one
/// connection by [`Store::oauth_grant_subject`].
#[derive(Debug, Clone)]
pub struct GrantSubject {
    pub grant: OAuthGrant,
    pub user: User,
    pub workspace: Workspace,
    pub roles: EffectiveRoles,
    /// The names of the user's app groups, by name.
    pub app_groups: Vec<String>,
    /// The workspace's attributes the provider may release (`released`), in declaration order:
    /// only these of `user.attributes` reach the `attributes` claim.
    pub released_attributes: Vec<AttributeName>,
}

/// An app a user is signed into: one live grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInApp {
    pub grant_id: String,
    pub client_id: String,
    pub app_name: String,
    pub scope: String,
    pub offline: bool,
    pub sid: String,
    pub created_at: Timestamp,
}

/// A fresh 256-bit bearer value (a code or a refresh token) in hex, redacted in `Debug`.
pub(crate) fn generate_bearer() -> StoreResult<SecretToken> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| {
        StoreError::Invalid(DomainError::InvalidValue {
            field: "token",
            reason: "the system random source failed".to_owned(),
        })
    })?;
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(SecretToken::from_presented(&text))
}

/// The stored form of a presented code or refresh token.
pub(crate) fn bearer_hash(presented: &str) -> String {
    SecretToken::from_presented(presented).hash().0
}

/// RFC 7636 S256: `BASE64URL(SHA256(verifier))` without padding.
pub(crate) fn pkce_s256(verifier: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let digest = Sha256::digest(verifier.as_bytes());
    let mut out = String::with_capacity(43);
    for chunk in digest.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            let index = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

pub(crate) fn load_grant(conn: &mut DbConnection, id: &str) -> StoreResult<Option<OAuthGrant>> {
    Ok(on_backend!(conn, |c| oauth_grants::table
        .find(id)
        .select(OAuthGrant::as_select())
        .get_result(c)
        .optional())?)
}

fn grant_audit(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &'static str,
    grant: &OAuthGrant,
    detail: serde_json::Value,
) -> StoreResult<()> {
    let workspace_id = grant
        .workspace_id
        .parse()
        .map_err(corrupt("oauth_grants"))?;
    record_audit(
        conn,
        &NewAuditEvent {
            workspace_id: Some(workspace_id),
            actor: actor.clone(),
            action: Action(action),
            target_kind: "oauth_grant",
            target_id: grant.id.clone(),
            detail: detail.to_string(),
        },
    )
}

/// Audits an OAuth write on a grant (`oauth_grant.*`) with the grant's user and app.
pub(crate) fn audit_grant_event(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &'static str,
    grant: &OAuthGrant,
) -> StoreResult<()> {
    grant_audit(
        conn,
        actor,
        action,
        grant,
        serde_json::json!({ "client_id": grant.client_id, "user_id": grant.user_id }),
    )
}

/// Inserts a grant; audited as `oauth_grant.created`.
pub(crate) fn insert_grant(
    conn: &mut DbConnection,
    actor: &Actor,
    new: &NewOAuthGrant,
    now: Timestamp,
) -> StoreResult<OAuthGrant> {
    let grant = OAuthGrant {
        id: uuid::Uuid::now_v7().hyphenated().to_string(),
        client_id: new.client_id.clone(),
        workspace_id: new.workspace_id.to_string(),
        user_id: new.user_id.to_string(),
        connection_id: new.connection_id.clone(),
        session_id: new.session_id.clone(),
        sid: new.sid.clone(),
        scope: new.scope.clone(),
        offline: new.offline,
        auth_time: new.auth_time.as_micros(),
        amr: super::to_json_list(&new.amr),
        created_at: now.as_micros(),
        revoked_at: None,
        revoked_reason: None,
        acr: new.acr.clone(),
    };
    diesel::insert_into(oauth_grants::table)
        .values(&grant)
        .execute(conn)?;
    grant_audit(
        conn,
        actor,
        "oauth_grant.created",
        &grant,
        serde_json::json!({
            "client_id": grant.client_id,
            "user_id": grant.user_id,
            "scope": grant.scope,
            "offline": grant.offline,
        }),
    )?;
    Ok(grant)
}

/// Revokes one grant if it is live (one conditional UPDATE); audited as `oauth_grant.revoked`
/// with the reason, and, when the reason [tells the app](RevokeReason::tells_app), its
/// back-channel logout queued in the same transaction. Returns whether this call revoked it.
pub(crate) fn revoke_grant(
    conn: &mut DbConnection,
    actor: &Actor,
    grant: &OAuthGrant,
    reason: RevokeReason,
    now: Timestamp,
) -> StoreResult<bool> {
    let changed = diesel::update(
        oauth_grants::table
            .find(&grant.id)
            .filter(oauth_grants::revoked_at.is_null()),
    )
    .set((
        oauth_grants::revoked_at.eq(Some(now.as_micros())),
        oauth_grants::revoked_reason.eq(Some(reason.as_str())),
    ))
    .execute(conn)?;
    if changed == 1 {
        grant_audit(
            conn,
            actor,
            "oauth_grant.revoked",
            grant,
            serde_json::json!({
                "client_id": grant.client_id,
                "user_id": grant.user_id,
                "reason": reason.as_str(),
            }),
        )?;
        super::backchannel_logouts::queue_logout(conn, grant, reason, now)?;
    }
    Ok(changed == 1)
}

/// Revokes every live grant of a user, inside the caller's transaction: the lifecycle changes
/// that end a user's access call it, so refresh stops (and the back-channel logouts are queued)
/// in the same commit. Returns the grants it revoked.
pub(crate) fn revoke_user_grants(
    conn: &mut DbConnection,
    actor: &Actor,
    user_id: UserId,
    reason: RevokeReason,
    now: Timestamp,
) -> StoreResult<Vec<OAuthGrant>> {
    let live = oauth_grants::table
        .filter(oauth_grants::user_id.eq(user_id.to_string()))
        .filter(oauth_grants::revoked_at.is_null())
        .select(OAuthGrant::as_select())
        .load(conn)?;
    revoke_all(conn, actor, live, reason, now)
}

/// Ends one Roster session at the apps it signed into (RP-initiated logout, the session
/// ending), inside the caller's transaction: every app with a live grant from the session gets
/// its back-channel logout, and the grants that were not granted `offline_access` are revoked
/// (Back-Channel Logout §2.7: offline refresh tokens outlive the session, the app's session with
/// the user does not). Returns the grants it revoked.
pub(crate) fn revoke_session_grants(
    conn: &mut DbConnection,
    actor: &Actor,
    session_id: &str,
    now: Timestamp,
) -> StoreResult<Vec<OAuthGrant>> {
    let live: Vec<OAuthGrant> = oauth_grants::table
        .filter(oauth_grants::session_id.eq(session_id))
        .filter(oauth_grants::revoked_at.is_null())
        .select(OAuthGrant::as_select())
        .load(conn)?;
    let (offline, online): (Vec<_>, Vec<_>) = live.into_iter().partition(|grant| grant.offline);
    for grant in &offline {
        super::backchannel_logouts::queue_session_end(conn, grant, now)?;
    }
    revoke_all(conn, actor, online, RevokeReason::Logout, now)
}

fn revoke_all(
    conn: &mut DbConnection,
    actor: &Actor,
    grants: Vec<OAuthGrant>,
    reason: RevokeReason,
    now: Timestamp,
) -> StoreResult<Vec<OAuthGrant>> {
    let mut revoked = Vec::with_capacity(grants.len());
    for grant in grants {
        if revoke_grant(conn, actor, &grant, reason, now)? {
            revoked.push(grant);
        }
    }
    Ok(revoked)
}

/// Whether a grant may still answer at userinfo: pure, over what [`Store::oauth_grant_subject`]
/// loaded.
pub fn grant_liveness(
    grant: Option<&OAuthGrant>,
    user: Option<(Lifecycle, i64)>,
    epoch_at_issue: i64,
) -> Result<(), GrantNotLive> {
    let Some(grant) = grant else {
        return Err(GrantNotLive::Unknown);
    };
    if grant.revoked_at.is_some() {
        return Err(GrantNotLive::Revoked);
    }
    match user {
        None | Some((Lifecycle::Deactivated | Lifecycle::Deprovisioned, _)) => {
            Err(GrantNotLive::UserInactive)
        }
        Some((Lifecycle::Active, epoch)) if epoch != epoch_at_issue => {
            Err(GrantNotLive::EpochMoved)
        }
        Some((Lifecycle::Active, _)) => Ok(()),
    }
}

impl Store {
    /// Revokes one grant (logout, the revocation endpoint, an operator) at `now`, queueing its
    /// back-channel logout when the reason tells the app. `NotFound` for an unknown grant;
    /// `Ok(false)` when it was already revoked.
    pub fn revoke_oauth_grant(
        &self,
        actor: &Actor,
        grant_id: &str,
        reason: RevokeReason,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.write(|conn| {
            let grant =
                load_grant(conn, grant_id)?.ok_or(StoreError::NotFound { what: "grant" })?;
            revoke_grant(conn, actor, &grant, reason, now)
        })
    }

    /// "Sign out everywhere": revokes every live grant of a user and queues the back-channel
    /// logouts, in one transaction. Returns the grants revoked.
    pub fn revoke_user_oauth_grants(
        &self,
        actor: &Actor,
        workspace_id: WorkspaceId,
        user_id: UserId,
        reason: RevokeReason,
        now: Timestamp,
    ) -> StoreResult<Vec<OAuthGrant>> {
        self.write(|conn| {
            let exists: i64 = users::table
                .filter(users::id.eq(user_id.to_string()))
                .filter(users::workspace_id.eq(workspace_id.to_string()))
                .count()
                .get_result(conn)?;
            if exists == 0 {
                return Err(StoreError::NotFound { what: "user" });
            }
            revoke_user_grants(conn, actor, user_id, reason, now)
        })
    }

    /// Logout of one Roster session: queues a back-channel logout for every app the session
    /// signed into and revokes its grants that were not granted `offline_access`, in one
    /// transaction. Returns the grants revoked.
    pub fn revoke_session_oauth_grants(
        &self,
        actor: &Actor,
        session_id: &str,
        now: Timestamp,
    ) -> StoreResult<Vec<OAuthGrant>> {
        self.write(|conn| revoke_session_grants(conn, actor, session_id, now))
    }

    /// One grant by id (the provider reads its claims), revoked or not.
    pub fn oauth_grant(&self, grant_id: &str) -> StoreResult<OAuthGrant> {
        self.read(|conn| load_grant(conn, grant_id)?.ok_or(StoreError::NotFound { what: "grant" }))
    }

    /// What the provider states about the user of a grant, with userinfo's check (P10), in one
    /// read: the grant is not revoked and its user is active — and, given `epoch_at_issue` (an
    /// access token's), the user's session epoch is still that one. One connection checkout; each
    /// of its five point reads runs on the backend's own connection (prepared once, no SQL
    /// built per request: see `db::on_backend`), because userinfo runs it on every request.
    pub fn oauth_grant_subject(
        &self,
        grant_id: &str,
        epoch_at_issue: Option<i64>,
    ) -> StoreResult<Result<GrantSubject, GrantNotLive>> {
        self.read(|conn| {
            let Some(grant) = load_grant(conn, grant_id)? else {
                return Ok(Err(GrantNotLive::Unknown));
            };
            let workspace_id: WorkspaceId = grant
                .workspace_id
                .parse()
                .map_err(|_| StoreError::Corrupt("oauth_grants: workspace id".to_owned()))?;
            let user_id: UserId = grant
                .user_id
                .parse()
                .map_err(|_| StoreError::Corrupt("oauth_grants: user id".to_owned()))?;
            let user = match super::user::find_user(conn, workspace_id, user_id) {
                Ok(user) => Some(user),
                Err(StoreError::NotFound { .. }) => None,
                Err(err) => return Err(err),
            };
            let state = user
                .as_ref()
                .map(|user| (user.lifecycle, user.session_epoch));
            let epoch = epoch_at_issue
                .or(state.map(|(_, epoch)| epoch))
                .unwrap_or_default();
            if let Err(not_live) = grant_liveness(Some(&grant), state, epoch) {
                return Ok(Err(not_live));
            }
            let Some(user) = user else {
                return Ok(Err(GrantNotLive::UserInactive));
            };
            let workspace = super::workspace::find_workspace(conn, workspace_id)?;
            let roles = super::role::effective_roles(conn, &workspace, user_id)?;
            let app_groups = super::group::groups_of_user(conn, workspace_id, user_id)?
                .into_iter()
                .filter(|group| group.kind == GroupKind::App)
                .map(|group| group.display_name.to_string())
                .collect();
            let released_attributes = super::attributes::load_definitions(conn, workspace_id)?
                .into_iter()
                .filter(|definition| definition.released)
                .map(|definition| definition.name)
                .collect();
            Ok(Ok(GrantSubject {
                grant,
                user,
                workspace,
                roles,
                app_groups,
                released_attributes,
            }))
        })
    }

    /// The apps a user is signed into (live grants, newest first), with the apps' names.
    pub fn user_oauth_apps(
        &self,
        workspace_id: WorkspaceId,
        user_id: UserId,
    ) -> StoreResult<Vec<SignedInApp>> {
        let rows: Vec<(OAuthGrant, String)> = self.read(|conn| {
            Ok(oauth_grants::table
                .inner_join(oauth_apps::table)
                .filter(oauth_grants::workspace_id.eq(workspace_id.to_string()))
                .filter(oauth_grants::user_id.eq(user_id.to_string()))
                .filter(oauth_grants::revoked_at.is_null())
                .order((oauth_grants::created_at.desc(), oauth_grants::id.desc()))
                .select((OAuthGrant::as_select(), oauth_apps::name))
                .load(conn)?)
        })?;
        Ok(rows
            .into_iter()
            .map(|(grant, app_name)| SignedInApp {
                grant_id: grant.id,
                client_id: grant.client_id,
                app_name,
                scope: grant.scope,
                offline: grant.offline,
                sid: grant.sid,
                created_at: Timestamp::from_micros(grant.created_at),
            })
            .collect())
    }
}

/// A grant row for the pure rules' table tests (codes, refresh tokens, liveness).
#[cfg(test)]
pub(crate) fn test_grant(scope: &str, offline: bool, revoked: bool) -> OAuthGrant {
    OAuthGrant {
        id: "g".into(),
        client_id: "app".into(),
        workspace_id: "w".into(),
        user_id: "u".into(),
        connection_id: None,
        session_id: None,
        sid: "sid".into(),
        scope: scope.into(),
        offline,
        auth_time: 0,
        amr: "[]".into(),
        created_at: 0,
        revoked_at: revoked.then_some(5),
        revoked_reason: None,
        acr: None,
    }
}

#[cfg(test)]
mod tests {
    //! The provider's state tables hold every column as diesel's schema says, on both backends
    //! (the migrations and `schema.rs` agree).

    use diesel::prelude::*;
    use pretty_assertions::assert_eq;
    use roster_domain::{Actor, Source, Timestamp, UserName};

    use crate::schema::{oauth_auth_requests, oauth_codes, oauth_grants, oauth_refresh_tokens};
    use crate::testing::TestStore;
    use crate::{
        ClientAuthMethod, NewOAuthApp, NewUser, OAuthAuthRequest, OAuthCode, OAuthGrant,
        OAuthRefreshToken, SigningAlg,
    };

    #[test]
    fn provider_rows_round_trip_every_column() {
        let db = TestStore::new();
        let workspace = db.workspace("acme");
        let connection = db.scim_connection(workspace.id, "idp", true, false);
        let user = db
            .store
            .create_user(
                &Actor::Cli,
                &NewUser::minimal(workspace.id, UserName::parse("ada").unwrap(), Source::Scim),
            )
            .unwrap();
        let (app, _) = db
            .store
            .create_oauth_app(
                &Actor::Cli,
                &NewOAuthApp {
                    name: "Product".into(),
                    auth_method: ClientAuthMethod::ClientSecretBasic,
                    id_token_alg: SigningAlg::Rs256,
                    redirect_uris: vec!["https://app.example/cb".into()],
                    post_logout_redirect_uris: vec![],
                    backchannel_logout_uri: None,
                },
                Timestamp::now(),
            )
            .unwrap();
        let request = OAuthAuthRequest {
            id: "request-hash".into(),
            browser_hash: "browser-hash".into(),
            client_id: app.client_id.clone(),
            redirect_uri: "https://app.example/cb".into(),
            scope: "openid email".into(),
            state: Some("state".into()),
            nonce: Some("nonce".into()),
            code_challenge: Some("c".repeat(43)),
            prompt: Some("login".into()),
            max_age: Some(300),
            login_hint: Some("ada@acme.test".into()),
            workspace_id: Some(workspace.id.to_string()),
            connection_id: Some(connection.id.to_string()),
            upstream_request_id: Some("upstream".into()),
            created_at: 1,
            expires_at: 2,
            consumed_at: Some(3),
        };
        let grant = OAuthGrant {
            id: "grant".into(),
            client_id: app.client_id.clone(),
            workspace_id: workspace.id.to_string(),
            user_id: user.id.to_string(),
            connection_id: Some(connection.id.to_string()),
            session_id: Some("session".into()),
            sid: "sid".into(),
            scope: "openid offline_access".into(),
            offline: true,
            auth_time: 4,
            amr: "[\"pwd\"]".into(),
            created_at: 5,
            revoked_at: Some(6),
            revoked_reason: Some("logout".into()),
            acr: Some("urn:example:mfa".into()),
        };
        let code = OAuthCode {
            code_hash: "code-hash".into(),
            grant_id: grant.id.clone(),
            redirect_uri: "https://app.example/cb".into(),
            code_challenge: Some("c".repeat(43)),
            nonce: Some("nonce".into()),
            created_at: 7,
            expires_at: 8,
            used_at: Some(9),
        };
        let refresh = OAuthRefreshToken {
            token_hash: "refresh-hash".into(),
            grant_id: grant.id.clone(),
            parent_hash: Some("parent".into()),
            scope: "openid".into(),
            created_at: 10,
            expires_at: 11,
            used_at: Some(12),
        };
        let read = db
            .store
            .write(|conn| {
                diesel::insert_into(oauth_auth_requests::table)
                    .values(&request)
                    .execute(conn)?;
                diesel::insert_into(oauth_grants::table)
                    .values(&grant)
                    .execute(conn)?;
                diesel::insert_into(oauth_codes::table)
                    .values(&code)
                    .execute(conn)?;
                diesel::insert_into(oauth_refresh_tokens::table)
                    .values(&refresh)
                    .execute(conn)?;
                Ok((
                    oauth_auth_requests::table
                        .select(OAuthAuthRequest::as_select())
                        .get_result(conn)?,
                    oauth_grants::table
                        .select(OAuthGrant::as_select())
                        .get_result(conn)?,
                    oauth_codes::table
                        .select(OAuthCode::as_select())
                        .get_result(conn)?,
                    oauth_refresh_tokens::table
                        .select(OAuthRefreshToken::as_select())
                        .get_result(conn)?,
                ))
            })
            .unwrap();
        assert_eq!(read, (request, grant, code, refresh));

        // Deleting the app takes everything issued to it.
        let deleted = db
            .store
            .delete_oauth_app(&Actor::Cli, &app.client_id)
            .unwrap();
        assert_eq!(deleted.live_grants, 0, "the one grant was revoked");
        let left: (i64, i64, i64, i64) = db
            .store
            .read(|conn| {
                Ok((
                    oauth_auth_requests::table.count().get_result(conn)?,
                    oauth_grants::table.count().get_result(conn)?,
                    oauth_codes::table.count().get_result(conn)?,
                    oauth_refresh_tokens::table.count().get_result(conn)?,
                ))
            })
            .unwrap();
        assert_eq!(left, (0, 0, 0, 0));
    }

    #[test]
    fn which_revocations_send_the_app_a_back_channel_logout() {
        use super::RevokeReason::*;
        let cases = [
            (Logout, true),
            (UserDeactivated, true),
            (Admin, true),
            (CodeReuse, false),
            (RefreshTokenReuse, false),
            (ClientRevoked, false),
        ];
        for (reason, tells_app) in cases {
            assert_eq!(reason.tells_app(), tells_app, "{reason:?}");
        }
    }

    #[test]
    fn which_grants_are_live_at_userinfo() {
        let live = super::test_grant("openid", false, false);
        let revoked = OAuthGrant {
            revoked_at: Some(5),
            ..live.clone()
        };
        let cases = [
            (
                Some(&live),
                Some((roster_domain::Lifecycle::Active, 3)),
                Ok(()),
            ),
            (
                None,
                Some((roster_domain::Lifecycle::Active, 3)),
                Err(super::GrantNotLive::Unknown),
            ),
            (
                Some(&revoked),
                Some((roster_domain::Lifecycle::Active, 3)),
                Err(super::GrantNotLive::Revoked),
            ),
            (
                Some(&live),
                Some((roster_domain::Lifecycle::Deactivated, 3)),
                Err(super::GrantNotLive::UserInactive),
            ),
            (
                Some(&live),
                Some((roster_domain::Lifecycle::Deprovisioned, 3)),
                Err(super::GrantNotLive::UserInactive),
            ),
            (Some(&live), None, Err(super::GrantNotLive::UserInactive)),
            (
                Some(&live),
                Some((roster_domain::Lifecycle::Active, 4)),
                Err(super::GrantNotLive::EpochMoved),
            ),
        ];
        for (grant, user, expected) in cases {
            assert_eq!(
                super::grant_liveness(grant, user, 3),
                expected,
                "{grant:?} {user:?}"
            );
        }
    }
}
