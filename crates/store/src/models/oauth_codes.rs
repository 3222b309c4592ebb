//! Authorization codes: single use, short-lived, and bound to their request.
//!
//! A code is stored as its SHA-256, with the redirect URI, PKCE challenge and nonce of the
//! request it answers. Redemption checks the client, the redirect URI and the verifier first,
//! then marks the code used with one conditional `UPDATE ... WHERE used_at IS NULL AND
//! expires_at > now`: exactly one of any number of concurrent redemptions changes a row. A code
//! presented again revokes its grant, and with it what the first redemption issued.

use diesel::prelude::*;
use roster_domain::{Actor, SecretToken, Timestamp};
use subtle::ConstantTimeEq;

use super::oauth_grants::{
    audit_grant_event, bearer_hash, generate_bearer, insert_grant, pkce_s256, revoke_grant,
    InvalidGrant, NewOAuthGrant, OAuthGrant, RevokeReason,
};
use super::oauth_refresh_tokens::insert_refresh_token;
use crate::db::update_kept_prepared;
use crate::schema::{oauth_codes, oauth_grants, users};
use crate::{Store, StoreResult};

/// An authorization code, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_codes, treat_none_as_null = true)]
pub struct OAuthCode {
    /// SHA-256 (hex) of the code.
    pub code_hash: String,
    pub grant_id: String,
    /// The redirect URI of the authorization request; the token request must repeat it.
    pub redirect_uri: String,
    /// The PKCE S256 challenge; `None` when the request had none (a verifier is then refused).
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// How long a code is valid (the contract: 60 s).
pub const CODE_TTL_SECONDS: i64 = 60;

/// What the authorization request bound its code to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBinding {
    pub redirect_uri: String,
    /// The PKCE S256 challenge, when the request sent one.
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
}

/// A token request presenting a code. The client is already authenticated by the caller. Its
/// `Debug` leaves out the code and the verifier.
#[derive(Clone, Copy)]
pub struct CodeRedemption<'a> {
    pub code: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub code_verifier: Option<&'a str>,
}

impl std::fmt::Debug for CodeRedemption<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeRedemption")
            .field("code", &"<redacted>")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("code_verifier", &self.code_verifier.map(|_| "<redacted>"))
            .finish()
    }
}

/// A redeemed code: the grant to mint tokens for, the nonce to put in the ID token, the user's
/// session epoch (for the access token, checked again at userinfo), and for an `offline_access`
/// grant its first refresh token (returned once).
#[derive(Debug)]
pub struct RedeemedCode {
    pub grant: OAuthGrant,
    pub nonce: Option<String>,
    pub session_epoch: i64,
    pub refresh_token: Option<SecretToken>,
}

/// Whether this code may be redeemed by this request now. Checks that do not consume the code
/// come first (client, redirect URI, PKCE), so a code presented by another client or with a
/// wrong verifier stays usable by its owner; then reuse (which revokes), expiry, revocation.
pub fn code_redeemable(
    code: &OAuthCode,
    grant: &OAuthGrant,
    attempt: &CodeRedemption<'_>,
    now: Timestamp,
) -> Result<(), InvalidGrant> {
    if grant.client_id != attempt.client_id {
        return Err(InvalidGrant::WrongClient);
    }
    if code.redirect_uri != attempt.redirect_uri {
        return Err(InvalidGrant::RedirectUriMismatch);
    }
    match (&code.code_challenge, attempt.code_verifier) {
        (Some(_), None) => return Err(InvalidGrant::VerifierMissing),
        (None, Some(_)) => return Err(InvalidGrant::UnexpectedVerifier),
        (Some(challenge), Some(verifier)) => {
            let matches: bool = pkce_s256(verifier)
                .as_bytes()
                .ct_eq(challenge.as_bytes())
                .into();
            if !matches {
                return Err(InvalidGrant::VerifierMismatch);
            }
        }
        (None, None) => {}
    }
    if code.used_at.is_some() {
        return Err(InvalidGrant::CodeReused);
    }
    if code.expires_at <= now.as_micros() {
        return Err(InvalidGrant::Expired);
    }
    if grant.revoked_at.is_some() {
        return Err(InvalidGrant::GrantRevoked);
    }
    Ok(())
}

