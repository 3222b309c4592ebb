//! Session tokens: an ES256 JWT in the `roster_session` cookie, verifiable by any product with
//! the keys at `/.well-known/jwks.json`.
//!
//! The token carries who (user, workspace, roles) and the user's `session_epoch`. Verifying a
//! session here also reloads the user: a token whose epoch is behind the user's (deactivated,
//! SCIM DELETE, disabled by an admin) or whose id was logged out is refused at once, whatever its
//! expiry says. Products that only check the signature get the roles of the login and an expiry
//! of [`SESSION_SECONDS`]; they call `/api/v1/me` when they need the live state.
//!
//! Keys live in the database (`session_keys`) so every replica signs and verifies with the same
//! ones; the first replica to start creates one.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use roster_store::domain::{Timestamp, User, Workspace};
use roster_store::{SessionKeyRecord, Store, StoreError};
use serde::{Deserialize, Serialize};

/// How long a session lasts.
pub const SESSION_SECONDS: i64 = 8 * 3600;
/// The audience of session tokens.
pub const SESSION_AUDIENCE: &str = "roster-session";
/// The session cookie.
pub const SESSION_COOKIE: &str = "roster_session";

/// The claims of a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// Session id (for logout).
    pub sid: String,
    /// Workspace id and slug.
    pub wid: String,
    pub workspace: String,
    pub roles: Vec<String>,
    pub epoch: i64,
    /// The connection the user logged in through.
    pub cid: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no session")]
    Missing,
    #[error("invalid session: {0}")]
    Invalid(String),
    #[error("session ended")]
    Ended,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("session key: {0}")]
    Key(String),
}

/// Generates a new P-256 key as a storable record.
pub fn generate_key() -> Result<SessionKeyRecord, SessionError> {
    let secret = loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|err| SessionError::Key(err.to_string()))?;
        if let Ok(key) = p256::SecretKey::from_slice(&bytes) {
            break key;
        }
    };
    let pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|err| SessionError::Key(err.to_string()))?;
    let point = secret.public_key().to_encoded_point(false);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(SessionError::Key(
            "public key has no coordinates".to_owned(),
        ));
    };
    let mut kid_bytes = [0u8; 8];
    getrandom::fill(&mut kid_bytes).map_err(|err| SessionError::Key(err.to_string()))?;
    let kid = hex::encode(kid_bytes);
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": b64.encode(x), "y": b64.encode(y),
    });
    Ok(SessionKeyRecord {
        kid,
        algorithm: "ES256".to_owned(),
        private_pem: pem.to_string(),
        public_jwk: jwk.to_string(),
        created_at: Timestamp::now().as_micros(),
        retired_at: None,
    })
}

/// Signs and verifies session tokens with the keys in the store.
#[derive(Clone, Debug)]
pub struct Sessions {
    store: Store,
    issuer: String,
}

impl Sessions {
    /// Makes sure a signing key exists.
    pub fn new(store: Store, issuer: String) -> Result<Self, SessionError> {
        if store.session_keys()?.iter().all(|k| k.retired_at.is_some()) {
            store.ensure_session_key(&generate_key()?)?;
        }
        Ok(Self { store, issuer })
    }

    /// The JWKS document of every key that may still verify a live token.
    pub fn jwks(&self) -> Result<serde_json::Value, SessionError> {
        let cutoff = Timestamp::now().plus_seconds(-SESSION_SECONDS).as_micros();
        let keys: Vec<serde_json::Value> = self
            .store
            .session_keys()?
            .into_iter()
            .filter(|k| k.retired_at.is_none_or(|at| at > cutoff))
            .filter_map(|k| serde_json::from_str(&k.public_jwk).ok())
            .collect();
        Ok(serde_json::json!({ "keys": keys }))
    }

