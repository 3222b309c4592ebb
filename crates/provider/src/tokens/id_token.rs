//! The ID token: who signed in, to which app, in which workspace (OpenID Connect Core §2).
//!
//! Claims follow the scopes granted (Core §5.4): `email`, `email_verified` with `email`;
//! `name`, `given_name`, `family_name`, `preferred_username` with `profile`; `roles` and
//! `groups` with their own scopes; the workspace's custom attributes with `attributes`. `wid`,
//! `workspace`, `idp`, `amr`, `sid` and `auth_time` are always there.
//!
//! **Custom attributes** are one scope and one nested claim, `attributes: {NAME: VALUE}`, rather
//! than a scope per attribute: scopes are deployment-wide (discovery publishes them) while
//! attributes differ per workspace, and names inside an object cannot collide with registered
//! claims. Which attributes an app may see is the workspace's choice, per declaration
//! (`released`); the caller passes only those.
//!
//! **Size cap (P8).** Products keep the ID token in a cookie, and browsers drop cookies above
//! 4 KB silently. The role and group names together get at most
//! [`ID_TOKEN_LIST_BUDGET_BYTES`] of JSON in the ID token, roles first (they drive
//! authorization), in the order given; a list that was cut is flagged with `roles_truncated` /
//! `groups_truncated: true`. The attributes have their own
//! [`ID_TOKEN_ATTRIBUTES_BUDGET_BYTES`]: each is kept whole or left out, in declaration order,
//! and `attributes_truncated: true` says one was left out. Userinfo always answers everything.

use roster_store::domain::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{jws::SigningKey, seconds};
use crate::ProviderError;

/// The `typ` header of ID tokens.
pub const ID_TOKEN_TYP: &str = "JWT";

/// How long an ID token is valid. Libraries check it once, at the callback.
pub const ID_TOKEN_LIFETIME_SECS: i64 = 300;

/// JSON bytes the role and group names may take in an ID token (both lists together).
pub const ID_TOKEN_LIST_BUDGET_BYTES: usize = 1024;

/// JSON bytes the custom attributes (`"name":value` each) may take in an ID token: room for the
/// usual handful (department, title, cost centre, manager), while an RS256 token with roles,
/// groups and attributes all at their caps still stays under 3.5 KB (1 KiB here would take it
/// to about 3.9 KB, too close to the 4 KB a cookie holds with its name and attributes).
pub const ID_TOKEN_ATTRIBUTES_BUDGET_BYTES: usize = 512;

/// What Roster knows about a signed-in user, as products read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserClaims {
    /// The Roster user id: stable across email changes, never reassigned.
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The user's userName.
    pub preferred_username: Option<String>,
    /// Workspace id.
    pub wid: String,
    /// Workspace slug.
    pub workspace: String,
    /// The connection the user signed in through.
    pub idp: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// App group names.
    pub groups: Vec<String>,
    /// The user's values of the attributes the workspace releases, in declaration order, each
    /// as stored (string, number, boolean, list of strings; a `user_ref` is the user's `sub`).
    pub attributes: Vec<(String, Value)>,
}

/// The user's claims that the granted scopes release: the body of userinfo, and the user part
/// of the ID token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopedClaims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    pub wid: String,
    pub workspace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// Attribute name → value; `{}` when the user has none of the released ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
}

impl UserClaims {
    /// The claims `scopes` release, with the full role and group lists (userinfo).
    pub fn scoped(&self, scopes: &[&str]) -> ScopedClaims {
        let has = |scope: &str| scopes.contains(&scope);
        let profile = has("profile");
        let when = |granted: bool, value: &Option<String>| value.clone().filter(|_| granted);
        ScopedClaims {
            sub: self.sub.clone(),
            email: when(has("email"), &self.email),
            email_verified: has("email").then_some(self.email_verified),
            name: when(profile, &self.name),
            given_name: when(profile, &self.given_name),
            family_name: when(profile, &self.family_name),
            preferred_username: when(profile, &self.preferred_username),
            wid: self.wid.clone(),
            workspace: self.workspace.clone(),
            idp: self.idp.clone(),
            roles: has("roles").then(|| self.roles.clone()),
            groups: has("groups").then(|| self.groups.clone()),
            attributes: has("attributes").then(|| self.attributes.iter().cloned().collect()),
        }
    }
}

/// The claims of an ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub sid: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The authentication context class the upstream IdP asserted (absent when none was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(flatten)]
    pub user: ScopedClaims,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub roles_truncated: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub groups_truncated: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attributes_truncated: bool,
}

