//! The logout-token signer of the back-channel logout worker: the OpenID Provider's keys and
//! issuer, handed to `roster-webhooks` as a [`LogoutTokenSigner`] so the delivery crate needs no
//! dependency on the provider.

use roster_provider::tokens::{mint_logout_token, LogoutTokenInput};
use roster_provider::ProviderState;
use roster_store::domain::Timestamp;
use roster_webhooks::{LogoutTokenRequest, LogoutTokenSigner, MintError};

/// Mints logout tokens (Back-Channel Logout 1.0 §2.4) with the key that signs the app's ID
/// tokens, at the moment of each attempt.
#[derive(Debug, Clone)]
pub struct ProviderLogoutSigner {
    provider: ProviderState,
}

impl ProviderLogoutSigner {
    pub fn new(provider: ProviderState) -> Self {
        Self { provider }
    }
}

impl LogoutTokenSigner for ProviderLogoutSigner {
    fn mint(&self, request: &LogoutTokenRequest<'_>) -> Result<String, MintError> {
        // On a fresh deployment the first token creates the provider's keys, and a key signs
        // from the moment it was made: another delivery thread of the same burst, which read
        // the clock just before, finds no current key. Its second look, with the clock read
        // again, finds it.
        let key = self
            .provider
            .signing_key(request.alg, Timestamp::now())
            .or_else(|_| self.provider.signing_key(request.alg, Timestamp::now()))
            .map_err(|err| MintError(err.to_string()))?;
        let now = Timestamp::now();
        let input = LogoutTokenInput {
            issuer: self.provider.issuer(),
            client_id: request.client_id,
            sub: request.sub,
            sid: Some(request.sid),
        };
        let (token, _) =
            mint_logout_token(&input, &key, now).map_err(|err| MintError(err.to_string()))?;
        Ok(token)
    }
}
