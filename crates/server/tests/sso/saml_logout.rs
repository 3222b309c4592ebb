//! SAML Single Logout on the wire (issue #27): the IdP's signed `LogoutRequest` ends every Roster
//! session of its NameID at that connection — and only there —, is answered with a signed
//! `LogoutResponse`, and is refused when unsigned, signed by another key, or replayed, ending
//! nothing. A Roster sign-out of a SAML session sends the IdP a signed `LogoutRequest` (its
//! NameID and SessionIndex) and takes the IdP's `LogoutResponse` only from the browser that
//! signed out.

use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::{Signer, Verifier};
use openssl::x509::X509;
use pretty_assertions::assert_eq;
use roster_store::domain::{ConnectionKind, Timestamp};
use serde_json::{json, Value};
use std::io::{Read, Write};

use crate::browser::{agent, cookie_set_by};
use crate::saml_exhaustion::{acs_form, Key};
use crate::saml_refusals::{setup, Setup, Shape};

const IDP_ENTITY_ID: &str = "https://idp.example.test/metadata";
const IDP_SLO_URL: &str = "https://idp.example.test/slo";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// The connection's IdP metadata, with a Single Logout service.
fn with_slo(
    s: &Setup,
    connection: &roster_store::domain::Connection,
) -> roster_store::domain::Connection {
    let mut config: Value = serde_json::from_str(&connection.protocol_config).unwrap();
    let metadata = config["idp_metadata_xml"].as_str().unwrap().replace(
        "</md:IDPSSODescriptor>",
        &format!(
            r#"<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{IDP_SLO_URL}"/></md:IDPSSODescriptor>"#
        ),
    );
    config["idp_metadata_xml"] = json!(metadata);
    s.app.configure(connection, config)
}

/// Logs alice in through `s.connection`: her session token.
fn sign_in(s: &Setup) -> String {
    let (binding, request_id) = s.start_login();
    let xml = s.response(Shape::answering(&request_id));
    let response = agent()
        .post(&s.acs())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Cookie", &format!("roster_sso={binding}"))
        .send(acs_form(&xml))
        .unwrap();
    assert_eq!(response.status().as_u16(), 302, "{:?}", s.last_event());
    cookie_set_by(&response, "roster_session").expect("a session")
}

fn alive(s: &Setup, token: &str) -> bool {
    s.app.me(token).0 == 200
}

