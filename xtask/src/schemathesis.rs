//! `cargo xtask schemathesis`: runs schemathesis (from PyPI, pinned with its dependencies in
//! `xtask/schemathesis/requirements.txt`) against the admin API of a freshly started Roster,
//! driven by the API's own OpenAPI document (`/api/v1/openapi.json`), and fails on any server
//! error or any answer the document does not describe (status, content type, headers, body
//! schema). `cargo xtask test` runs it after the SCIM conformance check.
//!
//! The run is bounded and reproducible: a fixed seed, one worker, at most `MAX_EXAMPLES` cases
//! per operation and phase (examples, coverage, fuzzing; not the stateful phase), on a throwaway
//! SQLite database seeded through the CLI with a few rows (connections, a token, a role, a
//! mapping, admins, a spare API key) whose ids the operations on one resource are given, so they
//! reach it rather than only the 404 of a made-up id. Every check runs on every case (`--continue-on-failure`), so a red run lists each
//! distinct failure once: operation, check, status answered, what was wrong, a curl to replay
//! it. schemathesis's own output and reports, and the server's log, are kept in
//! `target/schemathesis/`.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::instance::Instance;
use crate::{repo_root, say};

/// What schemathesis checks on every response: the issue's "0 server errors and 0 schema
/// violations", the document's statuses, content types and headers included, and that a method
/// a path does not have is a 405 (not a 404 or a 2xx).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance,\
                      unsupported_method";
/// Cases per operation and phase: enough to reach every documented status of the admin API,
/// few enough for the run to take well under a minute on two cores.
const MAX_EXAMPLES: &str = "20";
/// The same cases on every run, so a red run is red again when replayed.
const SEED: &str = "1";
/// Longer than the outbound client's 15-second total (a connection whose metadata URL or issuer
/// the server fetches), so a slow fetch shows up as a slow answer rather than a client error.
const REQUEST_TIMEOUT_SECS: &str = "20";
const WORKSPACE: &str = "schemathesis";
/// The environment variable schemathesis reads the admin API key from (`operation_config`).
const API_KEY_VARIABLE: &str = "ROSTER_SCHEMATHESIS_API_KEY";
/// The environment variable the operator key reaches schemathesis by (for `/api/v1/operator`).
const OPERATOR_KEY_VARIABLE: &str = "ROSTER_SCHEMATHESIS_OPERATOR_KEY";

/// `cargo xtask schemathesis [--binary PATH]`: `--binary` runs a roster built already instead
/// of building the debug one.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let binary = crate::instance::binary_option("schemathesis", args)?;
    run_checker(binary.as_deref()).map(|_| ())
}

