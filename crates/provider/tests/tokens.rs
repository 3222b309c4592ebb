//! The provider's tokens, checked the way products check them: with independent libraries
//! (`openidconnect` for ID tokens, `jsonwebtoken` for the rest) against the published JWKs;
//! and the provider's own verification, against forged and misused tokens.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{ClientId, IssuerUrl, Nonce};
use pretty_assertions::assert_eq;
use roster_provider::keys::generate_key;
use roster_provider::tokens::*;
use roster_store::domain::Timestamp;
use roster_store::{SigningAlg, SigningKeyRecord};
use serde_json::{json, Value};

const ISSUER: &str = "https://id.example.com";
const CLIENT: &str = "0193b5c2-7d1e-7f00-9a8e-3f1c2b4d5e6f";

struct Key {
    record: SigningKeyRecord,
    signing: SigningKey,
}

/// One RS256 and one ES256 key for the whole binary (RSA generation is slow here).
fn keys() -> &'static [Key; 2] {
    static KEYS: OnceLock<[Key; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [SigningAlg::Rs256, SigningAlg::Es256].map(|alg| {
            let record = generate_key(alg, Timestamp::now()).unwrap();
            let signing = SigningKey::from_record(&record).unwrap();
            Key { record, signing }
        })
    })
}

fn rs256() -> &'static Key {
    &keys()[0]
}

fn es256() -> &'static Key {
    &keys()[1]
}

fn verifying_keys() -> Vec<VerifyingKey> {
    keys()
        .iter()
        .map(|key| VerifyingKey::from_record(&key.record).unwrap())
        .collect()
}

/// The JWK Set the provider publishes for these keys.
fn jwks() -> Value {
    let keys: Vec<Value> = keys()
        .iter()
        .map(|key| serde_json::from_str(&key.record.public_jwk).unwrap())
        .collect();
    json!({ "keys": keys })
}

fn decoding_key(key: &Key) -> DecodingKey {
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(&key.record.public_jwk).unwrap();
    DecodingKey::from_jwk(&jwk).unwrap()
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_micros(seconds * 1_000_000)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let decode = |part: &str| -> Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    };
    let header = decode(parts.next().unwrap());
    let claims = decode(parts.next().unwrap());
    (header, claims)
}

fn user() -> UserClaims {
    UserClaims {
        sub: "0193b5c2-0000-7000-8000-000000000001".to_owned(),
        email: Some("ada@acme.example".to_owned()),
        email_verified: true,
        name: Some("Ada Lovelace".to_owned()),
        given_name: Some("Ada".to_owned()),
        family_name: Some("Lovelace".to_owned()),
        preferred_username: Some("ada@acme.example".to_owned()),
        wid: "0193b5c2-0000-7000-8000-0000000000aa".to_owned(),
        workspace: "acme".to_owned(),
        idp: Some("0193b5c2-0000-7000-8000-0000000000cc".to_owned()),
        roles: vec!["admin".to_owned(), "viewer".to_owned()],
        groups: vec!["Engineering".to_owned()],
        attributes: vec![
            ("department".to_owned(), json!("Sales")),
            ("costCenter".to_owned(), json!(4100)),
            ("skills".to_owned(), json!(["negotiation", "SQL"])),
            ("remote".to_owned(), json!(true)),
            (
                "manager".to_owned(),
                json!("0193b5c2-0000-7000-8000-000000000002"),
            ),
        ],
    }
}

const ALL_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "roles",
    "groups",
    "attributes",
];

const MFA_CLASS: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract";

fn id_input<'a>(
    user: &'a UserClaims,
    scopes: &'a [&'a str],
    amr: &'a [String],
) -> IdTokenInput<'a> {
    IdTokenInput {
        issuer: ISSUER,
        client_id: CLIENT,
        user,
        scopes,
        auth_time: Timestamp::now().plus_seconds(-30),
        nonce: Some("n-0S6_WzA2Mj"),
        sid: "5f1c2b4d5e6f7a8b9c0d1e2f3a4b5c6d",
        amr,
        acr: Some(MFA_CLASS),
    }
}

