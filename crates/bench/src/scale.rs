//! Directory size (issue #7): with 1,000,000 users in a workspace, `userName eq` p99 < 5 ms, a
//! cursor page p99 < 20 ms at any depth, adding a member to a 100,000-member group p99 < 10 ms,
//! and the server's RSS < 150 MiB. Custom attributes (issue #28): a filter on one p99 < 20 ms.
//!
//! Creating a million users through SCIM would take most of an hour here, so the workspace is
//! seeded with `roster import`, the operator's restore path: a workspace `scale` with a SCIM
//! connection and token is made in a scratch database and exported; the export, with N users and
//! one group holding N/10 of them added, is streamed into `roster import` on the measured
//! server's database (one transaction; roles are computed for every user as on any import). The
//! running server then answers:
//!
//! - `userName eq` for users picked at random;
//! - a cursor page (`count=100`) starting at a random depth: ids are known, so the cursor
//!   (`k<last id>`) of any position can be written down, and "any depth" is every depth, drawn
//!   uniformly;
//! - `Add` then `Remove` of one member (a user not in it) on the big group, as Entra sends them;
//! - a filter on a custom attribute, as IdPs and products send it: every user has a `department`
//!   (declared from the standard template, so filtered through the enterprise extension;
//!   `Dept-0` … `Dept-999`, a thousand users each) and a number `costCenterCode` in a declared
//!   extension (0 … 4,999, two hundred users each): a `count=100` page of the users of a random
//!   department, of a random cost centre, and (reported, not judged) a department's users sorted
//!   by cost centre. The import builds the attribute index from the values.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::load::{self, Operation, Outcome, Rng, Until};
use super::report::Judge;
use super::scenario::{finished, Load, Row};
use super::server::{capture, provision, roster};
use roster_devtools::http::{encode_query, Request};
use roster_devtools::say;

const WORKSPACE: &str = "scale";
const USERS: &str = "/scim/v2/Users";
const GROUPS: &str = "/scim/v2/Groups";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The issue's latency targets, p99 in milliseconds.
const USER_NAME_EQ_P99_MS: f64 = 5.0;
const CURSOR_PAGE_P99_MS: f64 = 20.0;
const MEMBER_ADD_P99_MS: f64 = 10.0;
/// Issue #28: a filter on a custom attribute, with the directory at that size.
const CUSTOM_EQ_P99_MS: f64 = 20.0;

/// The enterprise extension, through which the standard `department` is filtered.
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The custom extension the seed declares `costCenterCode` in.
const HR_EXTENSION: &str = "urn:acme:params:scim:schemas:extension:hr:2.0:User";
/// How many departments and cost centres the users are spread over.
const DEPARTMENTS: u64 = 1_000;
const COST_CENTRES: u64 = 5_000;

fn user_id(index: u64) -> String {
    format!("0a000000-0000-7000-8000-{index:012x}")
}

fn user_name(index: u64) -> String {
    format!("scale.user{index}@scale.example.com")
}

const GROUP_ID: &str = "0b000000-0000-7000-8000-000000000001";
const DEPARTMENT_ID: &str = "0c000000-0000-7000-8000-000000000001";
const COST_CENTRE_ID: &str = "0c000000-0000-7000-8000-000000000002";

fn department(index: u64) -> String {
    format!("Dept-{}", index % DEPARTMENTS)
}

