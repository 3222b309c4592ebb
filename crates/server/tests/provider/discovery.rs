//! Discovery and keys: the metadata document exactly as the contract says (with the Discovery
//! defaults that would claim too much overridden), and one JWKS that holds the session keys and
//! the provider's RS256 and ES256 keys, following their rotation.

use pretty_assertions::assert_eq;
use roster_provider::keys::generate_key;
use roster_store::domain::{Actor, Timestamp};
use roster_store::SigningAlg;
use serde_json::{json, Value};

use crate::Provider;

#[test]
fn the_metadata_is_the_contract_with_the_public_url_as_issuer() {
    let provider = Provider::start("https://id.example.test/", 5);
    let issuer = "https://id.example.test";
    let expected = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
        "end_session_endpoint": format!("{issuer}/oauth2/logout"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "scopes_supported":
            ["openid", "profile", "email", "roles", "groups", "attributes", "offline_access"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "amr", "acr", "email",
            "email_verified", "name", "given_name", "family_name", "preferred_username", "wid",
            "workspace", "idp", "roles", "groups", "attributes"
        ],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    });
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let reply = provider.get(path);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.body, expected, "{path}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
        assert_eq!(reply.header("cache-control"), Some("public, max-age=3600"));
    }
}

/// The kids of the JWKS with their `alg`, sorted; asserts what every JWK must carry.
fn published(provider: &Provider) -> Vec<(String, String)> {
    let reply = provider.get("/.well-known/jwks.json");
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert_eq!(reply.header("cache-control"), Some("public, max-age=300"));
    let mut keys: Vec<(String, String)> = reply.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|jwk: &Value| {
            assert_eq!(jwk["use"], "sig", "{jwk}");
            for private_member in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(jwk.get(private_member).is_none(), "{jwk}");
            }
            (
                jwk["kid"].as_str().unwrap().to_owned(),
                jwk["alg"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    keys.sort();
    let mut kids: Vec<&String> = keys.iter().map(|(kid, _)| kid).collect();
    kids.dedup();
    assert_eq!(kids.len(), keys.len(), "kids are unique");
    keys
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = list
        .iter()
        .map(|(kid, alg)| ((*kid).to_owned(), (*alg).to_owned()))
        .collect();
    pairs.sort();
    pairs
}

#[test]
fn one_jwks_publishes_the_session_keys_and_the_providers_keys_through_their_rotation() {
    let provider = Provider::start("http://roster.test", 0);
    let store = &provider.db.store;
    assert!(store.oauth_signing_keys().unwrap().is_empty());

    // The first request creates one provider key per algorithm, once.
    let first = published(&provider);
    assert_eq!(published(&provider), first);
    let session_kid = store.session_keys().unwrap()[0].kid.clone();
    let provider_keys = store.oauth_signing_keys().unwrap();
    assert_eq!(provider_keys.len(), 2);
    let kid_of = |alg: SigningAlg| {
        provider_keys
            .iter()
            .find(|key| key.algorithm == alg.as_str())
            .unwrap()
            .kid
            .clone()
    };
    let (rsa, ec) = (kid_of(SigningAlg::Rs256), kid_of(SigningAlg::Es256));
    assert_eq!(
        first,
        pairs(&[(&session_kid, "ES256"), (&rsa, "RS256"), (&ec, "ES256")])
    );

    // A rotation publishes the next RS256 key at once, an hour before it signs; the old one
    // stays published.
    let now = Timestamp::now();
    let next = generate_key(SigningAlg::Rs256, now).unwrap();
    store
        .rotate_oauth_signing_key(
            &Actor::Cli,
            &next,
            now,
            now.plus_seconds(3600),
            now.plus_seconds(7200),
        )
        .unwrap();
    assert_eq!(
        published(&provider),
        pairs(&[
            (&session_kid, "ES256"),
            (&rsa, "RS256"),
            (&next.kid, "RS256"),
            (&ec, "ES256")
        ])
    );

    // An emergency rotation unpublishes every older RS256 key at once.
    let now = Timestamp::now();
    let replacement = generate_key(SigningAlg::Rs256, now).unwrap();
    store
        .rotate_oauth_signing_key(&Actor::Cli, &replacement, now, now, now)
        .unwrap();
    assert_eq!(
        published(&provider),
        pairs(&[
            (&session_kid, "ES256"),
            (&replacement.kid, "RS256"),
            (&ec, "ES256")
        ])
    );
}