/// An ID token of each algorithm passes openidconnect's verifier against the published JWKS
/// (issuer, audience, signature, algorithm, expiry, nonce), and carries the contract's claims.
#[test]
fn id_tokens_verify_with_openidconnect_against_the_published_jwks() {
    let user = user();
    let amr = vec!["pwd".to_owned()];
    let jwks: CoreJsonWebKeySet = serde_json::from_value(jwks()).unwrap();
    for (key, alg) in [
        (rs256(), CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256),
        (es256(), CoreJwsSigningAlgorithm::EcdsaP256Sha256),
    ] {
        let token = mint_id_token(
            &id_input(&user, ALL_SCOPES, &amr),
            &key.signing,
            Timestamp::now(),
        )
        .unwrap();
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new(CLIENT.to_owned()),
            IssuerUrl::new(ISSUER.to_owned()).unwrap(),
            jwks.clone(),
        )
        .set_allowed_algs([alg.clone()]);
        let id_token: CoreIdToken = token.parse().unwrap();
        let claims = id_token
            .claims(&verifier, &Nonce::new("n-0S6_WzA2Mj".to_owned()))
            .unwrap();
        assert_eq!(claims.subject().as_str(), user.sub);
        assert_eq!(claims.email().unwrap().as_str(), "ada@acme.example");
        assert_eq!(claims.email_verified(), Some(true));
        assert!(claims.auth_time().is_some());

        // The same token with the wrong nonce, or for another client, is refused.
        assert!(id_token
            .claims(&verifier, &Nonce::new("other".to_owned()))
            .is_err());
        let other_client = CoreIdTokenVerifier::new_public_client(
            ClientId::new("other-app".to_owned()),
            IssuerUrl::new(ISSUER.to_owned()).unwrap(),
            jwks.clone(),
        )
        .set_allowed_algs([alg]);
        assert!(id_token
            .claims(&other_client, &Nonce::new("n-0S6_WzA2Mj".to_owned()))
            .is_err());

        let (header, claims) = parts(&token);
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], key.record.kid.as_str());
        assert_eq!(header["alg"], key.record.algorithm.as_str());
        // Every claim discovery advertises is in a token with every scope.
        for name in roster_provider::discovery::CLAIMS_SUPPORTED {
            assert!(claims.get(name).is_some(), "{name} missing");
        }
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], CLIENT);
        assert_eq!(claims["wid"], user.wid.as_str());
        assert_eq!(claims["workspace"], "acme");
        assert_eq!(claims["roles"], json!(["admin", "viewer"]));
        assert_eq!(claims["groups"], json!(["Engineering"]));
        assert_eq!(claims["amr"], json!(["pwd"]));
        assert_eq!(claims["acr"], MFA_CLASS);
        assert_eq!(
            claims["attributes"],
            json!({
                "department": "Sales", "costCenter": 4100, "skills": ["negotiation", "SQL"],
                "remote": true, "manager": "0193b5c2-0000-7000-8000-000000000002",
            })
        );
        for flag in [
            "roles_truncated",
            "groups_truncated",
            "attributes_truncated",
        ] {
            assert!(claims.get(flag).is_none(), "{flag}");
        }
    }
}

/// Claims follow the scopes; `nonce` only when the request had one; the clock is read once and
/// floored, so `iat` is never ahead of it and `exp` is `iat` + the lifetime.
#[test]
fn id_token_claims_follow_scopes_nonce_and_the_injected_clock() {
    let user = user();
    let amr = vec!["mfa".to_owned()];
    let mut input = id_input(&user, &["openid"], &amr);
    input.nonce = None;
    input.auth_time = at(1_700_000_000);
    let now = Timestamp::from_micros(1_700_000_100_999_999);
    let claims = serde_json::to_value(id_token_claims(&input, now)).unwrap();
    assert_eq!(
        claims,
        json!({
            "iss": ISSUER, "aud": CLIENT, "sub": user.sub,
            "iat": 1_700_000_100, "exp": 1_700_000_100 + ID_TOKEN_LIFETIME_SECS,
            "auth_time": 1_700_000_000, "sid": "5f1c2b4d5e6f7a8b9c0d1e2f3a4b5c6d",
            "amr": ["mfa"], "acr": MFA_CLASS, "wid": user.wid, "workspace": "acme",
            "idp": user.idp,
        })
    );
    // No asserted class: no `acr` claim at all (never an empty or null one).
    let without = id_token_claims(
        &IdTokenInput {
            acr: None,
            ..input.clone()
        },
        now,
    );
    assert!(serde_json::to_value(without).unwrap().get("acr").is_none());

    let scoped = user.scoped(&["openid", "email"]);
    assert_eq!(scoped.email.as_deref(), Some("ada@acme.example"));
    assert_eq!(scoped.name, None);
    assert_eq!(scoped.roles, None);
    let scoped = user.scoped(&["openid", "profile", "groups"]);
    assert_eq!(scoped.email, None);
    assert_eq!(
        scoped.preferred_username.as_deref(),
        Some("ada@acme.example")
    );
    assert_eq!(scoped.groups, Some(vec!["Engineering".to_owned()]));
    assert_eq!(scoped.roles, None);

    // `attributes` only with its scope; with it, an object even when the user has no values
    // (as `groups` is a list even when empty), so "not granted" and "none" differ.
    assert_eq!(
        user.scoped(&["openid", "profile", "email"]).attributes,
        None
    );
    let scoped = user.scoped(&["openid", "attributes"]);
    let attributes = scoped.attributes.unwrap();
    assert_eq!(attributes.len(), 5);
    assert_eq!(attributes["department"], json!("Sales"));
    let without_values = UserClaims {
        attributes: Vec::new(),
        ..user.clone()
    };
    let claims = id_token_claims(
        &IdTokenInput {
            user: &without_values,
            scopes: &["openid", "attributes"],
            ..input.clone()
        },
        now,
    );
    let claims = serde_json::to_value(claims).unwrap();
    assert_eq!(claims["attributes"], json!({}));
    assert!(claims.get("attributes_truncated").is_none());

    // An auth_time ahead of the clock (a skewed replica) is never published ahead of iat.
    input.auth_time = at(1_700_000_500);
    assert_eq!(id_token_claims(&input, now).auth_time, 1_700_000_100);
}