/// Builds Roster (unless `binary` is given), runs schemathesis against its admin API;
/// `Ok((operations, 0))` when every operation passed every check, otherwise the distinct
/// failures as the error.
pub(crate) fn run_checker(binary: Option<&Path>) -> Result<(u64, u64), String> {
    let root = repo_root();
    let python = roster_devtools::python::venv(
        &root,
        "schemathesis-venv",
        &root
            .join("xtask")
            .join("schemathesis")
            .join("requirements.txt"),
    )?;
    let schemathesis = python.with_file_name("schemathesis");
    let out = crate::cargo_target_dir().join("schemathesis");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|err| format!("{}: {err}", out.display()))?;
    let mut roster = Instance::create("schemathesis", binary)?;
    let (api_key, operations) = seed(&roster)?;
    let operator_key = roster.cli(&["operator-key", "create", "--name", "schemathesis"])?;
    // The server's log (a 500's cause; the request errors schemathesis's probes provoke) goes
    // next to the reports rather than into the summary.
    let server_log = out.join("roster.log");
    roster.serve(Stdio::from(
        std::fs::File::create(&server_log)
            .map_err(|err| format!("{}: {err}", server_log.display()))?,
    ))?;
    let (config, report, events, log) = (
        out.join("schemathesis.toml"),
        out.join("report.json"),
        out.join("events.ndjson"),
        out.join("output.txt"),
    );
    std::fs::write(&config, operation_config(&operations))
        .map_err(|err| format!("{}: {err}", config.display()))?;
    let base = roster.base_url();
    say(&format!(
        "running schemathesis against {base}/api/v1/openapi.json ({MAX_EXAMPLES} examples per \
         operation and phase, seed {SEED})"
    ));
    let output = Command::new(&schemathesis)
        // Where hypothesis would keep anything of its own.
        .current_dir(&out)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{base}/api/v1/openapi.json"))
        .args(["--url", &base])
        // The configuration sends it as `Authorization: Bearer` (not on a command line).
        .env(API_KEY_VARIABLE, &api_key)
        .env(OPERATOR_KEY_VARIABLE, &operator_key)
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", SEED])
        .args(["--workers", "1"])
        .args(["--request-timeout", REQUEST_TIMEOUT_SECS])
        .args(["--generation-database", "none"])
        .arg("--continue-on-failure")
        .arg("--no-color")
        .args(["--report", "json,ndjson"])
        .arg("--report-json-path")
        .arg(&report)
        .arg("--report-ndjson-path")
        .arg(&events)
        .output()
        .map_err(|err| format!("cannot run {}: {err}", schemathesis.display()))?;
    drop(roster);
    let mut transcript = output.stdout.clone();
    transcript.extend_from_slice(&output.stderr);
    std::fs::write(&log, &transcript).map_err(|err| format!("{}: {err}", log.display()))?;

    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|err| {
            format!(
                "schemathesis wrote no {} ({err}); its output is in {}:\n{}",
                path.display(),
                log.display(),
                tail(&String::from_utf8_lossy(&transcript), 20)
            )
        })
    };
    let summary = Summary::from_report(&read(&report)?)?;
    let failures = distinct_failures(&read(&events)?, &base)?;
    if output.status.success() && failures.is_empty() && summary.errors.is_empty() {
        say(&format!(
            "schemathesis: {} operations, {} test cases, 0 failures ({:.1} s)",
            summary.operations, summary.cases, summary.seconds
        ));
        return Ok((summary.operations, 0));
    }
    Err(failure_report(
        &summary,
        &failures,
        output.status.code(),
        &out,
    ))
}