    /// Issues a token for `user`; returns it with its claims.
    pub fn issue(
        &self,
        workspace: &Workspace,
        user: &User,
        roles: Vec<String>,
        connection_id: &str,
    ) -> Result<(String, SessionClaims), SessionError> {
        let key = self
            .store
            .session_keys()?
            .into_iter()
            .find(|k| k.retired_at.is_none())
            .ok_or_else(|| SessionError::Key("no active session key".to_owned()))?;
        let now = Timestamp::now().as_micros() / 1_000_000;
        let claims = SessionClaims {
            iss: self.issuer.clone(),
            aud: SESSION_AUDIENCE.to_owned(),
            sub: user.id.to_string(),
            sid: uuid_like()?,
            wid: workspace.id.to_string(),
            workspace: workspace.slug.to_string(),
            roles,
            epoch: user.session_epoch,
            cid: connection_id.to_owned(),
            iat: now,
            exp: now + SESSION_SECONDS,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        let encoding = EncodingKey::from_ec_pem(key.private_pem.as_bytes())
            .map_err(|err| SessionError::Key(err.to_string()))?;
        let token = jsonwebtoken::encode(&header, &claims, &encoding)
            .map_err(|err| SessionError::Key(err.to_string()))?;
        Ok((token, claims))
    }

    /// The claims of a token signed by one of our keys, expired or not (logout of a stale
    /// session must still revoke it).
    pub fn decode_for_logout(&self, token: &str) -> Result<SessionClaims, SessionError> {
        let (decoding, mut validation) = self.decoding(token)?;
        validation.validate_exp = false;
        Ok(
            jsonwebtoken::decode::<SessionClaims>(token, &decoding, &validation)
                .map_err(|err| SessionError::Invalid(err.to_string()))?
                .claims,
        )
    }

    fn decoding(&self, token: &str) -> Result<(DecodingKey, Validation), SessionError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|err| SessionError::Invalid(err.to_string()))?;
        if header.alg != Algorithm::ES256 {
            return Err(SessionError::Invalid("algorithm".to_owned()));
        }
        let kid = header
            .kid
            .ok_or_else(|| SessionError::Invalid("no kid".to_owned()))?;
        let key = self
            .store
            .session_keys()?
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| SessionError::Invalid("unknown kid".to_owned()))?;
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(&key.public_jwk)
            .map_err(|err| SessionError::Key(err.to_string()))?;
        let decoding =
            DecodingKey::from_jwk(&jwk).map_err(|err| SessionError::Key(err.to_string()))?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&[SESSION_AUDIENCE]);
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.leeway = 0;
        Ok((decoding, validation))
    }

    /// Verifies a token's signature, expiry, issuer and audience, then that it was not logged
    /// out and that the user is still active at the token's epoch.
    pub fn verify(&self, token: &str) -> Result<(SessionClaims, Workspace, User), SessionError> {
        let (decoding, validation) = self.decoding(token)?;
        let claims = jsonwebtoken::decode::<SessionClaims>(token, &decoding, &validation)
            .map_err(|err| SessionError::Invalid(err.to_string()))?
            .claims;
        if self.store.is_session_revoked(&claims.sid)? {
            return Err(SessionError::Ended);
        }
        let workspace_id = claims
            .wid
            .parse()
            .map_err(|_| SessionError::Invalid("workspace".to_owned()))?;
        let user_id = claims
            .sub
            .parse()
            .map_err(|_| SessionError::Invalid("subject".to_owned()))?;
        let workspace = self.store.workspace(workspace_id)?;
        let user = match self.store.user(workspace_id, user_id) {
            Ok(user) => user,
            Err(StoreError::NotFound { .. }) => return Err(SessionError::Ended),
            Err(err) => return Err(err.into()),
        };
        if !user.lifecycle.is_active() || user.session_epoch != claims.epoch {
            return Err(SessionError::Ended);
        }
        Ok((claims, workspace, user))
    }

    /// Ends the session of a (valid or expired-but-signed) token.
    pub fn revoke(&self, claims: &SessionClaims) -> Result<(), SessionError> {
        self.store
            .revoke_session(&claims.sid, Timestamp::from_micros(claims.exp * 1_000_000))?;
        Ok(())
    }
}

/// The CSRF token of a session: derived from its id, which only the (HttpOnly) cookie and the
/// server know, so another site can neither read nor compute it.
pub fn csrf_token(session_id: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(
        format!("roster-csrf:{session_id}").as_bytes(),
    ))
}

impl roster_store::domain::SessionVerifier for Sessions {
    fn verify_session(&self, token: &str) -> Option<roster_store::domain::SessionPrincipal> {
        let (claims, workspace, user) = self.verify(token).ok()?;
        Some(roster_store::domain::SessionPrincipal {
            workspace_id: workspace.id,
            user_id: user.id,
            csrf_token: csrf_token(&claims.sid),
            session_id: claims.sid,
            via_sso: claims.cid != "password",
        })
    }
}

fn uuid_like() -> Result<String, SessionError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|err| SessionError::Key(err.to_string()))?;
    Ok(hex::encode(bytes))
}