/// P8: a user in hundreds of long-named groups gets an ID token that still fits a 4 KB cookie
/// (with room for the cookie's name and attributes); the lists are cut in order, roles first,
/// and flagged, while the scoped claims for userinfo keep everything.
#[test]
fn id_token_lists_are_capped_to_fit_a_cookie() {
    let mut user = user();
    user.roles = (0..100)
        .map(|i| format!("role-{i:03}-with-a-long-descriptive-name"))
        .collect();
    user.groups = (0..1000)
        .map(|i| format!("Engineering / Platform / Team {i:04} – Ålesund"))
        .collect();
    let amr = vec!["pwd".to_owned()];
    for key in keys() {
        let token = mint_id_token(
            &id_input(&user, ALL_SCOPES, &amr),
            &key.signing,
            Timestamp::now(),
        )
        .unwrap();
        assert!(
            token.len() <= 3_500,
            "{} bytes with {}",
            token.len(),
            key.record.algorithm
        );
        let (_, claims) = parts(&token);
        let roles: Vec<String> = serde_json::from_value(claims["roles"].clone()).unwrap();
        let groups: Vec<String> = serde_json::from_value(claims["groups"].clone()).unwrap();
        assert!(!roles.is_empty() && roles.len() < user.roles.len());
        assert_eq!(roles, user.roles[..roles.len()]);
        assert_eq!(groups, user.groups[..groups.len()]);
        assert_eq!(claims["roles_truncated"], true);
        assert_eq!(claims["groups_truncated"], true);
        let list_bytes = serde_json::to_string(&roles).unwrap().len()
            + serde_json::to_string(&groups).unwrap().len();
        assert!(list_bytes <= ID_TOKEN_LIST_BUDGET_BYTES + 4, "{list_bytes}");
    }
    let full = user.scoped(ALL_SCOPES);
    assert_eq!(full.roles.map(|roles| roles.len()), Some(100));
    assert_eq!(full.groups.map(|groups| groups.len()), Some(1000));
}

/// The `"name":value,` bytes of `attributes` in an ID token's claims.
fn attribute_bytes(attributes: &Value) -> usize {
    attributes
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| json!(name).to_string().len() + 1 + value.to_string().len() + 1)
        .sum()
}

/// P8 for attributes, on their own budget: each is kept whole or left out, in declaration
/// order (a large one left out does not keep a later small one out), the token is flagged
/// `attributes_truncated`, and userinfo's claims keep every value. With roles and groups at
/// their cap too, the token still fits a cookie.
#[test]
fn id_token_attributes_are_capped_whole_and_flagged() {
    let mut user = user();
    let big_list: Vec<String> = (0..40)
        .map(|i| format!("skill {i:02} – a long one"))
        .collect();
    user.attributes = vec![
        ("department".to_owned(), json!("Sales")),
        ("skills".to_owned(), json!(big_list)),
        ("title".to_owned(), json!("x".repeat(200))),
        ("bio".to_owned(), json!("y".repeat(200))),
        ("summary".to_owned(), json!("z".repeat(200))),
        ("costCenter".to_owned(), json!(4100)),
    ];
    let amr = vec!["pwd".to_owned()];
    let claims = serde_json::to_value(id_token_claims(
        &id_input(&user, &["openid", "attributes"], &amr),
        Timestamp::now(),
    ))
    .unwrap();
    let attributes = claims["attributes"].as_object().unwrap();
    let kept: Vec<&str> = attributes.keys().map(String::as_str).collect();
    // skills (~1 KB) does not fit after department; title and bio do, summary (~210 bytes) no
    // longer does, and the small costCenter after it still fits.
    assert_eq!(kept.len(), 4, "{kept:?}");
    for name in ["department", "title", "bio", "costCenter"] {
        assert_eq!(
            attributes[name],
            user.attributes.iter().find(|(n, _)| n == name).unwrap().1
        );
    }
    assert_eq!(claims["attributes_truncated"], true);
    assert!(attribute_bytes(&claims["attributes"]) <= ID_TOKEN_ATTRIBUTES_BUDGET_BYTES);
    // Roles and groups are not affected by the attributes' budget.
    assert_eq!(claims.get("roles"), None, "roles not granted");

    // Userinfo (the scoped claims) has every value.
    let full = user.scoped(&["openid", "attributes"]).attributes.unwrap();
    assert_eq!(full.len(), 6);
    assert_eq!(full["skills"], json!(big_list));

    // Everything at its cap: the token still fits a 4 KB cookie.
    user.roles = (0..100)
        .map(|i| format!("role-{i:03}-with-a-long-descriptive-name"))
        .collect();
    user.groups = (0..1000)
        .map(|i| format!("Engineering / Platform / Team {i:04} – Ålesund"))
        .collect();
    user.attributes = (0..50)
        .map(|i| (format!("attribute{i:02}"), json!("v".repeat(100))))
        .collect();
    for key in keys() {
        let token = mint_id_token(
            &id_input(&user, ALL_SCOPES, &amr),
            &key.signing,
            Timestamp::now(),
        )
        .unwrap();
        let (_, claims) = parts(&token);
        assert_eq!(claims["attributes_truncated"], true);
        assert_eq!(claims["roles_truncated"], true);
        assert!(
            token.len() <= 3_500,
            "{} bytes with {}",
            token.len(),
            key.record.algorithm
        );
    }
}

