//! Bearer secrets (SCIM tokens, admin API keys, local passwords are elsewhere): generation,
//! hashing for storage, and constant-time comparison.
//!
//! A secret is 32 random bytes, URL-safe base64 without padding, behind a prefix that says what it
//! is (`rsct_` SCIM token, `rsak_` API key, `rscs_` OAuth client secret, `rsok_` operator key) so a leaked one is recognisable by secret scanners.
//! Only the SHA-256 of the whole string is stored; a secret has 256 bits of entropy, so a fast
//! hash is enough (a slow KDF protects low-entropy passwords, not random tokens).

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{DomainError, Timestamp};

/// What a secret grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    ScimToken,
    ApiKey,
    /// The secret of a product registered with Roster's OpenID Provider.
    ClientSecret,
    /// The SaaS operator's key to the operator API (every workspace).
    OperatorKey,
    /// A one-time setup link for a customer's IT admin (`/setup/{token}`).
    SetupLink,
    /// The session a redeemed setup link opens (the `roster_setup` cookie).
    SetupSession,
    /// A one-time invitation to become an admin of a workspace (`/invitations/{token}`).
    AdminInvitation,
}

impl SecretKind {
    const ALL: [SecretKind; 7] = [
        SecretKind::ScimToken,
        SecretKind::ApiKey,
        SecretKind::ClientSecret,
        SecretKind::OperatorKey,
        SecretKind::SetupLink,
        SecretKind::SetupSession,
        SecretKind::AdminInvitation,
    ];

    fn prefix(&self) -> &'static str {
        match self {
            SecretKind::ScimToken => "rsct_",
            SecretKind::ApiKey => "rsak_",
            SecretKind::ClientSecret => "rscs_",
            SecretKind::OperatorKey => "rsok_",
            SecretKind::SetupLink => "rssl_",
            SecretKind::SetupSession => "rsss_",
            SecretKind::AdminInvitation => "rsai_",
        }
    }
}

/// `path` for a log line: every segment that is a Roster secret (a setup link's
/// `/setup/rssl_…`, an invitation's `/invitations/rsai_…`, anything with a secret's prefix)
/// reads `<redacted>`. One-time links carry their secret in the URL, and every request is logged
/// with its path.
pub fn redact_path(path: &str) -> std::borrow::Cow<'_, str> {
    let secret = |segment: &str| {
        SecretKind::ALL
            .iter()
            .any(|kind| segment.starts_with(kind.prefix()))
    };
    if !path.split('/').any(secret) {
        return std::borrow::Cow::Borrowed(path);
    }
    std::borrow::Cow::Owned(
        path.split('/')
            .map(|segment| {
                if secret(segment) {
                    "<redacted>"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/"),
    )
}

/// A plaintext secret: shown once, never stored, never logged (its `Debug` is redacted).
pub struct SecretToken(String);

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

impl SecretToken {
    /// A fresh random secret.
    pub fn generate(kind: SecretKind) -> Result<Self, DomainError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|_| DomainError::invalid("secret", "the system random source failed"))?;
        Ok(Self(format!("{}{}", kind.prefix(), base64url(&bytes))))
    }

    /// Wraps a secret received from a client.
    pub fn from_presented(value: &str) -> Self {
        Self(value.to_owned())
    }

    /// Whether the secret has `kind`'s prefix: what it claims to be, before any lookup (an
    /// operator key sent to a workspace's API, or the other way round, is told so).
    pub fn claims(&self, kind: SecretKind) -> bool {
        self.0.starts_with(kind.prefix())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The stored form.
    pub fn hash(&self) -> SecretHash {
        SecretHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }

    /// A short, non-secret hint for listings (`rsct_AbCd…`).
    pub fn hint(&self) -> String {
        self.0.chars().take(9).collect::<String>() + "…"
    }
}

/// The hex SHA-256 of a secret, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHash(pub String);

impl SecretHash {
    /// Constant-time comparison with a presented secret.
    pub fn matches(&self, presented: &SecretToken) -> bool {
        self.matches_hash(&presented.hash())
    }

    /// [`Self::matches`] for a presented secret already hashed (to look it up by its hash).
    pub fn matches_hash(&self, presented: &SecretHash) -> bool {
        self.0.as_bytes().ct_eq(presented.0.as_bytes()).into()
    }
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 2);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The longest lifetime a SCIM token can be given in days (ten years); without one it never
/// expires.
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// When a SCIM token created `now` with a lifetime of `days` expires: `None` (never) without
/// one. Zero days would issue a token that is expired at once, so it is refused, like more than
/// [`MAX_TOKEN_DAYS`]. The CLI and the admin API both ask this.
pub fn token_expiry(now: Timestamp, days: Option<u32>) -> Result<Option<Timestamp>, DomainError> {
    match days {
        None => Ok(None),
        Some(days @ 1..=MAX_TOKEN_DAYS) => Ok(Some(now.plus_seconds(i64::from(days) * 86_400))),
        Some(days) => Err(DomainError::invalid(
            "token lifetime",
            format!(
                "{days} days: give 1 to {MAX_TOKEN_DAYS} days, or none for a token that does not expire"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_in_paths_are_redacted_and_other_paths_left_alone() {
        use super::redact_path;
        assert_eq!(redact_path("/setup/rssl_abc"), "/setup/<redacted>");
        assert_eq!(
            redact_path("/invitations/rsai_abc/password"),
            "/invitations/<redacted>/password"
        );
        assert_eq!(redact_path("/scim/v2/Users/42"), "/scim/v2/Users/42");
        assert!(matches!(
            redact_path("/api/v1/admin/users"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    use super::*;

    #[test]
    fn token_lifetimes_are_one_day_to_ten_years_or_none() {
        let now = Timestamp::from_micros(1_000_000);
        let check = |days: Option<u32>, want: Option<Option<i64>>| {
            let got = token_expiry(now, days)
                .ok()
                .map(|at| at.map(|at| at.as_micros()));
            assert_eq!(got, want, "{days:?}");
        };
        check(None, Some(None));
        check(Some(1), Some(Some(1_000_000 + 86_400_000_000)));
        check(Some(3650), Some(Some(1_000_000 + 3650 * 86_400_000_000)));
        check(Some(0), None);
        check(Some(3651), None);
        check(Some(u32::MAX), None);
    }

    #[test]
    fn tokens_are_prefixed_random_and_hash_verifiable() {
        let token = SecretToken::generate(SecretKind::ScimToken).unwrap();
        let other = SecretToken::generate(SecretKind::ScimToken).unwrap();
        assert!(token.expose().starts_with("rsct_"));
        assert_eq!(token.expose().len(), 5 + 43);
        assert_ne!(token.expose(), other.expose());
        let stored = token.hash();
        assert_eq!(stored.0.len(), 64);
        assert!(stored.matches(&SecretToken::from_presented(token.expose())));
        assert!(!stored.matches(&other));
        assert!(!format!("{token:?}").contains(token.expose()));
    }

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }
}
