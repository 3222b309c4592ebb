//! `cargo xtask serve`: builds Roster, migrates an embedded SQLite database under ./data, creates a
//! demo workspace on the first run (prints its admin login and a SCIM token once), and serves it.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::{repo_root, run_checked, say, system};

const DEMO_SLUG: &str = "demo";
const DEMO_ADMIN: &str = "admin@example.com";

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut release = false;
    let mut bind = "127.0.0.1:8080".to_owned();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--release" => release = true,
            "--bind" => {
                bind = rest
                    .next()
                    .ok_or("--bind needs an address, e.g. 127.0.0.1:8080")?
                    .clone();
            }
            other => return Err(format!("unknown option {other:?} for `cargo xtask serve`")),
        }
    }
    system::ensure(system::BUILD)?;
    let root = repo_root();
    let profile = if release { "release" } else { "debug" };
    say(&format!("building roster ({profile})"));
    let mut build = Command::new("cargo");
    build
        .current_dir(&root)
        .args(["build", "--package", "roster-server"]);
    if release {
        build.arg("--release");
    }
    run_checked(&mut build)?;
    let binary = crate::cargo_target_dir().join(profile).join("roster");

    let database = root.join("data").join("roster.db");
    let database_url = format!("sqlite://{}", database.display());
    let public_url = format!("http://{bind}");
    let roster = |args: &[&str]| -> Command {
        let mut command = Command::new(&binary);
        command
            .current_dir(&root)
            .args(args)
            .env("ROSTER__DATABASE__URL", &database_url)
            .env("ROSTER__SERVER__BIND", &bind)
            .env("ROSTER__SECURITY__ALLOW_PRIVATE_NETWORK_URLS", "true");
        command
    };

    say(&format!("migrating {}", database.display()));
    run_checked(roster(&["migrate"]).stdout(Stdio::null()))?;

    let existing = capture(&mut roster(&["workspace", "list"]))?;
    if existing.contains(&format!("\"slug\": \"{DEMO_SLUG}\"")) {
        say(&format!(
            "the demo workspace exists already (its admin password and SCIM token were shown on \
             the first run; `target/{profile}/roster admin create --workspace {DEMO_SLUG} --email \
             {DEMO_ADMIN}` prints a new password, `roster token create --workspace {DEMO_SLUG} \
             --connection demo-scim` a new token)"
        ));
    } else {
        say("creating the demo workspace (first run)");
        create_demo(&roster, &public_url, &database)?;
    }

    say(&format!(
        "serving on {public_url} (Ctrl-C to stop); readiness: {public_url}/readyz"
    ));
    let status = roster(&["serve"])
        .status()
        .map_err(|err| format!("cannot start roster: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("roster serve exited with {status}"))
    }
}

fn create_demo(
    roster: &dyn Fn(&[&str]) -> Command,
    public_url: &str,
    database: &Path,
) -> Result<(), String> {
    capture(&mut roster(&[
        "workspace",
        "create",
        DEMO_SLUG,
        "--name",
        "Demo",
        "--domain",
        "example.com",
    ]))?;
    let connection = capture(&mut roster(&[
        "connection",
        "create",
        "--workspace",
        DEMO_SLUG,
        "--name",
        "demo-scim",
        "--kind",
        "scim",
    ]))?;
    let token = capture(&mut roster(&[
        "token",
        "create",
        "--workspace",
        DEMO_SLUG,
        "--connection",
        "demo-scim",
        "--name",
        "demo",
    ]))?;
    let admin = capture(&mut roster(&[
        "admin",
        "create",
        "--workspace",
        DEMO_SLUG,
        "--email",
        DEMO_ADMIN,
    ]))?;
    let password = json_string_field(&admin, "password").unwrap_or_default();
    let scim_base = json_string_field(&connection, "scim_base_url").unwrap_or_default();
    eprintln!(
        "\n  Roster demo workspace `{DEMO_SLUG}` (database {})\n\
         \n    console          {public_url}/admin\
         \n    admin login      {DEMO_ADMIN} / {password}   (shown once)\
         \n    SCIM base URL    {scim_base}\
         \n    SCIM token       {}   (shown once)\
         \n    readiness        {public_url}/readyz\n",
        database.display(),
        token.trim()
    );
    Ok(())
}

/// Runs a command and returns its stdout, failing with its stderr.
fn capture(command: &mut Command) -> Result<String, String> {
    let output = command
        .stderr(Stdio::piped())
        .output()
        .map_err(|err| format!("cannot run {command:?}: {err}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The value of `"key": "value"` in a JSON document printed by roster (flat string fields only).
fn json_string_field(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\": \""))? + key.len() + 5;
    let end = json[start..].find('"')? + start;
    Some(json[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flat_json_fields() {
        let json = "{\n  \"password\": \"abc123\",\n  \"id\": \"x\"\n}";
        assert_eq!(
            json_string_field(json, "password").as_deref(),
            Some("abc123")
        );
        assert_eq!(json_string_field(json, "missing"), None);
    }
}