fn access_input() -> AccessTokenInput<'static> {
    AccessTokenInput {
        issuer: ISSUER,
        client_id: CLIENT,
        sub: "0193b5c2-0000-7000-8000-000000000001",
        scopes: &["openid", "email", "offline_access"],
        sid: Some("5f1c2b4d5e6f7a8b9c0d1e2f3a4b5c6d"),
        grant_id: "0193b5c2-0000-7000-8000-0000000000g1",
        session_epoch: 3,
    }
}

/// An access token is an RFC 9068 JWT that jsonwebtoken verifies with the published key, with
/// every required claim, a 5-minute life and a fresh jti per mint; our own verification
/// accepts it.
#[test]
fn access_tokens_are_rfc9068_jwts() {
    for (key, algorithm) in [(rs256(), Algorithm::RS256), (es256(), Algorithm::ES256)] {
        let now = Timestamp::now();
        let (token, claims) = mint_access_token(&access_input(), &key.signing, now).unwrap();
        let mut validation = Validation::new(algorithm);
        validation.set_audience(&[CLIENT]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["iss", "exp", "aud", "sub"]);
        let decoded =
            jsonwebtoken::decode::<Value>(&token, &decoding_key(key), &validation).unwrap();
        assert_eq!(decoded.header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(decoded.header.kid.as_deref(), Some(key.record.kid.as_str()));
        for name in [
            "iss",
            "exp",
            "aud",
            "sub",
            "client_id",
            "iat",
            "jti",
            "scope",
        ] {
            assert!(decoded.claims.get(name).is_some(), "{name} missing");
        }
        assert_eq!(decoded.claims["client_id"], CLIENT);
        assert_eq!(decoded.claims["scope"], "openid email offline_access");
        assert_eq!(claims.exp - claims.iat, 300);

        let (_, again) = mint_access_token(&access_input(), &key.signing, now).unwrap();
        assert_ne!(again.jti, claims.jti, "fresh jti");

        let verified = verify_access_token(&token, &verifying_keys(), ISSUER, now).unwrap();
        assert_eq!(verified, claims);
    }
}

/// Signs `claims` under `header` with `key`'s private half, bypassing the provider's minting:
/// the attacker's or a confused party's token.
fn forge(header: &Value, claims: &Value, key: &Key) -> String {
    let alg = match header["alg"].as_str().unwrap() {
        "RS256" => Algorithm::RS256,
        "ES256" => Algorithm::ES256,
        other => panic!("{other}"),
    };
    let mut jwt_header = jsonwebtoken::Header::new(alg);
    jwt_header.kid = header["kid"].as_str().map(str::to_owned);
    jwt_header.typ = header["typ"].as_str().map(str::to_owned);
    let encoding = jsonwebtoken::EncodingKey::from_rsa_pem(key.record.private_pem.as_bytes())
        .or_else(|_| jsonwebtoken::EncodingKey::from_ec_pem(key.record.private_pem.as_bytes()))
        .unwrap();
    jsonwebtoken::encode(&jwt_header, claims, &encoding).unwrap()
}

/// The same claims and header with a different signature part.
fn resigned(token: &str, header: &Value, signature: &[u8]) -> String {
    let claims = token.split('.').nth(1).unwrap();
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        claims,
        b64(signature)
    )
}

/// HS256 over `token`'s claims keyed with the RS256 key's public PEM (the key-confusion attack).
fn hs256_with_public_key(token: &str, kid: &str, typ: &str) -> String {
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::sign::Signer;
    let private = PKey::private_key_from_pem(rs256().record.private_pem.as_bytes()).unwrap();
    let public_pem = private.public_key_to_pem().unwrap();
    let header = json!({ "alg": "HS256", "kid": kid, "typ": typ });
    let claims = token.split('.').nth(1).unwrap();
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), claims);
    let hmac = PKey::hmac(&public_pem).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &hmac).unwrap();
    signer.update(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&signer.sign_to_vec().unwrap()))
}

