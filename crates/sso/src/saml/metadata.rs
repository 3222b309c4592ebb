//! IdP metadata in, SP metadata out.
//!
//! [`parse_idp_metadata`] keeps only what validation needs (entity id, SSO locations, signing
//! certificates) and refuses metadata without a signing certificate: samael skips signature
//! verification entirely when the IdP has no certificate (anchor A2, catalog S02), so such a
//! connection must never be saved. [`super::validate_response`] checks again on every call.
//!
//! [`sp_metadata_xml`] is written by hand instead of using samael's `ServiceProvider::metadata`,
//! which advertises encryption algorithms samael cannot decrypt (aes192/aes256-cbc) and a
//! `validUntil` 48 hours out.

use base64::Engine as _;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{NsReader, XmlVersion};

use super::error::SamlError;
use super::escape::escape_html;
use super::keys::{SpKeyUse, SpKeys};

/// Metadata larger than this is refused: the outbound client's cap for a metadata download, so a
/// document fetched from a URL and one pasted in are held to the same limit (real IdP metadata is
/// a few KiB, ADFS's a few hundred; federation aggregates are not supported).
const MAX_METADATA_BYTES: usize = roster_outbound::SAML_METADATA_MAX_BYTES as usize;
pub(crate) const HTTP_REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub(crate) const HTTP_POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const SAML2_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";

/// Parsed, trusted IdP metadata. Never holds zero signing certificates when it comes from
/// [`parse_idp_metadata`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    /// The HTTP-Redirect `SingleSignOnService`, where [`super::authn_request_url`] sends users.
    /// `None` for IdPs that only offer HTTP-POST (JumpCloud): use
    /// [`super::authn_request_post_form`] with [`IdpMetadata::sso_post_url`] then.
    pub sso_redirect_url: Option<String>,
    /// The HTTP-POST `SingleSignOnService`, if offered.
    pub sso_post_url: Option<String>,
    /// Base64 DER X.509 certificates (whitespace removed) of every `KeyDescriptor` whose `use`
    /// is `signing` or absent: several during a certificate rollover. Any one may sign.
    pub signing_certificates: Vec<String>,
    /// `WantAuthnRequestsSigned="true"`: the IdP refuses unsigned AuthnRequests.
    pub want_authn_requests_signed: bool,
    /// The HTTP-Redirect `SingleLogoutService`, where Roster sends a `LogoutRequest`.
    pub slo_redirect_url: Option<String>,
    /// Its `ResponseLocation`, when the IdP wants `LogoutResponse`s elsewhere.
    pub slo_response_url: Option<String>,
}

/// What the SP is, per connection (derived from `server.public_url` by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpSettings {
    pub entity_id: String,
    pub acs_url: String,
}

impl SpSettings {
    /// The Single Logout endpoint: beside the ACS (`…/acs` → `…/slo`).
    pub fn slo_url(&self) -> String {
        match self.acs_url.strip_suffix("/acs") {
            Some(base) => format!("{base}/slo"),
            None => format!("{}/slo", self.acs_url.trim_end_matches('/')),
        }
    }
}

/// Parses IdP metadata (an `EntityDescriptor`, or an `EntitiesDescriptor` holding exactly one
/// IdP). Refuses DOCTYPEs, metadata without a SAML 2.0 `IDPSSODescriptor`, without an SSO
/// service, and without a signing certificate.
pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, SamlError> {
    if xml.len() > MAX_METADATA_BYTES {
        return Err(invalid("the metadata is larger than 5 MiB"));
    }
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let mut idps = read_idp_entities(xml)?;
    let entity = match (idps.pop(), idps.is_empty()) {
        (Some(entity), true) => entity,
        (None, _) => return Err(invalid("no SAML 2.0 IDPSSODescriptor")),
        (Some(_), false) => return Err(invalid("several identity providers in one document")),
    };
    entity.into_metadata()
}

