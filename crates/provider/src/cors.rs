//! Cross-origin access for products that run in the browser.
//!
//! A single-page app is a public app (`roster app create --public`): it calls the token and
//! revocation endpoints from its own origin, so the browser needs
//! `Access-Control-Allow-Origin` to hand it the answer. Those answers carry tokens, so only the
//! origins of the redirect URIs that public apps registered get it — a confidential app's
//! secret never belongs in a browser, and an arbitrary site gets nothing. Userinfo, discovery
//! and the JWKS take a bearer token or nothing, never a cookie, so any origin may read them
//! (`*`, without credentials).

use roster_store::{ClientAuthMethod, OAuthApp};

/// Whether `origin` (as a browser writes it in `Origin`) is the origin of a redirect URI that a
/// public app registered.
pub fn is_public_app_origin(apps: &[OAuthApp], origin: &str) -> bool {
    apps.iter()
        .filter(|app| app.auth_method == ClientAuthMethod::None)
        .flat_map(|app| app.redirect_uris.iter())
        .any(|uri| roster_sso::browser::origin_of(uri).as_deref() == Some(origin))
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_store::domain::Timestamp;
    use roster_store::SigningAlg;

    fn app(auth_method: ClientAuthMethod, redirect_uris: &[&str]) -> OAuthApp {
        OAuthApp {
            client_id: "c".to_owned(),
            name: "App".to_owned(),
            auth_method,
            id_token_alg: SigningAlg::Rs256,
            redirect_uris: redirect_uris.iter().map(|u| u.to_string()).collect(),
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            secret_hint: None,
            previous_secret_until: None,
            created_at: Timestamp::from_micros(0),
            updated_at: Timestamp::from_micros(0),
        }
    }

    #[test]
    fn only_public_apps_redirect_origins_may_read_token_answers() {
        let apps = [
            app(ClientAuthMethod::None, &["https://spa.example/callback"]),
            app(
                ClientAuthMethod::None,
                &["http://127.0.0.1:5173/cb", "https://spa.example:8443/cb"],
            ),
            app(
                ClientAuthMethod::ClientSecretBasic,
                &["https://server.example/callback"],
            ),
        ];
        for (origin, allowed) in [
            ("https://spa.example", true),
            ("http://127.0.0.1:5173", true),
            ("https://spa.example:8443", true),
            ("https://spa.example:443", false),
            ("http://spa.example", false),
            ("https://evil.example", false),
            ("https://spa.example.evil.example", false),
            ("https://server.example", false),
            ("null", false),
            ("", false),
        ] {
            assert_eq!(is_public_app_origin(&apps, origin), allowed, "{origin}");
        }
    }
}