/// Userinfo's verification refuses each forged or misused token, for its reason.
#[test]
fn access_token_verification_refuses_forgeries_and_misuse() {
    let keys = verifying_keys();
    let now = Timestamp::now();
    let (token, claims) = mint_access_token(&access_input(), &rs256().signing, now).unwrap();
    let kid = rs256().record.kid.as_str();
    let claims_json = serde_json::to_value(&claims).unwrap();
    let stranger_record = generate_key(SigningAlg::Es256, now).unwrap();
    let stranger = Key {
        signing: SigningKey::from_record(&stranger_record).unwrap(),
        record: stranger_record,
    };
    let id_token =
        mint_id_token(&id_input(&user(), ALL_SCOPES, &[]), &rs256().signing, now).unwrap();
    let mut foreign_iss = claims_json.clone();
    foreign_iss["iss"] = json!("https://evil.example");
    let mut trailing_slash = claims_json.clone();
    trailing_slash["iss"] = json!(format!("{ISSUER}/"));

    for (name, tampered, refusal) in [
        (
            "alg none",
            resigned(
                &token,
                &json!({ "alg": "none", "kid": kid, "typ": "at+jwt" }),
                b"",
            ),
            TokenRefusal::WrongAlgorithm,
        ),
        (
            "HS256 keyed with the public key",
            hs256_with_public_key(&token, kid, "at+jwt"),
            TokenRefusal::WrongAlgorithm,
        ),
        (
            "ES256 header on the RS256 key",
            resigned(
                &token,
                &json!({ "alg": "ES256", "kid": kid, "typ": "at+jwt" }),
                &[0; 64],
            ),
            TokenRefusal::WrongAlgorithm,
        ),
        (
            "no kid",
            resigned(&token, &json!({ "alg": "RS256", "typ": "at+jwt" }), b"x"),
            TokenRefusal::UnknownKey,
        ),
        (
            "a key that is not ours",
            forge(
                &json!({ "alg": "ES256", "kid": stranger.record.kid, "typ": "at+jwt" }),
                &claims_json,
                &stranger,
            ),
            TokenRefusal::UnknownKey,
        ),
        (
            "our kid, another key's signature",
            forge(
                &json!({ "alg": "ES256", "kid": es256().record.kid, "typ": "at+jwt" }),
                &claims_json,
                &stranger,
            ),
            TokenRefusal::BadSignature,
        ),
        (
            "claims changed after signing",
            {
                let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
                let mut changed = claims_json.clone();
                changed["sub"] = json!("someone-else");
                parts[1] = b64(changed.to_string().as_bytes());
                parts.join(".")
            },
            TokenRefusal::BadSignature,
        ),
        (
            "foreign iss",
            forge(
                &json!({ "alg": "RS256", "kid": kid, "typ": "at+jwt" }),
                &foreign_iss,
                rs256(),
            ),
            TokenRefusal::WrongIssuer,
        ),
        (
            "iss with a trailing slash",
            forge(
                &json!({ "alg": "RS256", "kid": kid, "typ": "at+jwt" }),
                &trailing_slash,
                rs256(),
            ),
            TokenRefusal::WrongIssuer,
        ),
        (
            "typ JWT",
            forge(
                &json!({ "alg": "RS256", "kid": kid, "typ": "JWT" }),
                &claims_json,
                rs256(),
            ),
            TokenRefusal::WrongType,
        ),
        (
            "no typ",
            forge(
                &json!({ "alg": "RS256", "kid": kid }),
                &claims_json,
                rs256(),
            ),
            TokenRefusal::WrongType,
        ),
        ("an ID token", id_token, TokenRefusal::WrongType),
        ("garbage", "a.b".to_owned(), TokenRefusal::Malformed),
    ] {
        assert_eq!(
            verify_access_token(&tampered, &keys, ISSUER, now).err(),
            Some(refusal),
            "{name}"
        );
    }

    // Expired: at exp exactly, and after.
    let exp = at(claims.exp);
    assert_eq!(
        verify_access_token(&token, &keys, ISSUER, exp).err(),
        Some(TokenRefusal::Expired)
    );
    assert!(verify_access_token(&token, &keys, ISSUER, at(claims.exp - 1)).is_ok());
    // The media-type form of typ is accepted (RFC 9068 §4).
    let media = forge(
        &json!({ "alg": "RS256", "kid": kid, "typ": "application/at+jwt" }),
        &claims_json,
        rs256(),
    );
    assert!(verify_access_token(&media, &keys, ISSUER, now).is_ok());
}

