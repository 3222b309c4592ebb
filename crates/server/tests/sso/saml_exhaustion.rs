//! Issue #22 on the wire (catalog S38): a real `roster serve` process gets the ACS
//! resource-exhaustion response — five references of 380 transforms each over a padded
//! assertion, every digest right, signed with a key the connection does not trust — and refuses
//! it with the login error page before any crypto. Before the fix, xmlsec digested every
//! reference through every transform before it found the signature invalid: seconds of CPU and
//! hundreds of MB per request. A process of its own, so that its memory is this test's only.
//!
//! No IdP is needed: the connection trusts a throw-away certificate, and the attacker signs
//! with another throw-away key (the `openssl` CLI makes both; xmlsec signs through samael).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use roster_store::domain::{
    Actor, Connection, ConnectionKind, DisplayName, GroupSync, ProfileSync, Vendor, Workspace,
};
use roster_store::testing::TestStore;
use roster_store::NewConnection;
use samael::crypto::{Crypto, CryptoProvider};
use serde_json::{json, Value};

use crate::process::Server;

const IDP_ENTITY_ID: &str = "https://idp.example.test/metadata";
const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// What the server may spend on refusing one: a pass of the pre-scan, even in a debug build.
/// (xmlsec spent 2.5 to 12.6 s.) Measured as the server's CPU time, which a busy test machine
/// does not inflate; wall-clock time is bounded too, loosely for the same reason.
const MAX_CPU_PER_REFUSAL: Duration = Duration::from_millis(50);
const MAX_WALL_PER_REFUSAL: Duration = Duration::from_secs(1);
/// How much the server's peak resident memory may grow over the seven (xmlsec: ~900 MB each).
const MAX_RSS_GROWTH_KIB: u64 = 16 * 1024;

#[test]
fn the_issue_22_response_is_refused_before_any_crypto() {
    let db = TestStore::new();
    let workspace = db.workspace("acme");
    let idp = Key::new("/CN=trusted-idp");
    let attacker = Key::new("/CN=attacker");
    let connection = saml_connection(&db, &workspace, &idp);
    let server = Server::start(&db);
    let acs = format!("/sso/saml/{}/acs", connection.id);
    let sp_base = format!("https://roster.example.test/sso/saml/{}", connection.id);

    // An ordinary forgery, refused by xmlsec, warms up everything a refusal needs.
    let signed = sign(&response_template(&sp_base, &attacker), &attacker);
    let (status, body, _) = post_acs(&server, &acs, &acs_form(&signed));
    assert_eq!((status, reason(&body)), (400, "invalid_response"), "{body}");

    let attack = with_references(&signed, 5, 380);
    assert_eq!(attack.matches("<ds:Transform ").count(), 5 * 380);
    assert!(
        (240 * 1024..=256 * 1024).contains(&attack.len()),
        "{} bytes",
        attack.len()
    );
    let attack = acs_form(&attack);
    let rss_before = status_kib(&server, "VmRSS:");
    let cpu_before = cpu_time(&server);

    // Three in a row, then four at once (the issue's burst: 26 s and 3.5 GB).
    for _ in 0..3 {
        let (status, body, elapsed) = post_acs(&server, &acs, &attack);
        assert_eq!((status, reason(&body)), (400, "invalid_response"), "{body}");
        assert!(body.contains("could not be verified"), "{body}");
        assert!(elapsed < MAX_WALL_PER_REFUSAL, "{elapsed:?}");
    }
    std::thread::scope(|scope| {
        let posts: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| post_acs(&server, &acs, &attack)))
            .collect();
        for post in posts {
            let (status, body, elapsed) = post.join().unwrap();
            assert_eq!((status, reason(&body)), (400, "invalid_response"), "{body}");
            assert!(elapsed < MAX_WALL_PER_REFUSAL * 4, "{elapsed:?}");
        }
    });

    let cpu = cpu_time(&server) - cpu_before;
    assert!(
        cpu < MAX_CPU_PER_REFUSAL * 7,
        "seven refusals took {cpu:?} of CPU"
    );
    // The peak since the start: nothing transient escapes it.
    let peak_after = status_kib(&server, "VmHWM:");
    assert!(
        peak_after < rss_before + MAX_RSS_GROWTH_KIB,
        "resident memory peaked at {peak_after} KiB, from {rss_before} KiB"
    );

    // The admin's login log says what was wrong, and nobody was created.
    let events = db
        .store
        .login_events(workspace.id, Some("failure"), 100)
        .unwrap();
    assert!(events
        .iter()
        .all(|event| event.reason.as_deref() == Some("invalid_response")));
    let reasons: Vec<String> = events
        .iter()
        .map(|event| {
            let detail: Value = serde_json::from_str(&event.detail).unwrap();
            detail["reason"].as_str().unwrap().to_owned()
        })
        .collect();
    let mut want = vec!["signature_too_many_transforms"; 7];
    want.push("signature_invalid");
    assert_eq!(reasons, want);
    let detail: Value = serde_json::from_str(&events[0].detail).unwrap();
    assert_eq!(
        detail,
        json!({ "reason": "signature_too_many_transforms", "want": 2, "got": 380 })
    );
    assert_eq!(db.store.count_users(workspace.id).unwrap(), 0);
}

/// A throw-away key (DER) and its self-signed certificate (base64 DER); `test_sign_in` signs
/// with it too.
pub(crate) struct Key {
    pub(crate) private_der: Vec<u8>,
    pub(crate) certificate_b64: String,
}