/// SP metadata: an `EntityDescriptor` with one `SPSSODescriptor` (ACS over HTTP-POST,
/// persistent and email NameID formats, unsigned requests, signed assertions wanted).
pub fn sp_metadata_xml(sp: &SpSettings, keys: &SpKeys, signs_requests: bool) -> String {
    let mut key_descriptors = String::new();
    for key_use in SpKeyUse::ALL {
        let mut published: Vec<_> = keys.of_use(key_use).collect();
        // The key that signs (the oldest) first; for encryption the newest first, so an IdP
        // that takes the first one moves to a new key as soon as it reads the metadata.
        if key_use == SpKeyUse::Encryption {
            published.reverse();
        }
        for key in published {
            key_descriptors.push_str(&key_descriptor(key_use, &key.certificate));
        }
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">
  <md:SPSSODescriptor AuthnRequestsSigned="{signs_requests}" WantAssertionsSigned="true" protocolSupportEnumeration="{SAML2_PROTOCOL}">
{key_descriptors}    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleLogoutService Binding="{HTTP_REDIRECT_BINDING}" Location="{slo_url}"/>
    <md:SingleLogoutService Binding="{HTTP_POST_BINDING}" Location="{slo_url}"/>
    <md:AssertionConsumerService Binding="{HTTP_POST_BINDING}" Location="{acs_url}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity_id = escape_html(&sp.entity_id),
        acs_url = escape_html(&sp.acs_url),
        slo_url = escape_html(&sp.slo_url()),
    )
}

/// One published key. An encryption key lists the algorithms Roster decrypts, strongest
/// first, so an IdP that reads them picks GCM and OAEP (never RSA PKCS#1 v1.5).
fn key_descriptor(key_use: SpKeyUse, certificate: &str) -> String {
    let methods = match key_use {
        SpKeyUse::Signing => String::new(),
        SpKeyUse::Encryption => super::decrypt::ALLOWED_CONTENT
            .iter()
            .chain(super::decrypt::ALLOWED_KEY_TRANSPORT.iter().rev())
            .map(|algorithm| format!("      <md:EncryptionMethod Algorithm=\"{algorithm}\"/>\n"))
            .collect(),
    };
    format!(
        "    <md:KeyDescriptor use=\"{use_}\">\n      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\n{methods}    </md:KeyDescriptor>\n",
        use_ = key_use.as_str(),
        certificate = escape_html(certificate),
    )
}

/// One `EntityDescriptor` while it is read.
#[derive(Default)]
struct EntityInProgress {
    entity_id: String,
    has_idp_descriptor: bool,
    sso_redirect_url: Option<String>,
    sso_post_url: Option<String>,
    certificates: Vec<String>,
    want_authn_requests_signed: bool,
    slo_redirect_url: Option<String>,
    slo_response_url: Option<String>,
}

impl EntityInProgress {
    fn into_metadata(self) -> Result<IdpMetadata, SamlError> {
        if self.entity_id.trim().is_empty() {
            return Err(invalid("the EntityDescriptor has no entityID"));
        }
        if self.sso_redirect_url.is_none() && self.sso_post_url.is_none() {
            return Err(invalid(
                "no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding",
            ));
        }
        if self.certificates.is_empty() {
            return Err(SamlError::NoSigningCertificate);
        }
        Ok(IdpMetadata {
            entity_id: self.entity_id,
            sso_redirect_url: self.sso_redirect_url,
            sso_post_url: self.sso_post_url,
            signing_certificates: self.certificates,
            want_authn_requests_signed: self.want_authn_requests_signed,
            slo_redirect_url: self.slo_redirect_url,
            slo_response_url: self.slo_response_url,
        })
    }
}

/// Where the reader is inside the document.
#[derive(Default)]
struct MetadataReader {
    entities: Vec<EntityInProgress>,
    current: Option<EntityInProgress>,
    in_idp_descriptor: bool,
    in_signing_key: bool,
    certificate_text: Option<String>,
}

