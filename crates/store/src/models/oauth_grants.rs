//! Grants: one authorization of one app for one user, the family every code and refresh token
//! issued under it belongs to, and the unit of revocation.
//!
//! Revoking a grant (logout, refresh-token reuse, a code presented twice, the user deactivated)
//! ends every refresh token descending from it and makes userinfo refuse its access tokens. The
//! live grants of a user are the apps that user is signed into, and the list of apps a
//! back-channel logout goes to.

use diesel::prelude::*;

use crate::schema::oauth_grants;

/// A grant, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_grants, treat_none_as_null = true)]
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
}
