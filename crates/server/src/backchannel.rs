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
    /// Loads the provider's keys into its cache (creating them if the deployment has none yet).
    fn prepare(&self) -> Result<(), MintError> {
        self.provider
            .verifying_keys(Timestamp::now())
            .map(|_| ())
            .map_err(|err| MintError(err.to_string()))
    }

    fn mint(&self, request: &LogoutTokenRequest<'_>) -> Result<String, MintError> {
        // A key signs from the moment it was made: if it was made (by another thread or
        // replica, on a fresh deployment) just after this thread read the clock, there is no
        // current key at that instant. A second look, with the clock read again, finds it.
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