/// Every `EntityDescriptor` that has a SAML 2.0 `IDPSSODescriptor`.
fn read_idp_entities(xml: &str) -> Result<Vec<EntityInProgress>, SamlError> {
    let mut reader = NsReader::from_str(xml);
    let mut state = MetadataReader::default();
    loop {
        match reader.read_event().map_err(invalid)? {
            Event::Start(start) => state.open(&start)?,
            Event::Empty(start) => {
                state.open(&start)?;
                state.close(start.local_name().as_ref())?;
            }
            Event::End(end) => state.close(end.local_name().as_ref())?,
            Event::Text(text) => state.text(&text.xml10_content().map_err(invalid)?),
            Event::GeneralRef(_) => {}
            Event::DocType(_) => return Err(invalid("DOCTYPE declarations are refused")),
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(state
        .entities
        .into_iter()
        .filter(|entity| entity.has_idp_descriptor)
        .collect())
}

impl MetadataReader {
    fn open(&mut self, start: &BytesStart<'_>) -> Result<(), SamlError> {
        match start.local_name().as_ref() {
            b"EntityDescriptor" => {
                let entity_id = attribute(start, "entityID")?.unwrap_or_default();
                self.current = Some(EntityInProgress {
                    entity_id,
                    ..EntityInProgress::default()
                });
            }
            b"IDPSSODescriptor" => self.open_idp_descriptor(start)?,
            b"KeyDescriptor" if self.in_idp_descriptor => {
                let key_use = attribute(start, "use")?.unwrap_or_default();
                self.in_signing_key = key_use.is_empty() || key_use == "signing";
            }
            b"X509Certificate" if self.in_signing_key => {
                self.certificate_text = Some(String::new())
            }
            b"SingleSignOnService" if self.in_idp_descriptor => self.read_sso_service(start)?,
            b"SingleLogoutService" if self.in_idp_descriptor => self.read_slo_service(start)?,
            _ => {}
        }
        Ok(())
    }

    fn open_idp_descriptor(&mut self, start: &BytesStart<'_>) -> Result<(), SamlError> {
        let protocols = attribute(start, "protocolSupportEnumeration")?.unwrap_or_default();
        let saml2 = protocols.split_whitespace().any(|p| p == SAML2_PROTOCOL);
        let wants_signed = attribute(start, "WantAuthnRequestsSigned")?
            .is_some_and(|value| matches!(value.trim(), "true" | "1"));
        if let (true, Some(entity)) = (saml2, self.current.as_mut()) {
            entity.has_idp_descriptor = true;
            entity.want_authn_requests_signed |= wants_signed;
            self.in_idp_descriptor = true;
        }
        Ok(())
    }

    fn read_sso_service(&mut self, start: &BytesStart<'_>) -> Result<(), SamlError> {
        let binding = attribute(start, "Binding")?.unwrap_or_default();
        let location = attribute(start, "Location")?.unwrap_or_default();
        let Some(entity) = self.current.as_mut() else {
            return Ok(());
        };
        let slot = match binding.as_str() {
            HTTP_REDIRECT_BINDING => &mut entity.sso_redirect_url,
            HTTP_POST_BINDING => &mut entity.sso_post_url,
            _ => return Ok(()),
        };
        if slot.is_none() {
            *slot = Some(checked_url(&location)?);
        }
        Ok(())
    }

    /// The first HTTP-Redirect `SingleLogoutService` (Roster sends and answers on that binding).
    fn read_slo_service(&mut self, start: &BytesStart<'_>) -> Result<(), SamlError> {
        let binding = attribute(start, "Binding")?.unwrap_or_default();
        let location = attribute(start, "Location")?.unwrap_or_default();
        let response_location = attribute(start, "ResponseLocation")?;
        let Some(entity) = self.current.as_mut() else {
            return Ok(());
        };
        if binding == HTTP_REDIRECT_BINDING && entity.slo_redirect_url.is_none() {
            entity.slo_redirect_url = Some(checked_url(&location)?);
            entity.slo_response_url = response_location
                .filter(|location| !location.trim().is_empty())
                .map(|location| checked_url(&location))
                .transpose()?;
        }
        Ok(())
    }

    fn close(&mut self, local_name: &[u8]) -> Result<(), SamlError> {
        match local_name {
            b"EntityDescriptor" => self.entities.extend(self.current.take()),
            b"IDPSSODescriptor" => self.in_idp_descriptor = false,
            b"KeyDescriptor" => self.in_signing_key = false,
            b"X509Certificate" => self.finish_certificate()?,
            _ => {}
        }
        Ok(())
    }

    fn text(&mut self, text: &str) {
        if let Some(certificate) = self.certificate_text.as_mut() {
            certificate.push_str(text);
        }
    }

    fn finish_certificate(&mut self) -> Result<(), SamlError> {
        let (Some(text), Some(entity)) = (self.certificate_text.take(), self.current.as_mut())
        else {
            return Ok(());
        };
        let certificate = checked_certificate(&text)?;
        if !entity.certificates.contains(&certificate) {
            entity.certificates.push(certificate);
        }
        Ok(())
    }
}

/// Base64 DER without whitespace, after checking it is base64 of one DER SEQUENCE (the shape
/// of an X.509 certificate). xmlsec parses it fully on every verification.
fn checked_certificate(text: &str) -> Result<String, SamlError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| invalid("an X509Certificate is not base64"))?;
    if !is_one_der_sequence(&der) {
        return Err(invalid("an X509Certificate is not a DER certificate"));
    }
    Ok(compact)
}