/// A workspace, its admin API key (returned), and a few rows so list operations have something
/// to list and operations on one resource can reach it (`operation_config`): a SCIM connection
/// with a token, a draft SAML connection, a role, a mapping with its app group, two admins, a
/// spare API key. Nothing here makes Roster fetch a URL.
fn seed(roster: &Instance) -> Result<(String, Vec<Fixed>), String> {
    let cli = |args: &[&str]| roster.cli(&[args, &["--workspace", WORKSPACE]].concat());
    let id = |json: &str, what: &str| -> Result<String, String> {
        serde_json::from_str::<Value>(json)
            .ok()
            .and_then(|v| v["id"].as_str().or(v[0]["id"].as_str()).map(str::to_owned))
            .ok_or_else(|| format!("roster printed no id for {what}: {json}"))
    };
    roster.cli(&["workspace", "create", WORKSPACE])?;
    let api_key = cli(&["api-key", "create", "--name", "schemathesis"])?;
    cli(&["api-key", "create", "--name", "spare"])?;
    let spare_key = serde_json::from_str::<Value>(&cli(&["api-key", "list"])?)
        .ok()
        .and_then(|keys| {
            keys.as_array()?
                .iter()
                .find(|k| k["name"] == "spare")
                .and_then(|k| k["id"].as_str().map(str::to_owned))
        })
        .ok_or("`roster api-key list` does not list the spare key")?;
    let directory = id(
        &cli(&[
            "connection",
            "create",
            "--name",
            "directory",
            "--kind",
            "scim",
        ])?,
        "the SCIM connection",
    )?;
    let draft = id(
        &cli(&["connection", "create", "--name", "draft", "--kind", "saml"])?,
        "the draft SAML connection",
    )?;
    cli(&["token", "create", "--connection", "directory"])?;
    let token = id(&cli(&["token", "list"])?, "the SCIM token")?;
    cli(&["role", "create", "editor", "--rank", "10"])?;
    let mapping = cli(&[
        "mapping",
        "create",
        "--connection",
        "directory",
        "--idp-group",
        "engineering",
        "--group",
        "Engineering",
        "--role",
        "editor",
    ])?;
    let group = serde_json::from_str::<Value>(&mapping)
        .ok()
        .and_then(|m| m["group_id"].as_str().map(str::to_owned))
        .ok_or_else(|| format!("roster printed no group_id for the mapping: {mapping}"))?;
    let mapping = id(&mapping, "the mapping")?;
    cli(&["admin", "create", "--email", "admin@example.com"])?;
    let user = id(
        &cli(&["admin", "create", "--email", "second@example.com"])?,
        "the second admin",
    )?;
    let on = |value: &String| vec![("path.id", value.clone())];
    let operations = vec![
        ("DELETE /api/v1/admin/api-keys/{id}", on(&spare_key)),
        ("DELETE /api/v1/admin/connections/{id}", on(&draft)),
        ("GET /api/v1/admin/connections/{id}", on(&directory)),
        ("PUT /api/v1/admin/connections/{id}/scim", on(&directory)),
        (
            "PUT /api/v1/admin/connections/{id}/settings",
            on(&directory),
        ),
        ("POST /api/v1/admin/connections/{id}/test", on(&directory)),
        ("GET /api/v1/admin/connections/{id}/tokens", on(&directory)),
        ("POST /api/v1/admin/connections/{id}/tokens", on(&directory)),
        (
            "DELETE /api/v1/admin/connections/{id}/tokens/{token}",
            vec![("path.id", directory.clone()), ("path.token", token)],
        ),
        ("POST /api/v1/admin/groups/{id}/members", on(&group)),
        (
            "DELETE /api/v1/admin/groups/{id}/members/{user}",
            vec![("path.id", group.clone()), ("path.user", user.clone())],
        ),
        (
            "DELETE /api/v1/admin/scim/group-mappings/{id}",
            on(&mapping),
        ),
        ("GET /api/v1/admin/users/{id}", on(&user)),
        ("GET /api/v1/admin/users/{id}/apps", on(&user)),
        ("POST /api/v1/admin/users/{id}/disable", on(&user)),
        ("POST /api/v1/admin/users/{id}/enable", on(&user)),
        (
            "POST /api/v1/admin/users/{id}/sign-out-everywhere",
            on(&user),
        ),
    ];
    Ok((api_key, operations))
}

/// An operation (`METHOD /path`) and the values its path parameters are fixed to.
type Fixed = (&'static str, Vec<(&'static str, String)>);

/// schemathesis's configuration file: the admin API key on every request (from the
/// environment), and for each operation named, path parameters fixed to a row
/// `seed` created, so its cases reach the resource (and its 2xx answers get checked) instead of
/// only the 404 of a made-up id. The coverage phase still sends made-up and malformed ids.
fn operation_config(operations: &[Fixed]) -> String {
    let mut toml = format!(
        "# Written by `cargo xtask schemathesis` (xtask/src/schemathesis.rs) for one run.\n\
         headers = {{ Authorization = \"Bearer ${{{API_KEY_VARIABLE}}}\" }}\n"
    );
    for (operation, parameters) in operations {
        let parameters: Vec<String> = parameters
            .iter()
            .map(|(name, value)| format!("{} = {}", toml_string(name), toml_string(value)))
            .collect();
        toml.push_str(&format!(
            "\n[[operations]]\ninclude-name = {}\nparameters = {{ {} }}\n",
            toml_string(operation),
            parameters.join(", ")
        ));
    }
    // The operator API with the operator's key, its workspace routes in the seeded workspace.
    toml.push_str(&format!(
        "\n[[operations]]\ninclude-path-regex = \"^/api/v1/operator/\"\n\
         headers = {{ Authorization = \"Bearer ${{{OPERATOR_KEY_VARIABLE}}}\" }}\n\
         parameters = {{ \"path.workspace\" = {} }}\n",
        toml_string(WORKSPACE)
    ));
    toml
}

