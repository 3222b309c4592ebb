//! AuthnRequests: a 128-bit request id, and the request sent by HTTP-Redirect (or by an
//! auto-POST form for IdPs that offer only HTTP-POST), signed when the connection signs them.
//!
//! samael's `make_authentication_request` uses `format!("id-{}", rand::random::<u32>())`, a
//! 32-bit id; the id is what binds a response to the browser that started the login (S21), so
//! we issue our own from the OS random source and fill samael's `AuthnRequest` ourselves.
//! A signed request is signed as its binding says (`SigAlg`/`Signature` on the redirect URL,
//! an enveloped signature in the POSTed XML) with the connection's signing key, and the SP
//! metadata says `AuthnRequestsSigned` accordingly. What a request
//! asks of the IdP's authentication (`ForceAuthn`, `RequestedAuthnContext`) is [`authn_ask`]:
//! the connection's settings combined with the app's `prompt=login`/`max_age`.

use base64::Engine as _;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
use samael::schema::{
    AuthnContextClassRef, AuthnContextComparison, AuthnRequest, Issuer, NameIdPolicy,
    RequestedAuthnContext,
};
use samael::signature::{DigestAlgorithm, Signature};
use samael::traits::ToXml;

use super::error::SamlError;
use super::escape::auto_post_form;
use super::keys::SpKey;
use super::metadata::{IdpMetadata, SpSettings, HTTP_POST_BINDING};
use crate::config::AuthnContextSettings;

const PERSISTENT_NAME_ID: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";

/// A fresh request id: `_` and 32 hex digits (128 bits from the OS). The leading underscore
/// makes it a valid XML NCName, as SAML IDs must be.
pub fn new_request_id() -> Result<String, SamlError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| SamlError::RandomUnavailable)?;
    Ok(format!("_{}", hex::encode(bytes)))
}

/// Whether the IdP must authenticate the user again (`ForceAuthn`), even with a live session
/// of its own: the OpenID Provider asks for it on `prompt=login` or an exceeded `max_age`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForceAuthn(pub bool);

/// What one AuthnRequest asks of the IdP's authentication.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthnAsk {
    /// `ForceAuthn="true"`.
    pub force_authn: bool,
    /// A `RequestedAuthnContext` with these class references (`Comparison="exact"`), when any.
    pub requested_authn_context: Vec<String>,
}

/// The rule: what the app asked (`app`: `prompt=login` or an exceeded `max_age`, through the
/// OpenID Provider) and what the connection requires → what Roster asks the IdP. Either side
/// forces a new authentication; the connection's requested context is always sent, so no app
/// can weaken it (an app's `acr_values` are checked against what the IdP asserted instead).
pub fn authn_ask(connection: &AuthnContextSettings, app: ForceAuthn) -> AuthnAsk {
    AuthnAsk {
        force_authn: connection.force_authn || app.0,
        requested_authn_context: connection.requested_authn_context.clone(),
    }
}

/// The HTTP-Redirect binding URL of an AuthnRequest to the IdP's SSO service, with
/// `RelayState` when given, signed by `signed_by` when given.
pub fn authn_request_url(
    idp: &IdpMetadata,
    sp: &SpSettings,
    request_id: &str,
    relay_state: Option<&str>,
    ask: &AuthnAsk,
    signed_by: Option<&SpKey>,
) -> Result<String, SamlError> {
    let destination = idp
        .sso_redirect_url
        .as_deref()
        .ok_or(SamlError::RedirectBindingMissing)?;
    let xml = authn_request(destination, sp, request_id, ask)
        .to_string()
        .map_err(encoding_failed)?;
    redirect_binding_url(destination, "SAMLRequest", &xml, relay_state, signed_by)
}