fn deflate_b64(xml: &str) -> String {
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater.write_all(xml.as_bytes()).unwrap();
    base64::engine::general_purpose::STANDARD.encode(deflater.finish().unwrap())
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The IdP's `LogoutRequest` for `name_id` to `slo_url`, as an HTTP-Redirect query signed by
/// `key` (or unsigned).
fn logout_request_query(slo_url: &str, name_id: &str, key: Option<&Key>) -> String {
    let id = format!("_lr{}", roster_sso::browser::new_binding().unwrap());
    let now = Timestamp::now().to_rfc3339();
    let xml = format!(
        r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{slo_url}"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{name_id}</saml:NameID></samlp:LogoutRequest>"#
    );
    let mut query = format!(
        "SAMLRequest={}&RelayState={}",
        encode(&deflate_b64(&xml)),
        encode("idp-state")
    );
    if let Some(key) = key {
        query.push_str(&format!("&SigAlg={}", encode(RSA_SHA256)));
        let private = PKey::private_key_from_der(&key.private_der).unwrap();
        let mut signer = Signer::new(MessageDigest::sha256(), &private).unwrap();
        signer.update(query.as_bytes()).unwrap();
        let signature = signer.sign_to_vec().unwrap();
        query.push_str(&format!(
            "&Signature={}",
            encode(&base64::engine::general_purpose::STANDARD.encode(signature))
        ));
    }
    query
}

fn slo_url(s: &Setup, connection: &roster_store::domain::Connection) -> String {
    format!("{}/sso/saml/{}/slo", s.app.url(), connection.id)
}

/// GETs the SLO endpoint: (status, Location, reason code on an error page).
fn get_slo(url: &str, query: &str) -> (u16, String, String) {
    let mut response = agent().get(&format!("{url}?{query}")).call().unwrap();
    let location = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    let code = body
        .split_once("<code>")
        .and_then(|(_, rest)| rest.split_once("</code>"))
        .map_or("", |(code, _)| code)
        .to_owned();
    (response.status().as_u16(), location, code)
}

/// Reads a signed HTTP-Redirect message Roster sent: its XML, checked against `certificate`.
pub(crate) fn verified_message(location: &str, param: &str, certificate: &str) -> String {
    let query = location.split_once('?').unwrap().1;
    let pair = |name: &str| {
        query
            .split('&')
            .find(|pair| pair.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {location}"))
            .to_owned()
    };
    let value = |name: &str| {
        let raw = pair(name);
        url::form_urlencoded::parse(raw.as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned()
    };
    let octets = match query.contains("RelayState=") {
        true => format!("{}&{}&{}", pair(param), pair("RelayState"), pair("SigAlg")),
        false => format!("{}&{}", pair(param), pair("SigAlg")),
    };
    let der = base64::engine::general_purpose::STANDARD
        .decode(certificate)
        .unwrap();
    let public = X509::from_der(&der).unwrap().public_key().unwrap();
    let mut verifier = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    verifier.update(octets.as_bytes()).unwrap();
    let signature = base64::engine::general_purpose::STANDARD
        .decode(value("Signature"))
        .unwrap();
    assert!(
        verifier.verify(&signature).unwrap(),
        "signed by the connection"
    );
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(value(param))
        .unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

/// The connection's signing certificate, from its SP metadata.
fn sp_signing_certificate(s: &Setup, connection: &roster_store::domain::Connection) -> String {
    let metadata = s
        .app
        .get(&format!("/sso/saml/{}/metadata", connection.id), None)
        .body;
    assert!(metadata.contains("SingleLogoutService"), "{metadata}");
    let signing = metadata
        .split(r#"<md:KeyDescriptor use="signing">"#)
        .nth(1)
        .unwrap();
    let start = signing.find("<ds:X509Certificate>").unwrap() + "<ds:X509Certificate>".len();
    let end = signing.find("</ds:X509Certificate>").unwrap();
    signing[start..end].to_owned()
}

#[test]
fn the_idps_logout_request_ends_the_nameids_sessions_at_that_connection_only() {
    let mut s = setup(false);
    let corp = with_slo(&s, &s.connection.clone());
    // A second connection trusting the same IdP key: alice's session there is not corp's.
    let other = s.app.connection("other", ConnectionKind::Saml, &[]);
    let other = s.app.configure(
        &other,
        serde_json::from_str::<Value>(&corp.protocol_config).unwrap(),
    );
    s.connection = other.clone();
    let at_other = sign_in(&s);
    s.connection = corp.clone();
    let first = sign_in(&s);
    let second = sign_in(&s);
    assert!(alive(&s, &first) && alive(&s, &second) && alive(&s, &at_other));

    // Refused, ending nothing: unsigned, signed by another key, another connection's NameID.
    let url = slo_url(&s, &corp);
    let unsigned = get_slo(&url, &logout_request_query(&url, "s-alice", None));
    assert_eq!(
        (unsigned.0, unsigned.2.as_str()),
        (400, "signature_missing")
    );
    let stranger = Key::new("/CN=not-the-idp");
    let forged = get_slo(
        &url,
        &logout_request_query(&url, "s-alice", Some(&stranger)),
    );
    assert_eq!((forged.0, forged.2.as_str()), (400, "signature_invalid"));
    let nobody = get_slo(&url, &logout_request_query(&url, "s-bob", Some(&s.key)));
    assert_eq!(
        nobody.0, 303,
        "a NameID without sessions is answered, ending nothing"
    );
    assert!(alive(&s, &first) && alive(&s, &second) && alive(&s, &at_other));

    // The IdP's signed request: both of alice's corp sessions end; the other connection's stays.
    let query = logout_request_query(&url, "s-alice", Some(&s.key));
    let (status, location, _) = get_slo(&url, &query);
    assert_eq!(status, 303);
    assert!(
        location.starts_with(&format!("{IDP_SLO_URL}?SAMLResponse=")),
        "{location}"
    );
    let answer = verified_message(
        &location,
        "SAMLResponse",
        &sp_signing_certificate(&s, &corp),
    );
    assert!(
        answer.contains("urn:oasis:names:tc:SAML:2.0:status:Success"),
        "{answer}"
    );
    assert!(location.contains("RelayState=idp-state"), "{location}");
    assert!(!alive(&s, &first) && !alive(&s, &second));
    assert!(
        alive(&s, &at_other),
        "another connection's session is not the IdP's to end"
    );

    // The same request again is a replay: refused.
    let (status, _, code) = get_slo(&url, &query);
    assert_eq!((status, code.as_str()), (400, "logout_replayed"));
}

#[test]
fn a_roster_sign_out_asks_the_idp_to_end_its_session_and_takes_its_answer_once() {
    let mut s = setup(false);
    s.connection = with_slo(&s, &s.connection.clone());
    let token = sign_in(&s);
    let response = agent()
        .post(&format!("{}/logout", s.app.url()))
        .header("Origin", &s.app.url())
        .header("Cookie", &format!("roster_session={token}"))
        .send_empty()
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert!(!alive(&s, &token), "signed out of Roster at once");
    let location = response
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        location.starts_with(&format!("{IDP_SLO_URL}?SAMLRequest=")),
        "{location}"
    );
    let binding = cookie_set_by(&response, "roster_sso").expect("the binding cookie");
    let request = verified_message(
        &location,
        "SAMLRequest",
        &sp_signing_certificate(&s, &s.connection),
    );
    assert!(request.contains(">s-alice</saml:NameID>"), "{request}");
    let id = request
        .split(" ID=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();

    // The IdP's signed LogoutResponse: from another browser it is refused; from this one it
    // lands on `/`, once.
    let now = Timestamp::now().to_rfc3339();
    let url = slo_url(&s, &s.connection);
    let xml = format!(
        r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_resp1" Version="2.0" IssueInstant="{now}" Destination="{url}" InResponseTo="{id}"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:LogoutResponse>"#
    );
    let mut query = format!(
        "SAMLResponse={}&SigAlg={}",
        encode(&deflate_b64(&xml)),
        encode(RSA_SHA256)
    );
    let private = PKey::private_key_from_der(&s.key.private_der).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &private).unwrap();
    signer.update(query.as_bytes()).unwrap();
    query.push_str(&format!(
        "&Signature={}",
        encode(&base64::engine::general_purpose::STANDARD.encode(signer.sign_to_vec().unwrap()))
    ));
    let (status, _, code) = get_slo(&url, &query);
    assert_eq!(
        (status, code.as_str()),
        (400, "unsolicited_response"),
        "no binding cookie"
    );
    let answer = |cookie: &str| {
        let response = agent()
            .get(&format!("{url}?{query}"))
            .header("Cookie", &format!("roster_sso={cookie}"))
            .call()
            .unwrap();
        (
            response.status().as_u16(),
            response
                .headers()
                .get("location")
                .map(|value| value.to_str().unwrap().to_owned()),
        )
    };
    assert_eq!(answer(&binding), (303, Some("/".to_owned())));
    assert_eq!(answer(&binding).0, 400, "answered once");
}

/// The HTTP-POST binding: a `LogoutRequest` with an enveloped signature of the IdP ends the
/// session; the same document with its NameID changed after signing is refused and ends nothing.
#[test]
fn a_posted_logout_request_needs_its_enveloped_signature() {
    let mut s = setup(false);
    s.connection = with_slo(&s, &s.connection.clone());
    let token = sign_in(&s);
    let url = slo_url(&s, &s.connection);
    let id = format!("_lp{}", roster_sso::browser::new_binding().unwrap());
    let now = Timestamp::now().to_rfc3339();
    let xml = format!(
        r##"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{url}"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{RSA_SHA256}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature><saml:NameID>s-alice</saml:NameID></samlp:LogoutRequest>"##
    );
    let signed = crate::saml_exhaustion::sign(&xml, &s.key);
    let post = |xml: &str| {
        let mut response = agent()
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(format!(
                "SAMLRequest={}",
                encode(&base64::engine::general_purpose::STANDARD.encode(xml))
            ))
            .unwrap();
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        (status, body)
    };
    let tampered = signed.replace(">s-alice<", ">s-mallory<");
    let (status, body) = post(&tampered);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("signature_invalid"), "{body}");
    assert!(alive(&s, &token), "a refused request ends nothing");
    let (status, _) = post(&signed);
    assert_eq!(status, 303);
    assert!(!alive(&s, &token));
}

/// `singleLogout: false` (an IdP that publishes a logout endpoint but was not given Roster's):
/// a Roster sign-out ends the Roster session and stays at Roster.
#[test]
fn a_connection_without_single_logout_signs_out_of_roster_only() {
    let mut s = setup(false);
    let connection = with_slo(&s, &s.connection.clone());
    let mut config: Value = serde_json::from_str(&connection.protocol_config).unwrap();
    config["single_logout"] = json!(false);
    s.connection = s.app.configure(&connection, config);
    let token = sign_in(&s);
    let response = agent()
        .post(&format!("{}/logout", s.app.url()))
        .header("Origin", &s.app.url())
        .header("Cookie", &format!("roster_session={token}"))
        .send_empty()
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        response
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap(),
        "/"
    );
    assert!(!alive(&s, &token));
}
