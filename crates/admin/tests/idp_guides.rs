//! The IdP setup steps the console shows (`IDP_GUIDES` in `crates/admin/console/console.js`)
//! are the steps of `docs/idp-setup.md`, word for word: an admin following the console and one
//! following the doc do the same thing, and neither can change without the other. Each guide's
//! `where` and numbered `steps` must be its doc section's `SAML (…):` / `OIDC (…):` list, every
//! such list of the IdP sections must belong to a guide, and the picker offers the IdPs the
//! guided setup promises.

// Test code: a failed unwrap is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use pretty_assertions::assert_eq;
use roster_domain::Vendor;
use serde_json::Value;

const BEGIN: &str = "/* idp-guides:begin */";
const END: &str = "/* idp-guides:end */";

/// The value names a step may hold in backticks (`GUIDE_VALUES` in console.js).
const VALUE_NAMES: &[&str] = &[
    "sp_entity_id",
    "acs_url",
    "acs_url_regex",
    "metadata_url",
    "redirect_uri",
    "login_url",
    "scim_base_url",
];

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// The guides of console.js: the JSON between its markers.
fn guides() -> Vec<Value> {
    let script = read("console/console.js");
    let start = script.find(BEGIN).expect("console.js marks IDP_GUIDES") + BEGIN.len();
    let end = script[start..].find(END).expect("IDP_GUIDES ends") + start;
    let parsed: Value = serde_json::from_str(&script[start..end]).expect("IDP_GUIDES is JSON");
    parsed.as_array().unwrap().clone()
}

/// A doc list: the `PROTO (where):` line (joined when wrapped) and its numbered items, each
/// joined into one line.
#[derive(Debug, PartialEq)]
struct DocList {
    header: String,
    steps: Vec<String>,
}

fn join(lines: &[&str]) -> String {
    lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ")
}

fn is_item(line: &str) -> Option<&str> {
    let (number, rest) = line.split_once(". ")?;
    (!number.is_empty() && number.chars().all(|c| c.is_ascii_digit())).then_some(rest)
}

/// The `SAML (…):` and `OIDC (…):` lists of one `## ` section.
fn lists(section: &str) -> Vec<DocList> {
    let lines: Vec<&str> = section.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !(lines[i].starts_with("SAML (") || lines[i].starts_with("OIDC (")) {
            i += 1;
            continue;
        }
        let mut header = vec![lines[i]];
        i += 1;
        while i < lines.len() && !lines[i].is_empty() && is_item(lines[i]).is_none() {
            header.push(lines[i]);
            i += 1;
        }
        let mut steps: Vec<Vec<&str>> = Vec::new();
        while i < lines.len() {
            if let Some(rest) = is_item(lines[i]) {
                steps.push(vec![rest]);
            } else if lines[i].starts_with("   ") && !steps.is_empty() {
                steps.last_mut().unwrap().push(lines[i]);
            } else {
                break;
            }
            i += 1;
        }
        out.push(DocList {
            header: join(&header),
            steps: steps.iter().map(|s| join(s)).collect(),
        });
    }
    out
}

/// The doc's `## ` sections by heading, from the first IdP to the SCIM part.
fn sections() -> Vec<(String, String)> {
    let doc = read("../../docs/idp-setup.md");
    let start = doc
        .find("\n## Microsoft Entra ID\n")
        .expect("the Entra section");
    let end = doc
        .find("\n## Provisioning (SCIM)\n")
        .expect("the SCIM part");
    doc[start + 1..end]
        .split("\n## ")
        .map(|s| {
            let s = s.trim_start_matches("## ");
            let (heading, body) = s.split_once('\n').unwrap();
            (heading.to_owned(), body.to_owned())
        })
        .collect()
}

fn text(guide: &Value, field: &str) -> String {
    guide[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} of {guide}"))
        .to_owned()
}

#[test]
fn every_guide_of_the_console_is_its_section_of_the_doc_word_for_word() {
    let sections = sections();
    let guides = guides();
    for guide in &guides {
        let (id, doc) = (text(guide, "id"), text(guide, "doc"));
        let protocol = text(guide, "protocol");
        let (_, body) = sections
            .iter()
            .find(|(heading, _)| *heading == doc)
            .unwrap_or_else(|| panic!("{id}: no `## {doc}` in docs/idp-setup.md"));
        let header = format!(
            "{} ({}):",
            protocol.to_ascii_uppercase(),
            text(guide, "where")
        );
        let found = lists(body)
            .into_iter()
            .find(|l| {
                l.header
                    .starts_with(&format!("{} (", protocol.to_ascii_uppercase()))
            })
            .unwrap_or_else(|| panic!("{id}: no {protocol} list under `## {doc}`"));
        let steps: Vec<String> = guide["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            found,
            DocList { header, steps },
            "{id}: console.js and docs/idp-setup.md differ"
        );
    }
    // …and every list of the doc's IdP sections is a guide of the console.
    for (heading, body) in &sections {
        for list in lists(body) {
            let protocol = list.header[..4].to_ascii_lowercase();
            assert!(
                guides
                    .iter()
                    .any(|g| text(g, "doc") == *heading && text(g, "protocol") == protocol),
                "`## {heading}` has a {protocol} list the console does not show"
            );
        }
    }
}

#[test]
fn the_picker_offers_every_promised_idp_with_a_known_vendor_and_known_values() {
    let guides = guides();
    let ids: Vec<String> = guides.iter().map(|g| text(g, "id")).collect();
    assert_eq!(
        ids,
        [
            "entra-saml",
            "entra-oidc",
            "okta-saml",
            "okta-oidc",
            "google-saml",
            "onelogin-saml",
            "onelogin-oidc",
            "jumpcloud-saml",
            "adfs-saml",
            "pingfederate-saml",
            "generic-saml",
            "generic-oidc",
        ]
    );
    for guide in &guides {
        let id = text(guide, "id");
        assert!(
            id.ends_with(&format!("-{}", text(guide, "protocol"))),
            "{id}"
        );
        assert!(
            Vendor::parse(&text(guide, "vendor")).is_ok(),
            "{id}: the API knows its vendor"
        );
        assert!(!text(guide, "idp").is_empty() && !text(guide, "gives").is_empty());
        // A value name spelled wrong would show as plain code instead of the value: every
        // snake_case name ending like a value must be one the console fills in.
        for step in guide["steps"].as_array().unwrap() {
            for code in step.as_str().unwrap().split('`').skip(1).step_by(2) {
                let looks_like_value = code.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    && ["_url", "_uri", "_id", "_regex"]
                        .iter()
                        .any(|end| code.ends_with(end));
                assert!(
                    !looks_like_value || VALUE_NAMES.contains(&code),
                    "{id}: `{code}` is no value the console fills in"
                );
            }
        }
        // A SAML guide shows where the SP values go; an OIDC guide the redirect URI.
        let all = guide["steps"].to_string();
        let needs = if text(guide, "protocol") == "saml" {
            "`acs_url`"
        } else {
            "`redirect_uri`"
        };
        assert!(all.contains(needs), "{id} shows {needs}");
    }
}