/// What an ID token is minted from.
#[derive(Debug, Clone)]
pub struct IdTokenInput<'a> {
    /// The issuer: `server.public_url` without a trailing slash.
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub user: &'a UserClaims,
    pub scopes: &'a [&'a str],
    /// When the user last authenticated at the IdP (Core §2; `max_age` needs it).
    pub auth_time: Timestamp,
    /// The authorization request's nonce, echoed when it had one.
    pub nonce: Option<&'a str>,
    /// The session's id for this app ([`app_sid`]).
    pub sid: &'a str,
    /// How the user authenticated (RFC 8176 values, e.g. `["pwd"]`, `["mfa"]`), as the
    /// upstream IdP reported it.
    pub amr: &'a [String],
    /// The authentication context class the upstream IdP asserted, if any.
    pub acr: Option<&'a str>,
}

/// The claims of the ID token minted at `now` (its roles, groups and attributes capped).
pub fn id_token_claims(input: &IdTokenInput<'_>, now: Timestamp) -> IdTokenClaims {
    let iat = seconds(now);
    let mut user = input.user.scoped(input.scopes);
    let mut budget = ID_TOKEN_LIST_BUDGET_BYTES;
    let roles_truncated = cap(&mut user.roles, &mut budget);
    let groups_truncated = cap(&mut user.groups, &mut budget);
    let mut attributes_truncated = false;
    if user.attributes.is_some() {
        let (kept, truncated) = cap_attributes(&input.user.attributes);
        user.attributes = Some(kept);
        attributes_truncated = truncated;
    }
    IdTokenClaims {
        iss: input.issuer.to_owned(),
        aud: input.client_id.to_owned(),
        exp: iat + ID_TOKEN_LIFETIME_SECS,
        iat,
        auth_time: seconds(input.auth_time).min(iat),
        nonce: input.nonce.map(str::to_owned),
        sid: input.sid.to_owned(),
        amr: input.amr.to_vec(),
        acr: input.acr.map(str::to_owned),
        user,
        roles_truncated,
        groups_truncated,
        attributes_truncated,
    }
}

/// Keeps the leading names of `list` whose JSON fits in `budget` (spending it); whether any
/// were cut.
fn cap(list: &mut Option<Vec<String>>, budget: &mut usize) -> bool {
    let Some(names) = list else {
        return false;
    };
    let mut kept = 0;
    for name in names.iter() {
        // The quoted, escaped name and its comma.
        let cost = serde_json::to_string(name).map_or(usize::MAX, |json| json.len() + 1);
        if cost > *budget {
            break;
        }
        *budget -= cost;
        kept += 1;
    }
    let cut = kept < names.len();
    names.truncate(kept);
    cut
}

/// The attributes of `values` (in declaration order) whose `"name":value,` fits in
/// [`ID_TOKEN_ATTRIBUTES_BUDGET_BYTES`], each whole: one that does not fit is left out and the
/// later, smaller ones still get their turn. Whether any was left out.
fn cap_attributes(values: &[(String, Value)]) -> (Map<String, Value>, bool) {
    let mut budget = ID_TOKEN_ATTRIBUTES_BUDGET_BYTES;
    let mut kept = Map::new();
    let mut truncated = false;
    for (name, value) in values {
        // The quoted name, its colon, the value and its comma.
        let cost = match (serde_json::to_string(name), serde_json::to_string(value)) {
            (Ok(name), Ok(value)) => name.len() + 1 + value.len() + 1,
            _ => usize::MAX,
        };
        if cost > budget {
            truncated = true;
            continue;
        }
        budget -= cost;
        kept.insert(name.clone(), value.clone());
    }
    (kept, truncated)
}

/// The ID token, signed by `key` (the key of the app's `id_token_alg`), minted at `now`.
pub fn mint_id_token(
    input: &IdTokenInput<'_>,
    key: &SigningKey,
    now: Timestamp,
) -> Result<String, ProviderError> {
    key.sign(ID_TOKEN_TYP, &id_token_claims(input, now))
}

/// The `sid` of a Roster session at one app (K9): opaque, stable for the session, and different
/// per app so apps cannot correlate their users' sessions. `session_id` is Roster's server-side
/// session identifier, which no app ever sees; the same inputs give the same `sid`, so the
/// back-channel logout of a session needs no stored copy.
pub fn app_sid(session_id: &str, client_id: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"roster oidc sid\0");
    hash.update(session_id.as_bytes());
    hash.update(b"\0");
    hash.update(client_id.as_bytes());
    hex::encode(&hash.finalize()[..16])
}