impl Key {
    pub(crate) fn new(subject: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let openssl = |args: &[&str]| {
            let status = Command::new("openssl")
                .current_dir(dir.path())
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl CLI");
            assert!(status.success(), "openssl {args:?}");
        };
        openssl(&[
            "req", "-x509", "-nodes", "-days", "2", "-subj", subject, "-newkey", "rsa:2048",
            "-keyout", "key.pem", "-out", "cert.pem",
        ]);
        openssl(&[
            "pkey", "-in", "key.pem", "-outform", "DER", "-out", "key.der",
        ]);
        openssl(&[
            "x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der",
        ]);
        Key {
            private_der: std::fs::read(dir.path().join("key.der")).unwrap(),
            certificate_b64: base64::engine::general_purpose::STANDARD
                .encode(std::fs::read(dir.path().join("cert.der")).unwrap()),
        }
    }
}

/// A SAML connection whose IdP metadata trusts `idp`'s certificate.
pub(crate) fn saml_connection(db: &TestStore, workspace: &Workspace, idp: &Key) -> Connection {
    let metadata = format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{IDP_ENTITY_ID}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        idp.certificate_b64
    );
    db.store
        .create_connection(
            &Actor::Cli,
            NewConnection {
                workspace_id: workspace.id,
                name: DisplayName::parse("corp").unwrap(),
                kind: ConnectionKind::Saml,
                vendor: Vendor::Generic,
                protocol_config: json!({ "idp_metadata_xml": metadata, "allow_idp_initiated": true })
                    .to_string(),
                domains: Vec::new(),
                scim_enabled: false,
                profile_sync: ProfileSync::FirstLogin,
                group_sync: GroupSync::EveryLogin,
                strict_immutability: false,
            },
        )
        .unwrap()
}

/// An IdP-initiated response for the SP at `sp_base`, its assertion padded with an attribute
/// so that the attack fills the 256 KiB limit, and a signature template on the assertion. The
/// times do not matter: the response never gets as far as their check.
fn response_template(sp_base: &str, key: &Key) -> String {
    let acs = format!("{sp_base}/acs");
    let padding = "x".repeat(120_000);
    format!(
        r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_response" Version="2.0" IssueInstant="2030-01-01T00:00:00Z" Destination="{acs}"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_assertion" Version="2.0" IssueInstant="2030-01-01T00:00:00Z"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#_assertion"><ds:Transforms><ds:Transform Algorithm="{ENVELOPED_SIGNATURE}"/><ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">admin@example.test</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="2030-01-01T00:05:00Z" Recipient="{acs}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="2029-12-31T23:59:00Z" NotOnOrAfter="2030-01-01T00:05:00Z"><saml:AudienceRestriction><saml:Audience>{sp_base}/metadata</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="2030-01-01T00:00:00Z"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="padding"><saml:AttributeValue>{padding}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>"##,
        certificate = key.certificate_b64,
    )
}

pub(crate) fn sign(xml: &str, key: &Key) -> String {
    Crypto::sign_xml(xml, &key.private_der).unwrap()
}

/// The signed response with its one reference repeated `n_references` times, each with
/// enveloped-signature and then `n_transforms - 1` exclusive canonicalizations. The digest xmlsec
/// computed stays right for every copy: a canonical form canonicalised again is the same bytes
/// (`saml_attacks::s38_the_crafted_digests_are_right` checks it against xmlsec).
fn with_references(signed: &str, n_references: usize, n_transforms: usize) -> String {
    let start = signed.find("<ds:Reference ").unwrap();
    let end = signed.find("</ds:Reference>").unwrap() + "</ds:Reference>".len();
    let reference = &signed[start..end];
    let transforms_start = reference.find("<ds:Transforms>").unwrap();
    let transforms_end = reference.find("</ds:Transforms>").unwrap() + "</ds:Transforms>".len();
    let transforms = format!(
        r#"<ds:Transforms><ds:Transform Algorithm="{ENVELOPED_SIGNATURE}"/>{}</ds:Transforms>"#,
        format!(r#"<ds:Transform Algorithm="{EXC_C14N}"/>"#).repeat(n_transforms - 1)
    );
    let reference = format!(
        "{}{transforms}{}",
        &reference[..transforms_start],
        &reference[transforms_end..]
    );
    format!(
        "{}{}{}",
        &signed[..start],
        reference.repeat(n_references),
        &signed[end..]
    )
}

/// The HTTP-POST binding's form for `xml`: `SAMLResponse`, base64 and percent-encoded.
pub(crate) fn acs_form(xml: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(xml);
    let escaped = encoded
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    format!("SAMLResponse={escaped}")
}

/// POSTs `form` to the ACS: (status, body, time to the full answer).
fn post_acs(server: &Server, path: &str, form: &str) -> (u16, String, Duration) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent();
    let url = format!("http://{}{path}", server.addr);
    let started = Instant::now();
    let mut response = agent
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(form)
        .unwrap();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), body, started.elapsed())
}

/// The reason code on a login error page.
fn reason(body: &str) -> &str {
    body.split_once("Reason: <code>")
        .and_then(|(_, rest)| rest.split_once("</code>"))
        .map_or("none", |(code, _)| code)
}

/// The CPU time the server process has used, user and system (`/proc/PID/stat`).
fn cpu_time(server: &Server) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.child.id())).unwrap();
    // Fields after the command's closing parenthesis, from the third (state) on: utime and
    // stime are the 14th and 15th.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let output = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    let ticks_per_second: u64 = String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    Duration::from_millis(ticks * 1000 / ticks_per_second)
}

/// A memory figure of the server process from `/proc/PID/status` (`VmRSS:`, `VmHWM:`), KiB.
fn status_kib(server: &Server, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
