//! SAML ACS logins: a stand-in IdP (`crates/sso/examples/sign_assertions.rs`) makes a key and
//! its metadata, a SAML connection that accepts IdP-initiated logins is created on the running
//! server with the `roster` CLI, then unique Responses are pre-signed and posted to the ACS as
//! fast as the clients can. Every login does what a real one does: XML pre-scan, signature
//! check (xmlsec), conditions, the replay cache insert, JIT (the first login of each subject
//! creates the user, later ones find it), group claims, the login event and a signed session.
//! A login succeeds with a redirect (`302 Found`) to the landing page. The connection's SP
//! metadata is read first, as the IdP's setup does, so its own keys exist before the first login.

use std::path::Path;
use std::process::Command;

use super::load::{self, Operation, Outcome, Step, Until};
use super::scenario::{self, Load, Row};
use super::server;
use roster_devtools::http::{Client, Request};
use roster_devtools::{json_field, run_checked, say};

/// The target (#7), in logins per second.
pub(crate) const ACS_TARGET: f64 = 1_000.0;
/// Distinct subjects: the first login of each creates its user.
const SUBJECTS: u64 = 1_000;

/// Runs the ACS phase against the server at `addr` (whose database is `database_url`).
pub(crate) fn run(
    binary: &Path,
    signer: &Path,
    dir: &Path,
    database_url: &str,
    addr: &str,
    load: Load,
) -> Result<Row, String> {
    // About as many logins as the target rate would serve in the timed phases' duration.
    let count = (load.seconds * ACS_TARGET as u64).max(2 * SUBJECTS);
    let logins = signed_logins(
        &Server {
            binary,
            dir,
            database_url,
            addr,
        },
        signer,
        &StandIn {
            workspace: server::WORKSPACE,
            connection: "bench-sso",
            idp: &dir.join("bench-idp"),
        },
        count,
        SUBJECTS,
    )?;
    let forms = &logins.forms;
    let path = logins.path.as_str();
    let outcome: Outcome = load::run(
        addr,
        "",
        load.concurrency,
        Until::Count(forms.len() as u64),
        |_| -> Operation<'_> {
            Box::new(move |index, answer| match answer {
                None => {
                    let form = forms.get(index as usize).cloned().unwrap_or_default();
                    Step::Send(Request::form(path.to_owned(), form))
                }
                Some(mut response) => {
                    // A login succeeds with a redirect to where the user was going.
                    if matches!(response.status, 302 | 303) {
                        response.status = 200;
                    }
                    Step::Done(response)
                }
            })
        },
    );
    Ok(scenario::finished(
        "SAML ACS login (IdP-initiated, signed)",
        outcome,
        Some(ACS_TARGET),
    ))
}

/// The running server under test, and how to run its CLI on the same database.
pub(crate) struct Server<'a> {
    pub(crate) binary: &'a Path,
    pub(crate) dir: &'a Path,
    pub(crate) database_url: &'a str,
    pub(crate) addr: &'a str,
}

impl Server<'_> {
    /// Runs `roster ARGS` on the server's database and returns its stdout.
    pub(crate) fn cli(&self, args: &[&str]) -> Result<String, String> {
        server::capture(
            server::roster(self.binary, self.dir, self.database_url, self.addr).args(args),
        )
    }
}

/// A stand-in SAML IdP and the connection of `workspace` that trusts it.
pub(crate) struct StandIn<'a> {
    pub(crate) workspace: &'a str,
    /// The connection's name.
    pub(crate) connection: &'a str,
    /// Where the stand-in keeps its key, metadata and signed Responses.
    pub(crate) idp: &'a Path,
}

/// Pre-signed logins for one SAML connection's ACS.
pub(crate) struct SignedLogins {
    /// The ACS path on the server.
    pub(crate) path: String,
    /// One form body (`SAMLResponse=…`) per login, each with a fresh Response and Assertion id.
    pub(crate) forms: Vec<String>,
}

/// Makes the stand-in IdP's key, creates the SAML connection that trusts it (IdP-initiated
/// logins allowed) on the running server, and has the stand-in sign `count` Responses for it,
/// cycling through `subjects` distinct users (each one's first login creates it by JIT).
pub(crate) fn signed_logins(
    server: &Server<'_>,
    signer: &Path,
    stand_in: &StandIn<'_>,
    count: u64,
    subjects: u64,
) -> Result<SignedLogins, String> {
    let idp = stand_in.idp;
    run_checked(Command::new(signer).arg("metadata").arg(idp))?;
    let metadata = idp.join("metadata.xml");
    let metadata = metadata
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", metadata.display()))?;
    let created = server.cli(&[
        "connection",
        "create",
        "--workspace",
        stand_in.workspace,
        "--name",
        stand_in.connection,
        "--kind",
        "saml",
        "--allow-idp-initiated",
        "--idp-metadata-file",
        metadata,
    ])?;
    let acs_url =
        json_field(&created, "acs_url").ok_or_else(|| format!("no acs_url in {created}"))?;
    let audience = json_field(&created, "sp_entity_id")
        .ok_or_else(|| format!("no sp_entity_id in {created}"))?;
    let path = acs_url
        .strip_prefix(&format!("http://{}", server.addr))
        .ok_or_else(|| format!("{acs_url} is not on {}", server.addr))?
        .to_owned();
    // The IdP is set up with Roster's SP metadata before anyone logs in, and reading it makes
    // the connection's own keys: done here, so the timed logins do not pay for two RSA key
    // generations that a real deployment made at setup.
    let metadata_path = path
        .strip_suffix("/acs")
        .map(|base| format!("{base}/metadata"))
        .ok_or_else(|| format!("{path} is not an ACS path"))?;
    let sp_metadata = Client::new(server.addr, "").request("GET", &metadata_path, None)?;
    if sp_metadata.status != 200 {
        return Err(format!(
            "GET {metadata_path} answered {}",
            sp_metadata.status
        ));
    }
    say(&format!(
        "  pre-signing {count} SAML Responses ({subjects} subjects) for {acs_url}"
    ));
    run_checked(Command::new(signer).arg("responses").arg(idp).args([
        &acs_url,
        &audience,
        &count.to_string(),
        &subjects.to_string(),
    ]))?;
    let text = std::fs::read_to_string(idp.join("responses.txt"))
        .map_err(|err| format!("cannot read the signed responses: {err}"))?;
    Ok(SignedLogins {
        path,
        forms: text.lines().map(str::to_owned).collect(),
    })
}