/// `der` is exactly one DER SEQUENCE with a definite length.
fn is_one_der_sequence(der: &[u8]) -> bool {
    let (Some(&0x30), Some(&first_length)) = (der.first(), der.get(1)) else {
        return false;
    };
    let (header, content_length) = if first_length < 0x80 {
        (2, usize::from(first_length))
    } else {
        let n_bytes = usize::from(first_length & 0x7f);
        let Some(bytes) = der.get(2..2 + n_bytes) else {
            return false;
        };
        if n_bytes == 0 || n_bytes > 4 {
            return false;
        }
        (
            2 + n_bytes,
            bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b)),
        )
    };
    header + content_length == der.len()
}

fn checked_url(location: &str) -> Result<String, SamlError> {
    match url::Url::parse(location) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => Ok(location.to_owned()),
        _ => Err(invalid(
            "a SingleSignOnService Location is not an http(s) URL",
        )),
    }
}

fn attribute(start: &BytesStart<'_>, name: &str) -> Result<Option<String>, SamlError> {
    let Some(attribute) = start.try_get_attribute(name).map_err(invalid)? else {
        return Ok(None);
    };
    let value = attribute
        .decoded_and_normalized_value(XmlVersion::Implicit1_0, start.decoder())
        .map_err(invalid)?;
    Ok(Some(value.into_owned()))
}