/// An auto-submitting HTML page that POSTs the AuthnRequest to the IdP's HTTP-POST SSO service
/// (for IdPs without an HTTP-Redirect one), with an enveloped signature by `signed_by` when
/// given. All values are HTML-escaped (S34).
pub fn authn_request_post_form(
    idp: &IdpMetadata,
    sp: &SpSettings,
    request_id: &str,
    relay_state: Option<&str>,
    ask: &AuthnAsk,
    signed_by: Option<&SpKey>,
) -> Result<String, SamlError> {
    let destination = idp
        .sso_post_url
        .as_deref()
        .ok_or_else(|| SamlError::InvalidMetadata("no HTTP-POST SingleSignOnService".into()))?;
    let mut request = authn_request(destination, sp, request_id, ask);
    let xml = match signed_by {
        Some(key) => {
            request.signature = Some(signature_template(request_id, key)?);
            let xml = request.to_string().map_err(encoding_failed)?;
            sign_enveloped(&xml, key)?
        }
        None => request.to_string().map_err(encoding_failed)?,
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(xml);
    let mut fields = vec![("SAMLRequest", encoded.as_str())];
    if let Some(relay_state) = relay_state.filter(|r| !r.is_empty()) {
        fields.push(("RelayState", relay_state));
    }
    Ok(auto_post_form(destination, &fields))
}

/// The signature algorithm of every signature Roster makes (RSA keys only, as generated).
pub(crate) const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// A SAML message by HTTP-Redirect (bindings §3.4.4): deflated, base64, as `param`
/// (`SAMLRequest` or `SAMLResponse`) on `destination`, then `RelayState`; signed, `SigAlg` and
/// `Signature` follow, the signature over exactly the encoded `param`, `RelayState` and
/// `SigAlg` pairs in that order (§3.4.4.1), whatever query `destination` already had.
pub(crate) fn redirect_binding_url(
    destination: &str,
    param: &str,
    xml: &str,
    relay_state: Option<&str>,
    signed_by: Option<&SpKey>,
) -> Result<String, SamlError> {
    use std::io::Write as _;
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater
        .write_all(xml.as_bytes())
        .map_err(|err| encoding_failed(err.into()))?;
    let deflated = deflater
        .finish()
        .map_err(|err| encoding_failed(err.into()))?;
    let encode = |value: &str| -> String {
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
    };
    let mut signed = format!(
        "{param}={}",
        encode(&base64::engine::general_purpose::STANDARD.encode(deflated))
    );
    if let Some(relay_state) = relay_state.filter(|r| !r.is_empty()) {
        signed.push_str(&format!("&RelayState={}", encode(relay_state)));
    }
    if let Some(key) = signed_by {
        signed.push_str(&format!("&SigAlg={}", encode(RSA_SHA256)));
        let signature = sign_bytes(signed.as_bytes(), key)?;
        signed.push_str(&format!(
            "&Signature={}",
            encode(&base64::engine::general_purpose::STANDARD.encode(signature))
        ));
    }
    let separator = if destination.contains('?') { '&' } else { '?' };
    Ok(format!("{destination}{separator}{signed}"))
}

/// RSA-SHA256 (PKCS#1 v1.5) over `bytes`.
fn sign_bytes(bytes: &[u8], key: &SpKey) -> Result<Vec<u8>, SamlError> {
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), key.private_key())
            .map_err(|err| SamlError::Malformed(format!("cannot sign: {err}")))?;
    signer
        .update(bytes)
        .and_then(|()| signer.sign_to_vec())
        .map_err(|err| SamlError::Malformed(format!("cannot sign: {err}")))
}

/// An enveloped-signature template (exclusive c14n, RSA-SHA256, SHA-256 digest, the key's
/// certificate in `KeyInfo`) for the element whose `ID` is `id`.
pub(crate) fn signature_template(id: &str, key: &SpKey) -> Result<Signature, SamlError> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(&key.certificate)
        .map_err(|_| SamlError::Malformed("the SP certificate is not base64".into()))?;
    let mut template = Signature::template(id, &CertificateDer::from(der));
    for reference in &mut template.signed_info.reference {
        reference.digest_method.algorithm = DigestAlgorithm::Sha256;
    }
    Ok(template)
}

/// Fills the signature template in `xml` (xmlsec).
pub(crate) fn sign_enveloped(xml: &str, key: &SpKey) -> Result<String, SamlError> {
    let der = key
        .private_key()
        .private_key_to_der()
        .map_err(|err| SamlError::Malformed(format!("cannot sign: {err}")))?;
    Crypto::sign_xml(xml, &der).map_err(|err| SamlError::Malformed(format!("cannot sign: {err}")))
}

fn encoding_failed(error: Box<dyn std::error::Error>) -> SamlError {
    SamlError::InvalidMetadata(format!("cannot encode the SAML message: {error}"))
}

