//! `cargo xtask serve`: builds Roster, migrates its database (by default the embedded SQLite file
//! ./data/roster.db), creates a demo workspace on the first run (prints its admin login and a
//! SCIM token once), and serves it.
//!
//! The configuration is Roster's own, with its documented precedence: defaults < `roster.toml`
//! (in the repository root) < `ROSTER__...` environment variables, and `--bind ADDR` on top of
//! them all. This command sets nothing else, except allowing private-network URLs (local IdPs)
//! unless the environment says otherwise; the addresses it prints are those `roster config
//! check` reports.

use std::process::{Command, Stdio};

use crate::{repo_root, run_checked, say, system};
use roster_devtools::json_field;

const DEMO_SLUG: &str = "demo";
const DEMO_ADMIN: &str = "admin@example.com";
const ALLOW_PRIVATE: &str = "ROSTER__SECURITY__ALLOW_PRIVATE_NETWORK_URLS";
const DATA_KEY: &str = "ROSTER__SECURITY__DATA_KEY";
/// Where the demo keeps its data key when the configuration sets none (beside the default
/// database, and like it, out of git).
const DEMO_DATA_KEY_FILE: &str = "data/data.key";

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut release = false;
    let mut bind: Option<String> = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--release" => release = true,
            "--bind" => {
                bind = Some(
                    rest.next()
                        .ok_or("--bind needs an address, e.g. 127.0.0.1:8080")?
                        .clone(),
                );
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

    // Set once `config check` has said whether the configuration has a data key of its own.
    let demo_data_key = std::cell::OnceCell::<String>::new();
    let roster = |args: &[&str]| -> Command {
        let mut command = Command::new(&binary);
        command.current_dir(&root).args(args);
        if let Some(key) = demo_data_key.get() {
            command.env(DATA_KEY, key);
        }
        if let Some(bind) = &bind {
            command.env("ROSTER__SERVER__BIND", bind);
        }
        if std::env::var_os(ALLOW_PRIVATE).is_none() {
            command.env(ALLOW_PRIVATE, "true");
        }
        command
    };

    say("migrating the database");
    run_checked(roster(&["migrate"]).stdout(Stdio::null()))?;
    let effective = effective_settings(&capture(&mut roster(&["config", "check"]))?)?;
    let (public_url, database) = (effective.public_url.as_str(), effective.database.as_str());
    let bind_source = if bind.is_some() {
        "--bind"
    } else {
        effective.bind_source.as_str()
    };
    say(&format!(
        "database {database}, listening on {} (server.bind from {bind_source})",
        effective.bind
    ));
    if !effective.has_data_key {
        let key = demo_data_key_file(&root, &roster)?;
        let _ = demo_data_key.set(key);
    }

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
        create_demo(&roster, public_url, database)?;
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

/// What `roster config check` says the server will use.
#[derive(Debug, PartialEq, Eq)]
struct Effective {
    bind: String,
    /// Where `server.bind` came from: `default`, `file`, `environment` (`--bind` included).
    bind_source: String,
    public_url: String,
    /// `database.url`, its password masked.
    database: String,
    /// Whether the configuration sets `security.data_key`.
    has_data_key: bool,
}

/// Reads the `roster config check` output.
fn effective_settings(config_check: &str) -> Result<Effective, String> {
    let json: serde_json::Value = serde_json::from_str(config_check)
        .map_err(|err| format!("`roster config check` printed no JSON: {err}"))?;
    let text = |value: &serde_json::Value, what: &str| {
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("`roster config check` printed no {what}"))
    };
    Ok(Effective {
        bind: text(&json["server"]["bind"], "server.bind")?,
        bind_source: text(
            &json["keys"]["server.bind"]["source"],
            "source of server.bind",
        )?,
        public_url: text(&json["server"]["public_url"], "server.public_url")?,
        database: text(&json["database"]["url"], "database.url")?,
        has_data_key: json["security"]["data_key_id"].is_string(),
    })
}

/// The demo's data key when the configuration sets none: read from [`DEMO_DATA_KEY_FILE`], or
/// made by `roster data-key generate` and kept there (owner-only) for the next runs, since the
/// secrets of the demo database stay sealed with it.
fn demo_data_key_file(
    root: &std::path::Path,
    roster: &dyn Fn(&[&str]) -> Command,
) -> Result<String, String> {
    let path = root.join(DEMO_DATA_KEY_FILE);
    if let Ok(key) = std::fs::read_to_string(&path) {
        say(&format!(
            "security.data_key from {DEMO_DATA_KEY_FILE} (the demo's; the configuration sets none)"
        ));
        return Ok(key.trim().to_owned());
    }
    let key = capture(&mut roster(&["data-key", "generate"]))?
        .trim()
        .to_owned();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    std::io::Write::write_all(
        &mut file
            .open(&path)
            .map_err(|err| format!("{}: {err}", path.display()))?,
        format!("{key}\n").as_bytes(),
    )
    .map_err(|err| format!("{}: {err}", path.display()))?;
    say(&format!(
        "made a data key for the demo in {DEMO_DATA_KEY_FILE} (security.data_key: it seals the \
         database's secrets, keep it with the database)"
    ));
    Ok(key)
}

fn create_demo(
    roster: &dyn Fn(&[&str]) -> Command,
    public_url: &str,
    database: &str,
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
    let password = json_field(&admin, "password").unwrap_or_default();
    let scim_base = json_field(&connection, "scim_base_url").unwrap_or_default();
    eprintln!(
        "\n  Roster demo workspace `{DEMO_SLUG}` (database {})\n\
         \n    console          {public_url}/admin\
         \n    admin login      {DEMO_ADMIN} / {password}   (shown once)\
         \n    SCIM base URL    {scim_base}\
         \n    SCIM token       {}   (shown once)\
         \n    readiness        {public_url}/readyz\n",
        database,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_config_check_reports() {
        let printed = r#"{"server": {"bind": "0.0.0.0:9000", "public_url": "http://0.0.0.0:9000"},
            "database": {"url": "sqlite://./data/roster.db"},
            "keys": {"server.bind": {"value": "0.0.0.0:9000", "source": "file"}}}"#;
        assert_eq!(
            effective_settings(printed),
            Ok(Effective {
                bind: "0.0.0.0:9000".to_owned(),
                bind_source: "file".to_owned(),
                public_url: "http://0.0.0.0:9000".to_owned(),
                database: "sqlite://./data/roster.db".to_owned(),
                has_data_key: false,
            })
        );
        assert!(effective_settings("{}").is_err());
    }
}