/// The export rows of the two attributes the seed declares.
fn definition_rows(workspace: &str, now: u64) -> String {
    let row = |id: &str, name: &str, label: &str, kind: &str, standard: &str, schema: &str| {
        let key = name.to_ascii_lowercase();
        format!(
            r#"{{"case_exact":false,"created_at":{now},"id":"{id}","kind":"{kind}","label":"{label}","name":"{name}","name_key":"{key}","released":true,"scim_schema":{schema},"standard":{standard},"workspace_id":"{workspace}"}}"#
        )
    };
    let department = row(
        DEPARTMENT_ID,
        "department",
        "Department",
        "string",
        r#""department""#,
        "null",
    );
    let code = row(
        COST_CENTRE_ID,
        "costCenterCode",
        "Cost centre code",
        "number",
        "null",
        &format!(r#""{HR_EXTENSION}""#),
    );
    format!("{department},{code}")
}

/// The value of `"key": "…"` at its first occurrence in `text` after `from`.
fn string_field<'a>(text: &'a str, from: &str, key: &str) -> Option<&'a str> {
    let start = text.find(from)? + from.len();
    let rest = &text[start..];
    let key = format!("\"{key}\": \"");
    let value = &rest[rest.find(&key)? + key.len()..];
    Some(&value[..value.find('"')?])
}

/// Writes the export with `users` users and a group of `members` of them to `out`.
fn write_seed(
    template: &str,
    users: u64,
    members: u64,
    out: &mut impl Write,
) -> Result<(), String> {
    let workspace =
        string_field(template, "\"workspace\": {", "id").ok_or("the export has no workspace id")?;
    let connection = string_field(template, "\"connections\": [", "id")
        .ok_or("the export has no connection id")?;
    let now = 1_800_000_000_000_000u64;
    let mut rest = template;
    let io = |err: std::io::Error| format!("writing the seed: {err}");
    // In the order the export (a JSON object: keys sorted) holds them.
    for (marker, kind) in [
        ("\"attribute_definitions\": []", 3),
        ("\"group_members\": []", 0),
        ("\"groups\": []", 1),
        ("\"users\": []", 2),
    ] {
        let at = rest
            .find(marker)
            .ok_or_else(|| format!("the export has no {marker}"))?;
        out.write_all(&rest.as_bytes()[..at]).map_err(io)?;
        rest = &rest[at + marker.len()..];
        let name = &marker[..marker.find(':').unwrap_or(0)];
        write!(out, "{name}: [").map_err(io)?;
        match kind {
            0 => {
                for i in 0..members {
                    let comma = if i == 0 { "" } else { "," };
                    write!(out, "{comma}{{\"created_at\":{now},\"group_id\":\"{GROUP_ID}\",\"provenance\":\"idp\",\"user_id\":\"{}\",\"workspace_id\":\"{workspace}\"}}", user_id(i)).map_err(io)?;
                }
            }
            3 => out
                .write_all(definition_rows(workspace, now).as_bytes())
                .map_err(io)?,
            1 => write!(out, "{{\"connection_id\":\"{connection}\",\"created_at\":{now},\"display_name\":\"Everyone\",\"display_name_key\":\"everyone\",\"external_id\":null,\"id\":\"{GROUP_ID}\",\"kind\":\"idp\",\"scim_attributes\":\"{{}}\",\"updated_at\":{now},\"version\":1,\"workspace_id\":\"{workspace}\"}}").map_err(io)?,
            _ => {
                for i in 0..users {
                    let comma = if i == 0 { "" } else { "," };
                    let name = user_name(i);
                    let attributes = format!(
                        r#"{{\"department\":\"{}\",\"costCenterCode\":{}}}"#,
                        department(i),
                        i % COST_CENTRES
                    );
                    write!(out, "{comma}{{\"attributes\":\"{attributes}\",\"created_at\":{now},\"display_name\":null,\"display_name_key\":null,\"email\":\"{name}\",\"email_key\":\"{name}\",\"external_id\":\"ext-{i}\",\"family_name\":\"User {i}\",\"given_name\":\"Scale\",\"id\":\"{}\",\"lifecycle\":\"active\",\"managing_connection_id\":\"{connection}\",\"password_hash\":null,\"scim_attributes\":\"{{}}\",\"session_epoch\":0,\"source\":\"scim\",\"updated_at\":{now},\"user_name\":\"{name}\",\"user_name_key\":\"{name}\",\"version\":1,\"workspace_id\":\"{workspace}\"}}", user_id(i)).map_err(io)?;
                }
            }
        }
        out.write_all(b"]").map_err(io)?;
    }
    out.write_all(rest.as_bytes()).map_err(io)
}