/// The userinfo cache answers a verified token until its exp, never after, and never caches a
/// refusal.
#[test]
fn access_token_cache_keeps_verified_tokens_until_exp() {
    let keys = verifying_keys();
    let cache = AccessTokenCache::new(2);
    let now = at(1_800_000_000);
    let (token, claims) = mint_access_token(&access_input(), &es256().signing, now).unwrap();

    assert_eq!(*cache.verify(&token, &keys, ISSUER, now).unwrap(), claims);
    assert_eq!(cache.len(), 1);
    // A hit needs no key: proof that it did not verify again.
    assert_eq!(*cache.verify(&token, &[], ISSUER, now).unwrap(), claims);
    // Another issuer is not answered from the cache.
    assert!(cache
        .verify(&token, &[], "https://other.example", now)
        .is_err());
    // At exp the entry is not used.
    assert_eq!(
        cache.verify(&token, &keys, ISSUER, at(claims.exp)).err(),
        Some(TokenRefusal::Expired)
    );

    assert!(cache.verify("x.y.z", &keys, ISSUER, now).is_err());
    assert_eq!(cache.len(), 1, "refusals are not cached");

    // Full: expired entries go first, then everything.
    let (second, _) = mint_access_token(&access_input(), &es256().signing, now).unwrap();
    let (third, _) = mint_access_token(&access_input(), &es256().signing, now).unwrap();
    cache.verify(&second, &keys, ISSUER, now).unwrap();
    cache.verify(&third, &keys, ISSUER, now).unwrap();
    assert!(cache.len() <= 2);
}

/// OP23–OP26: the id_token_hint is our ID token, accepted after its exp; access tokens, logout
/// tokens, forgeries and foreign issuers are refused; then the decision binds it to the client
/// and the session.
#[test]
fn id_token_hint_checks() {
    let keys = verifying_keys();
    let user = user();
    let sid = app_sid("session-1", CLIENT);
    let long_ago = at(1_600_000_000);
    let mut input = id_input(&user, ALL_SCOPES, &[]);
    input.sid = &sid;
    input.auth_time = long_ago;
    let hint = mint_id_token(&input, &es256().signing, long_ago).unwrap();

    // OP25: expired years ago, still accepted.
    let verified = verify_id_token_hint(&hint, &keys, ISSUER).unwrap();
    assert_eq!(verified.sub, user.sub);
    assert_eq!(verified.aud, CLIENT);
    assert_eq!(verified.sid.as_deref(), Some(sid.as_str()));

    let kid = rs256().record.kid.as_str();
    let (access_token, _) = mint_access_token(&access_input(), &rs256().signing, long_ago).unwrap();
    let (logout_token, _) = mint_logout_token(
        &LogoutTokenInput {
            issuer: ISSUER,
            client_id: CLIENT,
            sub: &user.sub,
            sid: Some(&sid),
        },
        &rs256().signing,
        long_ago,
    )
    .unwrap();
    let (_, hint_claims) = parts(&hint);
    let mut foreign = hint_claims.clone();
    foreign["iss"] = json!("https://evil.example");
    let mut with_client_id = hint_claims.clone();
    with_client_id["client_id"] = json!(CLIENT);
    for (name, token, refusal) in [
        (
            "OP23: an access token",
            access_token,
            TokenRefusal::WrongType,
        ),
        ("a logout token", logout_token, TokenRefusal::WrongType),
        (
            "OP23: ID token claims under typ at+jwt",
            forge(
                &json!({ "alg": "RS256", "kid": kid, "typ": "at+jwt" }),
                &hint_claims,
                rs256(),
            ),
            TokenRefusal::WrongType,
        ),
        (
            "ID token claims without typ",
            forge(
                &json!({ "alg": "RS256", "kid": kid }),
                &hint_claims,
                rs256(),
            ),
            TokenRefusal::WrongType,
        ),
        (
            "OP24: alg none",
            resigned(&hint, &json!({ "alg": "none", "typ": "JWT" }), b""),
            TokenRefusal::UnknownKey,
        ),
        (
            "OP24: alg none under our RS256 kid",
            resigned(
                &hint,
                &json!({ "alg": "none", "kid": kid, "typ": "JWT" }),
                b"",
            ),
            TokenRefusal::WrongAlgorithm,
        ),
        (
            "OP24: HS256 keyed with the public key",
            hs256_with_public_key(&hint, kid, "JWT"),
            TokenRefusal::WrongAlgorithm,
        ),
        (
            "OP24: foreign iss",
            forge(
                &json!({ "alg": "RS256", "kid": kid, "typ": "JWT" }),
                &foreign,
                rs256(),
            ),
            TokenRefusal::WrongIssuer,
        ),
        (
            "typ JWT with an access token's client_id",
            forge(
                &json!({ "alg": "RS256", "kid": kid, "typ": "JWT" }),
                &with_client_id,
                rs256(),
            ),
            TokenRefusal::WrongType,
        ),
    ] {
        assert_eq!(
            verify_id_token_hint(&token, &keys, ISSUER).err(),
            Some(refusal),
            "{name}"
        );
    }

    // OP26: the decision.
    let current = Some((user.sub.as_str(), sid.as_str()));
    assert_eq!(
        verified.decide(Some(CLIENT), current),
        HintDecision::EndSession
    );
    assert_eq!(verified.decide(None, current), HintDecision::EndSession);
    assert_eq!(
        verified.decide(Some("other-app"), current),
        HintDecision::Refuse
    );
    assert_eq!(
        verified.decide(Some(CLIENT), Some(("another-user", sid.as_str()))),
        HintDecision::Confirm
    );
    let other_session = app_sid("session-2", CLIENT);
    assert_eq!(
        verified.decide(
            Some(CLIENT),
            Some((user.sub.as_str(), other_session.as_str()))
        ),
        HintDecision::Confirm
    );
    assert_eq!(verified.decide(Some(CLIENT), None), HintDecision::Confirm);
}