/// Our AuthnRequest: our id, ACS over HTTP-POST, persistent NameID that the IdP may create,
/// `ForceAuthn="true"` and a `RequestedAuthnContext` when asked.
fn authn_request(
    destination: &str,
    sp: &SpSettings,
    request_id: &str,
    ask: &AuthnAsk,
) -> AuthnRequest {
    let requested_authn_context =
        (!ask.requested_authn_context.is_empty()).then(|| RequestedAuthnContext {
            authn_context_class_refs: Some(
                ask.requested_authn_context
                    .iter()
                    .map(|class| AuthnContextClassRef {
                        value: Some(class.clone()),
                    })
                    .collect(),
            ),
            authn_context_decl_refs: None,
            comparison: Some(AuthnContextComparison::Exact),
        });
    AuthnRequest {
        id: request_id.to_owned(),
        version: "2.0".to_owned(),
        destination: Some(destination.to_owned()),
        issuer: Some(Issuer {
            value: Some(sp.entity_id.clone()),
            ..Issuer::default()
        }),
        name_id_policy: Some(NameIdPolicy {
            format: Some(PERSISTENT_NAME_ID.to_owned()),
            allow_create: Some(true),
            sp_name_qualifier: None,
        }),
        assertion_consumer_service_url: Some(sp.acs_url.clone()),
        protocol_binding: Some(HTTP_POST_BINDING.to_owned()),
        force_authn: ask.force_authn.then_some(true),
        requested_authn_context,
        ..AuthnRequest::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use std::collections::HashSet;
    use std::io::Read;

    fn idp() -> IdpMetadata {
        IdpMetadata {
            entity_id: "https://idp.example.com".into(),
            sso_redirect_url: Some("https://idp.example.com/sso?tenant=7".into()),
            sso_post_url: Some("https://idp.example.com/post".into()),
            signing_certificates: vec!["MAMCAQE=".into()],
            want_authn_requests_signed: false,
            slo_redirect_url: None,
            slo_response_url: None,
        }
    }

    fn sp() -> SpSettings {
        SpSettings {
            entity_id: "https://roster.example.com/sso/saml/c1".into(),
            acs_url: "https://roster.example.com/sso/saml/c1/acs".into(),
        }
    }

    fn query(url: &url::Url, name: &str) -> Option<String> {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    fn inflate(saml_request: &str) -> String {
        let deflated = base64::engine::general_purpose::STANDARD
            .decode(saml_request)
            .unwrap();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(deflated.as_slice())
            .read_to_string(&mut xml)
            .unwrap();
        xml
    }

    #[test]
    fn request_ids_are_128_random_bits_and_ncnames() {
        let ids: HashSet<String> = (0..1000).map(|_| new_request_id().unwrap()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(id.len(), 33);
            assert!(id.starts_with('_'));
            assert!(id[1..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        }
        // Every hex digit position varies: no fixed prefix or counter.
        for position in 1..33 {
            let digits: HashSet<u8> = ids.iter().map(|id| id.as_bytes()[position]).collect();
            assert!(digits.len() > 8, "position {position} barely varies");
        }
    }

    #[test]
    fn redirect_url_carries_the_deflated_request_and_relay_state() {
        let id = new_request_id().unwrap();
        let relay_state = "/app?x=1&y=<script>";
        let url = url::Url::parse(
            &authn_request_url(
                &idp(),
                &sp(),
                &id,
                Some(relay_state),
                &AuthnAsk::default(),
                None,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(url.host_str(), Some("idp.example.com"));
        assert_eq!(url.path(), "/sso");
        assert_eq!(query(&url, "tenant").as_deref(), Some("7"));
        assert_eq!(query(&url, "RelayState").as_deref(), Some(relay_state));

        let xml = inflate(&query(&url, "SAMLRequest").unwrap());
        let request: AuthnRequest = xml.parse().unwrap();
        assert_eq!(request.id, id);
        assert_eq!(
            request.destination.as_deref(),
            Some("https://idp.example.com/sso?tenant=7")
        );
        assert_eq!(
            request.assertion_consumer_service_url.as_deref(),
            Some(sp().acs_url.as_str())
        );
        assert_eq!(request.protocol_binding.as_deref(), Some(HTTP_POST_BINDING));
        assert_eq!(
            request.issuer.and_then(|issuer| issuer.value).as_deref(),
            Some(sp().entity_id.as_str())
        );
        let policy = request.name_id_policy.unwrap();
        assert_eq!(policy.format.as_deref(), Some(PERSISTENT_NAME_ID));
        assert_eq!(policy.allow_create, Some(true));
        assert!(request.signature.is_none());
        assert_eq!(request.force_authn, None, "ForceAuthn only when asked");
        assert_eq!(
            request.requested_authn_context, None,
            "a context only when asked"
        );
    }

    #[test]
    fn a_forced_login_asks_the_idp_to_authenticate_again() {
        let url = url::Url::parse(
            &authn_request_url(
                &idp(),
                &sp(),
                "_1",
                None,
                &authn_ask(&AuthnContextSettings::default(), ForceAuthn(true)),
                None,
            )
            .unwrap(),
        )
        .unwrap();
        let xml = inflate(&query(&url, "SAMLRequest").unwrap());
        assert!(xml.contains(r#"ForceAuthn="true""#), "{xml}");
        let request: AuthnRequest = xml.parse().unwrap();
        assert_eq!(request.force_authn, Some(true));
    }

    const MFA: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract";
    const PASSWORD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";

    /// What the app asked + what the connection requires → what Roster asks the IdP.
    #[test]
    fn the_ask_combines_the_connection_and_the_app() {
        let connection = |force_authn: bool, contexts: &[&str]| AuthnContextSettings {
            force_authn,
            requested_authn_context: contexts.iter().map(|c| (*c).to_owned()).collect(),
        };
        let ask = |force_authn: bool, contexts: &[&str]| AuthnAsk {
            force_authn,
            requested_authn_context: contexts.iter().map(|c| (*c).to_owned()).collect(),
        };
        for (name, settings, app, expected) in [
            (
                "nothing asked",
                connection(false, &[]),
                false,
                ask(false, &[]),
            ),
            (
                "the app forces",
                connection(false, &[]),
                true,
                ask(true, &[]),
            ),
            (
                "the connection forces",
                connection(true, &[]),
                false,
                ask(true, &[]),
            ),
            ("both force", connection(true, &[]), true, ask(true, &[])),
            (
                "the connection's context, not forced",
                connection(false, &[MFA]),
                false,
                ask(false, &[MFA]),
            ),
            (
                "the connection's contexts in order, the app forces",
                connection(false, &[MFA, PASSWORD]),
                true,
                ask(true, &[MFA, PASSWORD]),
            ),
            (
                "everything",
                connection(true, &[MFA]),
                true,
                ask(true, &[MFA]),
            ),
        ] {
            assert_eq!(authn_ask(&settings, ForceAuthn(app)), expected, "{name}");
        }
    }

    #[test]
    fn a_requested_context_is_in_the_request_compared_exactly() {
        let ask = authn_ask(
            &AuthnContextSettings {
                force_authn: true,
                requested_authn_context: vec![MFA.to_owned(), PASSWORD.to_owned()],
            },
            ForceAuthn(false),
        );
        let url =
            url::Url::parse(&authn_request_url(&idp(), &sp(), "_1", None, &ask, None).unwrap())
                .unwrap();
        let xml = inflate(&query(&url, "SAMLRequest").unwrap());
        assert!(xml.contains(r#"ForceAuthn="true""#), "{xml}");
        assert!(xml.contains(r#"Comparison="exact""#), "{xml}");
        let request: AuthnRequest = xml.parse().unwrap();
        let classes: Vec<String> = request
            .requested_authn_context
            .unwrap()
            .authn_context_class_refs
            .unwrap()
            .into_iter()
            .filter_map(|class| class.value)
            .collect();
        assert_eq!(classes, [MFA, PASSWORD]);

        let post_only = IdpMetadata {
            sso_redirect_url: None,
            ..idp()
        };
        let page = authn_request_post_form(&post_only, &sp(), "_1", None, &ask, None).unwrap();
        let encoded = page
            .split(r#"name="SAMLRequest" value=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap();
        let xml = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap(),
        )
        .unwrap();
        assert!(xml.contains(MFA), "{xml}");
    }

    #[test]
    fn requested_contexts_are_checked() {
        let settings = |contexts: Vec<String>| AuthnContextSettings {
            force_authn: false,
            requested_authn_context: contexts,
        };
        let ok = |contexts: &[&str]| {
            settings(contexts.iter().map(|c| (*c).to_owned()).collect()).check()
        };
        assert_eq!(ok(&[]), Ok(()));
        assert_eq!(ok(&[MFA, PASSWORD]), Ok(()));
        assert_eq!(ok(&["https://refeds.org/profile/mfa"]), Ok(()));
        for bad in [
            vec![""],
            vec!["mfa"],
            vec!["urn:x y"],
            vec!["urn:x\n"],
            vec![MFA, MFA],
        ] {
            let error = ok(&bad).unwrap_err();
            assert!(
                error.starts_with("requestedAuthnContext["),
                "{bad:?}: {error}"
            );
        }
        let too_many = settings((0..11).map(|i| format!("urn:example:{i}")).collect());
        assert!(too_many.check().unwrap_err().contains("at most 10"));
    }

    #[test]
    fn relay_state_is_omitted_when_absent() {
        let url = authn_request_url(&idp(), &sp(), "_1", None, &AuthnAsk::default(), None).unwrap();
        assert!(!url.contains("RelayState"));
    }

    #[test]
    fn post_only_idps_get_an_escaped_form_instead() {
        let post_only = IdpMetadata {
            sso_redirect_url: None,
            ..idp()
        };
        let error = authn_request_url(&post_only, &sp(), "_1", None, &AuthnAsk::default(), None)
            .unwrap_err();
        assert_eq!(error.reason(), "redirect_binding_missing");
        let page = authn_request_post_form(
            &post_only,
            &sp(),
            "_1",
            Some("\"><script>x</script>"),
            &AuthnAsk::default(),
            None,
        )
        .unwrap();
        assert!(page.contains(r#"action="https://idp.example.com/post""#));
        assert!(page.contains("&quot;&gt;&lt;script&gt;x&lt;/script&gt;"));
        assert!(page.contains(r#"name="SAMLRequest""#));
    }
}

#[cfg(test)]
mod signed_tests {
    use super::*;
    use crate::saml::keys::{generate_sp_key, SpKeyUse};
    use samael::crypto::{decode_x509_cert, Crypto, CryptoProvider};

    fn key() -> SpKey {
        let pair = generate_sp_key("sp", 1_800_000_000).unwrap();
        SpKey::load(
            "k".into(),
            SpKeyUse::Signing,
            &pair.private_pem,
            pair.certificate,
            pair.not_after_unix,
        )
        .unwrap()
    }

    fn post_only() -> IdpMetadata {
        IdpMetadata {
            entity_id: "https://idp.example.com".into(),
            sso_redirect_url: None,
            sso_post_url: Some("https://idp.example.com/post".into()),
            signing_certificates: vec!["MAMCAQE=".into()],
            want_authn_requests_signed: true,
            slo_redirect_url: None,
            slo_response_url: None,
        }
    }

    fn sp() -> SpSettings {
        SpSettings {
            entity_id: "https://roster.example.com/sso/saml/c1/metadata".into(),
            acs_url: "https://roster.example.com/sso/saml/c1/acs".into(),
        }
    }

    /// The HTTP-POST binding's enveloped signature verifies with the key's certificate (as an
    /// IdP checks it), SHA-256 throughout, and breaks when the request is changed.
    #[test]
    fn a_posted_request_carries_an_enveloped_signature_that_verifies() {
        let key = key();
        let page = authn_request_post_form(
            &post_only(),
            &sp(),
            "_r1",
            None,
            &AuthnAsk::default(),
            Some(&key),
        )
        .unwrap();
        let encoded = page
            .split(r#"name="SAMLRequest" value=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap();
        let xml = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap(),
        )
        .unwrap();
        assert!(xml.contains("xmldsig-more#rsa-sha256"), "{xml}");
        assert!(xml.contains("xmlenc#sha256"), "{xml}");
        assert!(xml.contains(r##"URI="#_r1""##), "{xml}");
        let certificate = decode_x509_cert(&key.certificate).unwrap();
        Crypto::verify_signed_xml(&xml, &certificate, Some("ID")).expect("the signature verifies");
        let changed = xml.replace("c1/acs", "c2/acs");
        assert!(Crypto::verify_signed_xml(&changed, &certificate, Some("ID")).is_err());
    }
}