/// Makes the `scale` workspace's export (and its SCIM token) in a scratch SQLite database.
fn template(binary: &Path, dir: &Path) -> Result<(String, String), String> {
    let url = format!("sqlite://{}", dir.join("template.db").display());
    let mut cli = |args: &[&str]| capture(roster(binary, dir, &url, "127.0.0.1:0").args(args));
    let token = provision(&mut cli, WORKSPACE)?;
    Ok((cli(&["export", "--workspace", WORKSPACE])?, token))
}

/// Seeds the workspace on `database_url`; returns the SCIM token.
fn seed(
    binary: &Path,
    dir: &Path,
    database_url: &str,
    users: u64,
    members: u64,
) -> Result<String, String> {
    let (template, token) = template(binary, dir)?;
    // `import` does not create a SQLite database; `migrate` does.
    capture(roster(binary, dir, database_url, "127.0.0.1:0").arg("migrate"))?;
    let started = Instant::now();
    let mut child = roster(binary, dir, database_url, "127.0.0.1:0")
        .arg("import")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run roster import: {err}"))?;
    let written = match child.stdin.take() {
        Some(stdin) => {
            let mut stdin = std::io::BufWriter::with_capacity(1 << 20, stdin);
            write_seed(&template, users, members, &mut stdin)
                .and_then(|()| stdin.flush().map_err(|err| err.to_string()))
        }
        None => Err("roster import has no stdin".to_owned()),
    };
    let output = child
        .wait_with_output()
        .map_err(|err| format!("roster import: {err}"))?;
    written?;
    if !output.status.success() {
        return Err(format!(
            "roster import failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    say(&format!(
        "  seeded {users} users and a group of {members} with roster import in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(token)
}

fn member_patch(op: &str, id: &str) -> String {
    format!(
        r#"{{"schemas":["{PATCH_OP}"],"Operations":[{{"op":"{op}","path":"members","value":[{{"value":"{id}"}}]}}]}}"#
    )
}

fn target_line(name: &str, outcome: &Outcome, target_ms: f64, judge: Judge) -> String {
    let p99 = outcome.percentile_ms(0.99);
    format!(
        "  {name:<32} p99 {p99:>7.2} ms  ({} requests, {} errors)  < {target_ms:.0} ms: {}",
        outcome.requests(),
        outcome.errors,
        judge.verdict(p99 < target_ms && outcome.errors == 0)
    )
}

/// Client threads for the latency targets: a steady provisioning client, below saturation. At the
/// bench's full concurrency the two CPUs are saturated and a p99 is mostly queueing (Little's
/// law: clients / throughput), whatever the directory size; those runs are printed as rows too.
const LATENCY_CLIENTS: usize = 4;

/// Seeds `users` users (and a group of a tenth of them) and measures; returns the rows and the
/// target lines.
pub(crate) fn run(
    binary: &Path,
    dir: &Path,
    database_url: &str,
    addr: &str,
    load: Load,
    users: u64,
    judge: Judge,
) -> Result<(Vec<Row>, Vec<String>), String> {
    let Load {
        concurrency,
        seconds,
        ..
    } = load;
    let members = (users / 10).max(1);
    say(&format!(
        "  directory size: seeding {users} users, one group of {members}"
    ));
    let token = seed(binary, dir, database_url, users, members)?;
    let timed = Until::Elapsed(Duration::from_secs(seconds));
    let measure = |clients| measure(addr, &token, clients, timed, users, members);
    let measure_attributes = |clients| measure_attributes(addr, &token, clients, timed);

    say(&format!(
        "  directory size at {LATENCY_CLIENTS} client threads (the latency targets)"
    ));
    let [user_name_eq, cursor_page, member_patch] = measure(LATENCY_CLIENTS);
    let [department_eq, cost_centre_eq, sorted] = measure_attributes(LATENCY_CLIENTS);
    let lines = vec![
        target_line(
            "size: userName eq",
            &user_name_eq,
            USER_NAME_EQ_P99_MS,
            judge,
        ),
        target_line(
            "size: cursor page, any depth",
            &cursor_page,
            CURSOR_PAGE_P99_MS,
            judge,
        ),
        target_line(
            &format!("size: member add/remove ({members})"),
            &member_patch,
            MEMBER_ADD_P99_MS,
            judge,
        ),
        target_line(
            "size: enterprise department eq",
            &department_eq,
            CUSTOM_EQ_P99_MS,
            judge,
        ),
        target_line(
            "size: custom extension eq",
            &cost_centre_eq,
            CUSTOM_EQ_P99_MS,
            judge,
        ),
    ];
    let mut rows = vec![
        finished("size: userName eq (4 clients)", user_name_eq, None),
        finished("size: cursor page (4 clients)", cursor_page, None),
        finished("size: big group member (4 clients)", member_patch, None),
        finished("size: department eq (4 clients)", department_eq, None),
        finished("size: cost centre eq (4 clients)", cost_centre_eq, None),
        finished("size: sortBy cost centre (4 clients)", sorted, None),
    ];
    say(&format!(
        "  directory size at {concurrency} client threads (saturated)"
    ));
    let [user_name_eq, cursor_page, member_patch] = measure(concurrency);
    rows.push(finished(
        "size: userName eq (saturated)",
        user_name_eq,
        None,
    ));
    rows.push(finished("size: cursor page (saturated)", cursor_page, None));
    rows.push(finished(
        "size: big group member (saturated)",
        member_patch,
        None,
    ));
    let [department_eq, cost_centre_eq, sorted] = measure_attributes(concurrency);
    rows.push(finished(
        "size: department eq (saturated)",
        department_eq,
        None,
    ));
    rows.push(finished(
        "size: cost centre eq (saturated)",
        cost_centre_eq,
        None,
    ));
    rows.push(finished(
        "size: sortBy cost centre (saturated)",
        sorted,
        None,
    ));
    Ok((rows, lines))
}

/// `userName eq` of random users, a `count=100` cursor page at a random depth, and `Add` then
/// `Remove` of one member (a user not in it) on the big group, each for `timed`.
fn measure(
    addr: &str,
    token: &str,
    clients: usize,
    timed: Until,
    users: u64,
    members: u64,
) -> [Outcome; 3] {
    let user_name_eq = load::run(addr, token, clients, timed, |worker| -> Operation<'_> {
        let mut rng = Rng::new(worker as u64 + 7);
        load::single(move |_| {
            let pick = rng.below(usize::try_from(users).unwrap_or(usize::MAX)) as u64;
            let filter = format!("userName eq \"{}\"", user_name(pick));
            Request::get(format!("{USERS}?filter={}", encode_query(&filter)))
        })
    });
    let cursor_page = load::run(addr, token, clients, timed, |worker| -> Operation<'_> {
        let mut rng = Rng::new(worker as u64 + 17);
        load::single(move |_| {
            let depth = rng.below(usize::try_from(users).unwrap_or(usize::MAX)) as u64;
            let cursor = match depth {
                0 => String::new(),
                d => format!("k{}", user_id(d - 1)),
            };
            Request::get(format!(
                "{USERS}?count=100&cursor={}",
                encode_query(&cursor)
            ))
        })
    });
    // Users past the group's members, each added and then removed again.
    let member_patch = load::run(addr, token, clients, timed, |worker| -> Operation<'_> {
        let mut rng = Rng::new(worker as u64 + 27);
        let mut member = String::new();
        load::single(move |iteration| {
            let op = if iteration % 2 == 0 {
                let outside = users.saturating_sub(members).max(1);
                let pick = members + rng.below(usize::try_from(outside).unwrap_or(1)) as u64;
                member = user_id(pick.min(users - 1));
                "Add"
            } else {
                "Remove"
            };
            Request::scim(
                "PATCH",
                format!("{GROUPS}/{GROUP_ID}"),
                Some(member_patch(op, &member)),
            )
        })
    });
    [user_name_eq, cursor_page, member_patch]
}