fn invalid(error: impl std::fmt::Display) -> SamlError {
    SamlError::InvalidMetadata(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    // Two tiny self-signed-looking DER SEQUENCEs: enough for the shape check; xmlsec does the
    // real parsing during verification.
    const CERT_A: &str = "MAMCAQE="; // 30 03 02 01 01
    const CERT_B: &str = "MAMCAQI="; // 30 03 02 01 02

    fn metadata(keys: &str, services: &str) -> String {
        format!(
            r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.com/?a=1&amp;b=2">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    {keys}
    {services}
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#
        )
    }

    fn key(key_use: &str, cert: &str) -> String {
        format!(
            r#"<md:KeyDescriptor {key_use}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>
              {cert}
            </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
        )
    }

    const REDIRECT: &str = r#"<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>"#;
    const POST: &str = r#"<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.com/post"/>"#;

    #[test]
    fn keeps_every_signing_certificate_for_rollover() {
        let keys = [
            key(r#"use="signing""#, CERT_A),
            key("", CERT_B),
            key(r#"use="encryption""#, "MAMCAQM="),
            key(r#"use="signing""#, CERT_A),
        ]
        .concat();
        let parsed = parse_idp_metadata(&metadata(&keys, &format!("{POST}{REDIRECT}"))).unwrap();
        assert_eq!(
            parsed,
            IdpMetadata {
                entity_id: "https://idp.example.com/?a=1&b=2".into(),
                sso_redirect_url: Some("https://idp.example.com/sso".into()),
                sso_post_url: Some("https://idp.example.com/post".into()),
                signing_certificates: vec![CERT_A.into(), CERT_B.into()],
                want_authn_requests_signed: false,
                slo_redirect_url: None,
                slo_response_url: None,
            }
        );
        let wanting = metadata(&key("", CERT_A), REDIRECT).replace(
            "<md:IDPSSODescriptor ",
            r#"<md:IDPSSODescriptor WantAuthnRequestsSigned="true" "#,
        );
        assert!(
            parse_idp_metadata(&wanting)
                .unwrap()
                .want_authn_requests_signed
        );
    }

    #[test]
    fn refuses_metadata_without_a_signing_certificate() {
        let encryption_only = key(r#"use="encryption""#, CERT_A);
        let error = parse_idp_metadata(&metadata(&encryption_only, REDIRECT)).unwrap_err();
        assert_eq!(error, SamlError::NoSigningCertificate);
        assert_eq!(
            error.failure(),
            roster_domain::LoginFailure::ConnectionMisconfigured
        );
        assert_eq!(
            parse_idp_metadata(&metadata("", REDIRECT))
                .unwrap_err()
                .reason(),
            "no_signing_certificate"
        );
    }

    #[test]
    fn post_only_idps_are_accepted_without_a_redirect_url() {
        let parsed = parse_idp_metadata(&metadata(&key("", CERT_A), POST)).unwrap();
        assert_eq!(parsed.sso_redirect_url, None);
        assert_eq!(
            parsed.sso_post_url.as_deref(),
            Some("https://idp.example.com/post")
        );
    }

    #[test]
    fn refuses_broken_metadata() {
        let reason = |xml: &str| parse_idp_metadata(xml).unwrap_err().reason();
        assert_eq!(reason(&metadata(&key("", CERT_A), "")), "metadata_invalid");
        assert_eq!(
            reason(&metadata(&key("", "bm90IGRlcg=="), REDIRECT)),
            "metadata_invalid"
        );
        assert_eq!(
            reason(&metadata(&key("", "%%"), REDIRECT)),
            "metadata_invalid"
        );
        let doctype = format!("<!DOCTYPE x>{}", metadata(&key("", CERT_A), REDIRECT));
        assert_eq!(reason(&doctype), "metadata_invalid");
        let sp_only = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><md:SPSSODescriptor/></md:EntityDescriptor>"#;
        assert_eq!(reason(sp_only), "metadata_invalid");
        let javascript = REDIRECT.replace("https://idp.example.com/sso", "javascript:alert(1)");
        assert_eq!(
            reason(&metadata(&key("", CERT_A), &javascript)),
            "metadata_invalid"
        );
    }

    #[test]
    fn sp_metadata_escapes_values_and_states_the_policy() {
        let xml = sp_metadata_xml(
            &SpSettings {
                entity_id: "https://sp.example.com/saml?x=\"1\"&y=<2>".into(),
                acs_url: "https://sp.example.com/acs?c=1&d=2".into(),
            },
            &SpKeys::default(),
            false,
        );
        assert!(xml
            .contains(r#"entityID="https://sp.example.com/saml?x=&quot;1&quot;&amp;y=&lt;2&gt;""#));
        assert!(xml.contains(r#"Location="https://sp.example.com/acs?c=1&amp;d=2""#));
        assert!(xml.contains(r#"AuthnRequestsSigned="false" WantAssertionsSigned="true""#));
        assert!(xml.contains("nameid-format:persistent"));
        assert!(xml.contains("nameid-format:emailAddress"));
        assert!(xml.contains(HTTP_POST_BINDING));
        // It parses back as XML with the original values.
        let mut reader = NsReader::from_str(&xml);
        let mut entity_id = None;
        loop {
            match reader.read_event().unwrap() {
                Event::Start(start) if start.local_name().as_ref() == b"EntityDescriptor" => {
                    entity_id = attribute(&start, "entityID").unwrap();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(
            entity_id.as_deref(),
            Some("https://sp.example.com/saml?x=\"1\"&y=<2>")
        );
    }

    #[test]
    fn sp_metadata_publishes_each_key_for_its_use_and_says_whether_requests_are_signed() {
        let now = 1_800_000_000;
        let key = |id: &str, key_use: SpKeyUse| {
            let pair = super::super::keys::generate_sp_key(id, now).unwrap();
            super::super::keys::SpKey::load(
                id.into(),
                key_use,
                &pair.private_pem,
                pair.certificate,
                pair.not_after_unix,
            )
            .unwrap()
        };
        let keys = SpKeys::new(vec![
            key("sign-old", SpKeyUse::Signing),
            key("enc-old", SpKeyUse::Encryption),
            key("enc-new", SpKeyUse::Encryption),
        ]);
        let sp = SpSettings {
            entity_id: "https://sp.example.com/m".into(),
            acs_url: "https://sp.example.com/acs".into(),
        };
        let xml = sp_metadata_xml(&sp, &keys, true);
        assert!(xml.contains(r#"AuthnRequestsSigned="true""#), "{xml}");
        let certificate = |id: &str| {
            let key = keys
                .of_use(SpKeyUse::Signing)
                .chain(keys.of_use(SpKeyUse::Encryption))
                .find(|key| key.id == id)
                .unwrap();
            xml.find(&key.certificate).unwrap()
        };
        let signing = xml.find(r#"use="signing""#).unwrap();
        let encryption = xml.find(r#"use="encryption""#).unwrap();
        assert!(signing < certificate("sign-old") && certificate("sign-old") < encryption);
        // The newest encryption key first.
        assert!(encryption < certificate("enc-new"));
        assert!(certificate("enc-new") < certificate("enc-old"));
        assert!(xml.contains("xmlenc11#aes256-gcm"));
        assert!(!xml.contains("rsa-1_5"));
        assert_eq!(xml.matches("<md:KeyDescriptor").count(), 3);
    }
}