/// A TOML basic string (the JSON string syntax is one).
fn toml_string(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// The run's totals, from schemathesis's JSON report.
#[derive(Debug, PartialEq)]
struct Summary {
    operations: u64,
    cases: u64,
    seconds: f64,
    /// Errors that kept an operation from being tested (network errors, unusable schema parts).
    errors: Vec<String>,
}

impl Summary {
    fn from_report(json: &str) -> Result<Summary, String> {
        let report: Value = serde_json::from_str(json)
            .map_err(|err| format!("schemathesis's JSON report does not parse: {err}"))?;
        let errors = report["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|error| {
                        format!(
                            "{} ({} times)",
                            one_line(&error["title"]),
                            error["count"].as_u64().unwrap_or(1)
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Summary {
            operations: report["operations"]["tested"].as_u64().unwrap_or(0),
            cases: report["test_cases"]["generated"].as_u64().unwrap_or(0),
            seconds: report["running_time"].as_f64().unwrap_or(0.0),
            errors,
        })
    }
}

/// One distinct failure: an operation, a check, the status answered and what was wrong, with
/// the first case that showed it.
#[derive(Debug, PartialEq)]
struct Failure {
    operation: String,
    check: String,
    status: Option<u64>,
    /// schemathesis's code and title, `ST108 Response violates schema`.
    kind: String,
    /// The first line of its message, `null is not of type "object"`.
    reason: String,
    curl: String,
    /// The start of the body answered.
    answered: String,
}

impl Failure {
    fn key(&self) -> (&str, &str, Option<u64>, &str, &str) {
        (
            &self.operation,
            &self.check,
            self.status,
            &self.kind,
            &self.reason,
        )
    }
}

/// Every failed check of every case in the NDJSON event stream, one per (operation, check,
/// status, kind, reason), by path, method and status, each with its shortest example: the same
/// list on every run that generates the same cases, whatever order schemathesis records them
/// in. `base` is replaced by `$ROSTER` in the curls.
fn distinct_failures(ndjson: &str, base: &str) -> Result<Vec<Failure>, String> {
    let mut failures: Vec<Failure> = Vec::new();
    for line in ndjson.lines().filter(|l| !l.trim().is_empty()) {
        let event: Value = serde_json::from_str(line)
            .map_err(|err| format!("schemathesis's NDJSON events do not parse: {err}"))?;
        let recorder = &event["ScenarioFinished"]["recorder"];
        let Some(checks) = recorder["checks"].as_object() else {
            continue;
        };
        for (case_id, results) in checks {
            let interaction = &recorder["interactions"][case_id];
            for result in results.as_array().into_iter().flatten() {
                if result["status"] == "success" {
                    continue;
                }
                let info = &result["failure_info"]["failure"];
                let failure = Failure {
                    operation: text(&recorder["label"]),
                    check: text(&result["name"]),
                    status: interaction["response"]["status_code"].as_u64(),
                    kind: format!("{} {}", text(&info["code"]), text(&info["title"]))
                        .trim()
                        .to_owned(),
                    reason: text(&info["message"])
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                    curl: curl(
                        &interaction["request"],
                        &recorder["cases"][case_id]["value"],
                        base,
                    ),
                    answered: body_excerpt(&interaction["response"]["content"]),
                };
                match failures.iter_mut().find(|seen| seen.key() == failure.key()) {
                    Some(seen) => {
                        if (failure.curl.len(), &failure.curl) < (seen.curl.len(), &seen.curl) {
                            *seen = failure;
                        }
                    }
                    None => failures.push(failure),
                }
            }
        }
    }
    failures.sort_by(|a, b| {
        let order = |f: &Failure| {
            let (method, path) = f.operation.split_once(' ').unwrap_or(("", &f.operation));
            (
                path.to_owned(),
                method.to_owned(),
                f.status,
                f.check.clone(),
            )
        };
        order(a).cmp(&order(b))
    });
    Ok(failures)
}

/// The error message of a red run: the failures grouped by what was wrong, then each one.
fn failure_report(
    summary: &Summary,
    failures: &[Failure],
    exit: Option<i32>,
    out: &Path,
) -> String {
    let mut kinds: Vec<(String, usize, Vec<&str>)> = Vec::new();
    for failure in failures {
        let kind = format!("{}: {}", failure.kind, failure.reason);
        match kinds.iter_mut().find(|(k, _, _)| *k == kind) {
            Some((_, count, operations)) => {
                *count += 1;
                if !operations.contains(&failure.operation.as_str()) {
                    operations.push(&failure.operation);
                }
            }
            None => kinds.push((kind, 1, vec![&failure.operation])),
        }
    }
    let operations: std::collections::BTreeSet<&str> =
        failures.iter().map(|f| f.operation.as_str()).collect();
    let mut message = format!(
        "schemathesis: {} distinct failures in {} of {} operations ({} test cases, exit {}); \
         $ROSTER is the server's address, $KEY an admin API key; the full output and reports \
         are in {}",
        failures.len(),
        operations.len(),
        summary.operations,
        summary.cases,
        exit.map_or_else(|| "by signal".to_owned(), |code| code.to_string()),
        out.display()
    );
    for (kind, count, operations) in &kinds {
        message.push_str(&format!(
            "\n  {count} x {kind} ({} operations)",
            operations.len()
        ));
    }
    for failure in failures {
        message.push_str(&format!(
            "\n- {}: {} ({}) on a {}: {}\n    {}\n    answered: {}",
            failure.operation,
            failure.check,
            failure.kind,
            failure
                .status
                .map_or_else(|| "no answer".to_owned(), |s| s.to_string()),
            failure.reason,
            failure.curl,
            failure.answered
        ));
    }
    for error in &summary.errors {
        message.push_str(&format!("\n- error: {error}"));
    }
    if failures.is_empty() && summary.errors.is_empty() {
        message.push_str("\n  (no failure recorded: see the output above the summary)");
    }
    message
}

/// A curl that replays the request (the API key as `$KEY`, the server as `$ROSTER`).
fn curl(request: &Value, case: &Value, base: &str) -> String {
    let mut curl = format!("curl -X {}", text(&request["method"]));
    let headers = request["headers"].as_object().into_iter().flatten();
    for (name, values) in headers {
        let value = values
            .as_array()
            .and_then(|v| v.first())
            .map_or_else(|| text(values), text);
        let value = if name.eq_ignore_ascii_case("authorization") {
            "Bearer $KEY".to_owned()
        } else {
            value
        };
        curl.push_str(&format!(" -H {}", shell_quote(&format!("{name}: {value}"))));
    }
    let body = match &case["body"] {
        Value::Null => decode_base64(text(&request["body"]["$base64"]).as_bytes())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .filter(|body| !body.is_empty()),
        Value::String(raw) => Some(raw.clone()),
        json => Some(json.to_string()),
    };
    if let Some(body) = body {
        curl.push_str(&format!(" -d {}", shell_quote(&body)));
    }
    let uri = text(&request["uri"]);
    let uri = match uri.strip_prefix(base) {
        Some(path) => format!("$ROSTER{path}"),
        None => uri,
    };
    curl.push_str(&format!(" \"{}\"", uri.replace('"', "%22")));
    curl
}

/// The first 200 characters of a recorded body (`{"$base64": ...}`), or `(empty)`.
fn body_excerpt(content: &Value) -> String {
    let body = decode_base64(text(&content["$base64"]).as_bytes())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    if body.is_empty() {
        return "(empty)".to_owned();
    }
    let mut excerpt: String = body.chars().take(200).collect();
    if excerpt.len() < body.len() {
        excerpt.push_str("...");
    }
    excerpt.replace('\n', " ")
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A JSON string's text, or the JSON of anything else.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn one_line(value: &Value) -> String {
    text(value).replace('\n', " ")
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Standard base64 (with or without padding), as schemathesis records bodies; `None` when the
/// text is not base64.
fn decode_base64(encoded: &[u8]) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(encoded.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &c in encoded.iter().filter(|&&c| c != b'=') {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One scenario as schemathesis 4.32 records it: a case that passed every check and one
    /// whose error body broke the schema, twice (the second is not a new failure).
    const EVENTS: &str = r#"{"Initialize":{"seed":1}}
{"ScenarioFinished":{"recorder":{"label":"PUT /api/v1/admin/sso-enforcement","cases":{"a":{"value":{"method":"PUT","body":{"enforced":true}}},"b":{"value":{"method":"PUT"}},"c":{"value":{"method":"PUT"}}},"checks":{"a":[{"name":"not_a_server_error","status":"success"}],"b":[{"name":"not_a_server_error","status":"success"},{"name":"response_schema_conformance","status":"failure","failure_info":{"failure":{"code":"ST108","title":"Response violates schema","message":"null is not of type \"object\"\n\nValidated against the `default` response schema (status code 401)."}}}],"c":[{"name":"response_schema_conformance","status":"failure","failure_info":{"failure":{"code":"ST108","title":"Response violates schema","message":"null is not of type \"object\"\n\nmore"}}}]},"interactions":{"a":{"request":{"method":"PUT","uri":"http://127.0.0.1:9/api/v1/admin/sso-enforcement","headers":{"Authorization":["[Filtered]"],"Content-Type":["application/json"]},"body":{"$base64":"eyJlbmZvcmNlZCI6IHRydWV9"}},"response":{"status_code":200,"content":{"$base64":""}}},"b":{"request":{"method":"PUT","uri":"http://127.0.0.1:9/api/v1/admin/sso-enforcement","headers":{}},"response":{"status_code":401,"content":{"$base64":"eyJjb2RlIjoidW5hdXRob3JpemVkIiwiZGV0YWlsIjpudWxsfQ=="}}},"c":{"request":{"method":"PUT","uri":"http://127.0.0.1:9/api/v1/admin/sso-enforcement","headers":{}},"response":{"status_code":401}}}}}}
{"EngineFinished":{"running_time":1.5}}
"#;

    #[test]
    fn lists_each_distinct_failure_once_with_a_curl_and_the_answer() {
        let failures = distinct_failures(EVENTS, "http://127.0.0.1:9").unwrap();
        assert_eq!(
            failures,
            vec![Failure {
                operation: "PUT /api/v1/admin/sso-enforcement".to_owned(),
                check: "response_schema_conformance".to_owned(),
                status: Some(401),
                kind: "ST108 Response violates schema".to_owned(),
                reason: "null is not of type \"object\"".to_owned(),
                curl: "curl -X PUT \"$ROSTER/api/v1/admin/sso-enforcement\"".to_owned(),
                answered: r#"{"code":"unauthorized","detail":null}"#.to_owned(),
            }]
        );
        let report = failure_report(
            &Summary {
                operations: 44,
                cases: 900,
                seconds: 1.5,
                errors: vec![],
            },
            &failures,
            Some(1),
            Path::new("target/schemathesis"),
        );
        assert!(report.starts_with("schemathesis: 1 distinct failures in 1 of 44 operations"));
        assert!(report.contains("1 x ST108 Response violates schema: null is not of type"));
        assert!(report.contains("- PUT /api/v1/admin/sso-enforcement: response_schema_conformance (ST108 Response violates schema) on a 401"));
    }

    #[test]
    fn failures_are_listed_by_path_then_method_then_status() {
        let scenario = |label: &str, status: u64| {
            format!(
                r#"{{"ScenarioFinished":{{"recorder":{{"label":"{label}","checks":{{"x":[{{"name":"not_a_server_error","status":"failure","failure_info":{{"failure":{{"code":"ST100","title":"Server error","message":"boom"}}}}}}]}},"interactions":{{"x":{{"request":{{"method":"GET","uri":"http://h/p"}},"response":{{"status_code":{status}}}}}}}}}}}}}"#
            )
        };
        let ndjson = [
            scenario("POST /api/v1/admin/roles", 500),
            scenario("GET /api/v1/admin/roles", 502),
            scenario("GET /api/v1/admin/roles", 500),
            scenario("DELETE /api/v1/admin/api-keys/{id}", 500),
        ]
        .join("\n");
        let order: Vec<(String, Option<u64>)> = distinct_failures(&ndjson, "http://h")
            .unwrap()
            .into_iter()
            .map(|f| (f.operation, f.status))
            .collect();
        assert_eq!(
            order,
            [
                ("DELETE /api/v1/admin/api-keys/{id}", 500),
                ("GET /api/v1/admin/roles", 500),
                ("GET /api/v1/admin/roles", 502),
                ("POST /api/v1/admin/roles", 500),
            ]
            .map(|(op, status)| (op.to_owned(), Some(status)))
        );
    }

    #[test]
    fn curls_carry_the_body_and_hide_the_key() {
        let request: Value = serde_json::from_str(
            r#"{"method":"POST","uri":"http://h:1/api/v1/admin/roles?x=1","headers":{"Authorization":["[Filtered]"],"Content-Type":["application/json"]},"body":{"$base64":"eyJuYW1lIjogIml0J3MifQ=="}}"#,
        )
        .unwrap();
        // The case's own body is preferred; the recorded bytes are the fallback.
        assert_eq!(
            curl(&request, &Value::Null, "http://h:1"),
            r#"curl -X POST -H 'Authorization: Bearer $KEY' -H 'Content-Type: application/json' -d '{"name": "it'\''s"}' "$ROSTER/api/v1/admin/roles?x=1""#
        );
        let case: Value = serde_json::from_str(r#"{"body":{"rank":0}}"#).unwrap();
        assert!(curl(&request, &case, "http://h:1").contains(r#"-d '{"rank":0}'"#));
    }

    #[test]
    fn reads_the_totals_and_errors_of_the_json_report() {
        let summary = Summary::from_report(
            r#"{"running_time":12.5,"operations":{"tested":44},"test_cases":{"generated":1313},"errors":[{"title":"Network Error\nConnection refused","count":2}]}"#,
        )
        .unwrap();
        assert_eq!((summary.operations, summary.cases), (44, 1313));
        assert_eq!(
            summary.errors,
            vec!["Network Error Connection refused (2 times)"]
        );
        assert!(Summary::from_report("not json").is_err());
    }

    #[test]
    fn the_configuration_fixes_the_seeded_ids_per_operation() {
        let toml = operation_config(&[(
            "DELETE /api/v1/admin/connections/{id}/tokens/{token}",
            vec![
                ("path.id", "c1".to_owned()),
                ("path.token", "t\"1".to_owned()),
            ],
        )]);
        assert!(toml.contains(
            "\nheaders = { Authorization = \"Bearer ${ROSTER_SCHEMATHESIS_API_KEY}\" }\n"
        ));
        assert!(toml.contains(
            "\n[[operations]]\ninclude-name = \"DELETE /api/v1/admin/connections/{id}/tokens/{token}\"\nparameters = { \"path.id\" = \"c1\", \"path.token\" = \"t\\\"1\" }\n"
        ));
        assert!(toml.ends_with(
            "\n[[operations]]\ninclude-path-regex = \"^/api/v1/operator/\"\nheaders = { Authorization = \"Bearer ${ROSTER_SCHEMATHESIS_OPERATOR_KEY}\" }\nparameters = { \"path.workspace\" = \"schemathesis\" }\n"
        ));
    }

    #[test]
    fn decodes_base64_with_and_without_padding() {
        assert_eq!(decode_base64(b"bnVsbA==").unwrap(), b"null");
        assert_eq!(decode_base64(b"bnVsbA").unwrap(), b"null");
        assert_eq!(decode_base64(b"").unwrap(), b"");
        assert!(decode_base64(b"no!").is_none());
    }
}