/// A `count=100` page of the users of a random department (through the enterprise extension,
/// 1,000 matches: the page is full, so the total is counted), of a random cost centre (a number
/// in a declared extension, 200 matches), and of a random department sorted by cost centre.
fn measure_attributes(addr: &str, token: &str, clients: usize, timed: Until) -> [Outcome; 3] {
    let page = |filter: String, extra: &str| {
        Request::get(format!(
            "{USERS}?count=100&filter={}{extra}",
            encode_query(&filter)
        ))
    };
    let department_eq = load::run(addr, token, clients, timed, |worker| -> Operation<'_> {
        let mut rng = Rng::new(worker as u64 + 37);
        load::single(move |_| {
            let pick = rng.below(DEPARTMENTS as usize) as u64;
            page(
                format!("{ENTERPRISE}:department eq \"{}\"", department(pick)),
                "",
            )
        })
    });
    let cost_centre_eq = load::run(addr, token, clients, timed, |worker| -> Operation<'_> {
        let mut rng = Rng::new(worker as u64 + 47);
        load::single(move |_| {
            let pick = rng.below(COST_CENTRES as usize);
            page(format!("{HR_EXTENSION}:costCenterCode eq {pick}"), "")
        })
    });
    let sorted = load::run(addr, token, clients, timed, |worker| -> Operation<'_> {
        let mut rng = Rng::new(worker as u64 + 57);
        let sort = format!(
            "&sortBy={}",
            encode_query(&format!("{HR_EXTENSION}:costCenterCode"))
        );
        load::single(move |_| {
            let pick = rng.below(DEPARTMENTS as usize) as u64;
            page(
                format!("{ENTERPRISE}:department eq \"{}\"", department(pick)),
                &sort,
            )
        })
    });
    [department_eq, cost_centre_eq, sorted]
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "{\n  \"attribute_definitions\": [],\n  \"attribute_mappings\": [],\n  \"connections\": [\n    {\n      \"id\": \"c1\",\n      \"workspace_id\": \"w1\"\n    }\n  ],\n  \"group_members\": [],\n  \"groups\": [],\n  \"users\": [],\n  \"workspace\": {\n    \"id\": \"w1\"\n  }\n}";

    #[test]
    fn the_seed_is_the_template_with_rows() {
        let mut out = Vec::new();
        write_seed(TEMPLATE, 3, 2, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("\"user_name\":").count(), 3);
        assert_eq!(text.matches("\"name_key\":").count(), 2);
        assert!(text.contains(r#""attributes":"{\"department\":\"Dept-2\",\"costCenterCode\":2}""#));
        assert!(text.contains(&format!(r#""scim_schema":"{HR_EXTENSION}""#)));
        assert!(text.starts_with(
            r#"{
  "attribute_definitions": [{"case_exact":false"#
        ));
        assert!(text.contains(r#""standard":"department""#));
        assert_eq!(text.matches("\"group_id\":").count(), 2);
        assert!(text.contains("\"managing_connection_id\":\"c1\""));
        assert!(text.contains("\"workspace_id\":\"w1\""));
        assert!(text.contains("\"groups\": [{"));
        assert!(text.ends_with("\n  }\n}"));
        assert!(write_seed("{}", 1, 1, &mut Vec::new()).is_err());
        assert_eq!(user_id(255), "0a000000-0000-7000-8000-0000000000ff");
    }
}