/// K9: a session's sid is stable, differs per app and per session, and is opaque.
#[test]
fn sid_is_per_app_and_opaque() {
    let sid = app_sid("session-1", "app-a");
    assert_eq!(sid, app_sid("session-1", "app-a"));
    assert_ne!(sid, app_sid("session-1", "app-b"));
    assert_ne!(sid, app_sid("session-2", "app-a"));
    assert_ne!(
        app_sid("a", "bc"),
        app_sid("ab", "c"),
        "no ambiguity at the boundary"
    );
    assert!(!sid.contains("session-1"));
    assert_eq!(sid.len(), 32);
}

/// OP28: each logout token, checked with jsonwebtoken against the published key, holds every
/// invariant of Back-Channel Logout 1.0 §2.4 with the errata (K1); each mint is fresh.
#[test]
fn logout_token_invariants() {
    let now = Timestamp::now();
    for (key, algorithm) in [(rs256(), Algorithm::RS256), (es256(), Algorithm::ES256)] {
        for sid in [Some("5f1c2b4d5e6f7a8b9c0d1e2f3a4b5c6d"), None] {
            let input = LogoutTokenInput {
                issuer: ISSUER,
                client_id: CLIENT,
                sub: "0193b5c2-0000-7000-8000-000000000001",
                sid,
            };
            let (token, first) = mint_logout_token(&input, &key.signing, now).unwrap();
            let mut validation = Validation::new(algorithm);
            validation.set_audience(&[CLIENT]);
            validation.set_issuer(&[ISSUER]);
            validation.set_required_spec_claims(&["iss", "aud", "exp", "iat", "jti"]);
            let decoded =
                jsonwebtoken::decode::<Value>(&token, &decoding_key(key), &validation).unwrap();
            let claims = decoded.claims;
            assert_eq!(decoded.header.typ.as_deref(), Some("logout+jwt"));
            assert_eq!(decoded.header.kid.as_deref(), Some(key.record.kid.as_str()));
            assert!(claims.get("nonce").is_none(), "never a nonce");
            assert_eq!(
                claims["events"],
                json!({ "http://schemas.openid.net/event/backchannel-logout": {} })
            );
            assert!(claims["sub"].is_string() || claims["sid"].is_string());
            assert_eq!(claims.get("sid").and_then(Value::as_str), sid);
            let iat = claims["iat"].as_i64().unwrap();
            assert_eq!(claims["exp"].as_i64().unwrap(), iat + 120);
            assert!(
                iat <= now.as_micros() / 1_000_000,
                "iat never ahead of the clock"
            );
            assert!(!claims["jti"].as_str().unwrap().is_empty());

            // A retry is a new mint: new jti, and a live exp at the retry's time.
            let later = now.plus_seconds(600);
            let (_, retry) = mint_logout_token(&input, &key.signing, later).unwrap();
            assert_ne!(retry.jti, first.jti);
            assert_eq!(retry.exp, first.exp + 600);
        }
    }
}

/// End to end through the store: the keys the provider loads sign ID tokens that openidconnect
/// accepts against the JWKS the provider serves (session keys included), and access tokens
/// that the provider's own verification accepts.
#[test]
fn tokens_signed_with_stored_keys_verify_against_the_served_jwks() {
    use roster_provider::ProviderState;
    use roster_sso::session::{SessionOptions, Sessions};
    use roster_store::testing::TestStore;
    use std::time::Duration;

    let db = TestStore::new();
    let sessions = Sessions::new(
        db.store.clone(),
        ISSUER.to_owned(),
        SessionOptions::default(),
    )
    .unwrap();
    let state = ProviderState::new(
        db.store.clone(),
        &format!("{ISSUER}/"),
        sessions,
        Duration::from_secs(60),
    );
    assert_eq!(state.issuer(), ISSUER);
    let now = Timestamp::now();
    let jwks: CoreJsonWebKeySet =
        serde_json::from_value(serde_json::to_value(state.jwks_at(now).unwrap()).unwrap()).unwrap();
    let user = user();
    let amr = vec!["pwd".to_owned()];
    for (alg, jws_alg) in [
        (
            SigningAlg::Rs256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ),
        (SigningAlg::Es256, CoreJwsSigningAlgorithm::EcdsaP256Sha256),
    ] {
        let key = state.signing_key(alg, now).unwrap();
        assert_eq!(key.alg(), alg);
        let token = mint_id_token(&id_input(&user, ALL_SCOPES, &amr), &key, now).unwrap();
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new(CLIENT.to_owned()),
            IssuerUrl::new(ISSUER.to_owned()).unwrap(),
            jwks.clone(),
        )
        .set_allowed_algs([jws_alg]);
        let id_token: CoreIdToken = token.parse().unwrap();
        id_token
            .claims(&verifier, &Nonce::new("n-0S6_WzA2Mj".to_owned()))
            .unwrap();

        let (access, claims) = mint_access_token(&access_input(), &key, now).unwrap();
        let keys = state.verifying_keys(now).unwrap();
        assert_eq!(
            verify_access_token(&access, &keys, state.issuer(), now).unwrap(),
            claims
        );
    }
}