impl Store {
    /// Creates a grant and issues its authorization code, in one transaction, at `now`. Returns
    /// the code once; only its SHA-256 is stored. Audited as `oauth_grant.created`.
    pub fn issue_authorization_code(
        &self,
        actor: &Actor,
        grant: &NewOAuthGrant,
        binding: &CodeBinding,
        now: Timestamp,
    ) -> StoreResult<(OAuthGrant, SecretToken)> {
        let code = generate_bearer()?;
        let grant = self.write(|conn| {
            let grant = insert_grant(conn, actor, grant, now)?;
            diesel::insert_into(oauth_codes::table)
                .values(&OAuthCode {
                    code_hash: code.hash().0,
                    grant_id: grant.id.clone(),
                    redirect_uri: binding.redirect_uri.clone(),
                    code_challenge: binding.code_challenge.clone(),
                    nonce: binding.nonce.clone(),
                    created_at: now.as_micros(),
                    expires_at: now.plus_seconds(CODE_TTL_SECONDS).as_micros(),
                    used_at: None,
                })
                .execute(conn)?;
            Ok(grant)
        })?;
        Ok((grant, code))
    }

    /// Redeems a code at `now` (K2). The decision is [`code_redeemable`]; the code is then
    /// consumed by one conditional UPDATE, so of any number of concurrent redemptions exactly
    /// one succeeds. A used code presented again (or a loser of that race) revokes the grant,
    /// and that revocation commits: the refusal is `Ok(Err(_))`, not a rolled-back error.
    /// Audited as `oauth_grant.code_redeemed`.
    pub fn redeem_authorization_code(
        &self,
        actor: &Actor,
        attempt: &CodeRedemption<'_>,
        now: Timestamp,
    ) -> StoreResult<Result<RedeemedCode, InvalidGrant>> {
        let code_hash = bearer_hash(attempt.code);
        self.write(|conn| {
            // The code and its grant in one statement, so one snapshot: a reader that sees the
            // grant revoked by a losing redemption also sees the winner's use of the code, and
            // answers `CodeReused` (on PostgreSQL two reads could straddle both commits).
            let Some((code, grant)) = oauth_codes::table
                .inner_join(oauth_grants::table)
                .filter(oauth_codes::code_hash.eq(&code_hash))
                .select((OAuthCode::as_select(), OAuthGrant::as_select()))
                .get_result::<(OAuthCode, OAuthGrant)>(conn)
                .optional()?
            else {
                return Ok(Err(InvalidGrant::Unknown));
            };
            match code_redeemable(&code, &grant, attempt, now) {
                Ok(()) => {}
                Err(InvalidGrant::CodeReused) => {
                    revoke_grant(conn, actor, &grant, RevokeReason::CodeReuse, now)?;
                    return Ok(Err(InvalidGrant::CodeReused));
                }
                Err(refused) => return Ok(Err(refused)),
            }
            // Every code exchange: kept prepared.
            let consumed = update_kept_prepared!(
                &mut *conn,
                diesel::update(
                    oauth_codes::table
                        .filter(oauth_codes::code_hash.eq(&code_hash))
                        .filter(oauth_codes::used_at.is_null())
                        .filter(oauth_codes::expires_at.gt(now.as_micros())),
                )
                .set(oauth_codes::used_at.eq(Some(now.as_micros()))),
                returning oauth_codes::code_hash
            )?;
            if consumed != 1 {
                // Another redemption got there first: this is a second use.
                revoke_grant(conn, actor, &grant, RevokeReason::CodeReuse, now)?;
                return Ok(Err(InvalidGrant::CodeReused));
            }
            let session_epoch: i64 = users::table
                .find(&grant.user_id)
                .select(users::session_epoch)
                .get_result(conn)?;
            let refresh_token = if grant.offline {
                Some(insert_refresh_token(conn, &grant, None, &grant.scope, now)?)
            } else {
                None
            };
            audit_grant_event(conn, actor, "oauth_grant.code_redeemed", &grant)?;
            Ok(Ok(RedeemedCode {
                nonce: code.nonce,
                grant,
                session_epoch,
                refresh_token,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use roster_domain::Timestamp;

    use super::{code_redeemable, CodeRedemption, OAuthCode};
    use crate::models::oauth_grants::pkce_s256;
    use crate::{InvalidGrant, OAuthGrant};

    const VERIFIER: &str = "dBjftJeZ4CVP-mJ0kSn4-1K2E5wEHgA0H7J2dGkIhNo-verifier";

    fn grant(revoked: bool) -> OAuthGrant {
        crate::models::oauth_grants::test_grant("openid", false, revoked)
    }

    fn code(challenge: bool, used: bool) -> OAuthCode {
        OAuthCode {
            code_hash: "h".into(),
            grant_id: "g".into(),
            redirect_uri: "https://app.example/cb".into(),
            code_challenge: challenge.then(|| pkce_s256(VERIFIER)),
            nonce: None,
            created_at: 0,
            expires_at: 60_000_000,
            used_at: used.then_some(10),
        }
    }

    #[test]
    fn a_redemption_never_shows_its_code_or_verifier() {
        let shown = format!(
            "{:?}",
            CodeRedemption {
                code: "the-code",
                client_id: "app",
                redirect_uri: "https://app.example/cb",
                code_verifier: Some(VERIFIER),
            }
        );
        assert!(
            !shown.contains("the-code") && !shown.contains(VERIFIER),
            "{shown}"
        );
        assert!(shown.contains("app"));
    }

    #[test]
    fn pkce_s256_matches_an_independent_implementation() {
        // Python: base64.urlsafe_b64encode(hashlib.sha256(v).digest()).rstrip(b"=").
        assert_eq!(
            pkce_s256(VERIFIER),
            "bom-kBzocdot6rY4UXL5MZaXipSu9hYtMIx9o8fDd2o"
        );
    }

    #[test]
    fn which_redemptions_are_refused_and_in_what_order() {
        let ok = CodeRedemption {
            code: "c",
            client_id: "app",
            redirect_uri: "https://app.example/cb",
            code_verifier: Some(VERIFIER),
        };
        // (code has challenge, code used, grant revoked, attempt, now, expected)
        let cases = [
            (true, false, false, ok, 59, Ok(())),
            (
                false,
                false,
                false,
                CodeRedemption {
                    code_verifier: None,
                    ..ok
                },
                0,
                Ok(()),
            ),
            (true, false, false, ok, 60, Err(InvalidGrant::Expired)),
            (true, true, false, ok, 0, Err(InvalidGrant::CodeReused)),
            (true, false, true, ok, 0, Err(InvalidGrant::GrantRevoked)),
            // A wrong client is refused before anything that would consume or revoke.
            (
                true,
                true,
                false,
                CodeRedemption {
                    client_id: "other",
                    ..ok
                },
                0,
                Err(InvalidGrant::WrongClient),
            ),
            (
                true,
                false,
                false,
                CodeRedemption {
                    client_id: "other",
                    ..ok
                },
                99,
                Err(InvalidGrant::WrongClient),
            ),
            (
                true,
                true,
                false,
                CodeRedemption {
                    redirect_uri: "https://app.example/cb/",
                    ..ok
                },
                0,
                Err(InvalidGrant::RedirectUriMismatch),
            ),
            (
                true,
                false,
                false,
                CodeRedemption {
                    redirect_uri: "https://APP.example/cb",
                    ..ok
                },
                0,
                Err(InvalidGrant::RedirectUriMismatch),
            ),
            (
                true,
                true,
                false,
                CodeRedemption {
                    code_verifier: None,
                    ..ok
                },
                0,
                Err(InvalidGrant::VerifierMissing),
            ),
            (
                true,
                false,
                false,
                CodeRedemption {
                    code_verifier: Some("x"),
                    ..ok
                },
                0,
                Err(InvalidGrant::VerifierMismatch),
            ),
            (
                false,
                false,
                false,
                ok,
                0,
                Err(InvalidGrant::UnexpectedVerifier),
            ),
        ];
        for (challenge, used, revoked, attempt, now, expected) in cases {
            assert_eq!(
                code_redeemable(
                    &code(challenge, used),
                    &grant(revoked),
                    &attempt,
                    Timestamp::from_micros(now * 1_000_000)
                ),
                expected,
                "{challenge} {used} {revoked} {attempt:?} {now}"
            );
        }
    }
}
