//! SAML 2.0 service provider: IdP metadata, AuthnRequests, and the validation policy wrapped
//! around samael (see `docs/security.md`). Being written.