/// On a fresh deployment, replicas (or requests) racing to create the first keys each read the
/// clock before the race: a request whose `now` is earlier than the winner's still finds a
/// current key (this answered 500 "no current ES256 key" once, in the bench).
#[test]
fn the_first_keys_sign_for_every_request_that_raced_to_create_them() {
    use roster_provider::ProviderState;
    use roster_sso::session::{SessionOptions, Sessions};
    use roster_store::testing::TestStore;
    use std::time::Duration;

    let db = TestStore::new();
    let state = |cache: Duration| {
        let sessions = Sessions::new(
            db.store.clone(),
            ISSUER.to_owned(),
            SessionOptions::default(),
        )
        .unwrap();
        ProviderState::new(db.store.clone(), ISSUER, sessions, cache)
    };
    let (winner, loser) = (state(Duration::ZERO), state(Duration::ZERO));
    let earlier = Timestamp::now();
    let later = earlier.plus_seconds(1);
    for alg in [SigningAlg::Es256, SigningAlg::Rs256] {
        let created = winner.signing_key(alg, later).unwrap();
        let found = loser.signing_key(alg, earlier).unwrap();
        assert_eq!(found.alg(), alg);
        assert_eq!(created.kid(), found.kid(), "one key, not two");
    }
}

/// Across a rotation, tokens are signed by the key that is current at `now` (never a `next`
/// one), tokens of the retiring key still verify while it is published, and expired keys
/// (whose private half the store wiped) neither sign nor verify.
#[test]
fn signing_follows_key_rotation() {
    use roster_provider::ProviderState;
    use roster_sso::session::{SessionOptions, Sessions};
    use roster_store::domain::Actor;
    use roster_store::testing::TestStore;
    use std::time::Duration;

    let db = TestStore::new();
    let sessions = Sessions::new(
        db.store.clone(),
        ISSUER.to_owned(),
        SessionOptions::default(),
    )
    .unwrap();
    let state = ProviderState::new(db.store.clone(), ISSUER, sessions, Duration::ZERO);
    let now = Timestamp::now();
    let first = state.signing_key(SigningAlg::Rs256, now).unwrap();
    let (old_token, _) = mint_access_token(&access_input(), &first, now).unwrap();

    let next = generate_key(SigningAlg::Rs256, now).unwrap();
    db.store
        .rotate_oauth_signing_key(
            &Actor::Cli,
            &next,
            now,
            now.plus_seconds(60),
            now.plus_seconds(120),
        )
        .unwrap();
    assert_eq!(
        state.signing_key(SigningAlg::Rs256, now).unwrap().kid(),
        first.kid(),
        "a next key does not sign yet"
    );
    let after_switch = now.plus_seconds(61);
    let current = state.signing_key(SigningAlg::Rs256, after_switch).unwrap();
    assert_eq!(current.kid(), next.kid);
    let keys = state.verifying_keys(after_switch).unwrap();
    assert!(keys.iter().any(|key| key.kid() == first.kid()));
    assert!(verify_access_token(&old_token, &keys, ISSUER, now).is_ok());
    assert_eq!(
        state
            .signing_key(SigningAlg::Es256, after_switch)
            .unwrap()
            .alg(),
        SigningAlg::Es256,
        "the other algorithm is untouched"
    );

    // An emergency rotation ends every older RS256 key at once.
    let replacement = generate_key(SigningAlg::Rs256, now).unwrap();
    let later = Timestamp::now();
    db.store
        .rotate_oauth_signing_key(&Actor::Cli, &replacement, later, later, later)
        .unwrap();
    let keys = state.verifying_keys(later).unwrap();
    assert!(!keys
        .iter()
        .any(|key| key.kid() == first.kid() || key.kid() == next.kid));
    assert_eq!(
        verify_access_token(&old_token, &keys, ISSUER, later).err(),
        Some(TokenRefusal::UnknownKey)
    );
    assert_eq!(
        state.signing_key(SigningAlg::Rs256, later).unwrap().kid(),
        replacement.kid
    );
}
