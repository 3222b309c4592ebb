//! The two local identity providers the SSO end-to-end tests log in through (see
//! `e2e/idps/README.md`): SimpleSAMLphp (SAML 2.0 IdP, Debian package, on PHP's built-in server)
//! and panva's `oidc-provider` (OpenID Connect OP, npm, pinned by `e2e/idps/oidc/package-lock.json`).
//!
//! Everything comes from package registries (apt, npm); nothing is fetched when the tests run.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use crate::node::{self, npm_ci};
use crate::{repo_root, say, system};

/// Debian packages: the SAML IdP and PHP to run it (`php-xml` for DOM/XML signatures and
/// `php-mbstring`, both of which SimpleSAMLphp needs but does not pull in with
/// `--no-install-recommends`), `xmlsec1` to check signatures in the self-test, `openssl` to make
/// the IdP's signing key. `simplesamlphp` also drags in apache2 (a hard dependency), which is never
/// started. `chromium` is the headless browser the admin console test drives (with
/// playwright-core from npm, which never downloads a browser of its own).
pub(crate) const PACKAGES: &[&str] = &[
    "simplesamlphp",
    "php-cli",
    "php-xml",
    "php-mbstring",
    "xmlsec1",
    "openssl",
    "chromium",
];

fn idps_dir() -> PathBuf {
    repo_root().join("e2e").join("idps")
}

/// Installs what the local IdPs and the console test need when it is missing: the Debian packages
/// (as root; otherwise prints the command and fails, like every other system package step) and
/// the npm packages of the OpenID Provider and of the console driver (`e2e/console`).
pub(crate) fn ensure_idps() -> Result<(), String> {
    system::ensure(PACKAGES)?;

    node::require("the OpenID Provider (oidc-provider 9) and the console test")?;
    npm_ci(&idps_dir().join("oidc"), "oidc-provider")?;
    npm_ci(&repo_root().join("e2e").join("console"), "playwright-core")?;
    Ok(())
}

/// `cargo xtask idps`: install, then run both IdPs in the foreground on their default ports
/// (SAML 127.0.0.1:9080, OIDC 127.0.0.1:9090) for trying an SP by hand. Settings come from the
/// environment (`SAML_*`, `OP_*`, see the README). Ctrl-C stops both; so does either one exiting.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!("idps takes no arguments (got {arg:?}); configure it with SAML_* and OP_* environment variables"));
    }
    ensure_idps()?;
    let dir = idps_dir();
    say("starting SimpleSAMLphp (e2e/idps/saml/start.sh) and oidc-provider (node e2e/idps/oidc/op.mjs)");
    let spawn = |command: &mut Command| -> Result<Child, String> {
        command
            .spawn()
            .map_err(|err| format!("cannot run {command:?}: {err}"))
    };
    let mut saml = spawn(&mut Command::new(dir.join("saml").join("start.sh")))?;
    let mut oidc = match spawn(Command::new("node").arg(dir.join("oidc").join("op.mjs"))) {
        Ok(child) => child,
        Err(err) => {
            let _ = saml.kill();
            let _ = saml.wait();
            return Err(err);
        }
    };
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    say(&format!(
        "SAML IdP metadata: http://{}:{}/saml2/idp/metadata.php",
        env("SAML_IDP_HOST", "127.0.0.1"),
        env("SAML_IDP_PORT", "9080")
    ));
    say(&format!(
        "OIDC discovery:    http://{}:{}/.well-known/openid-configuration",
        env("OP_HOST", "127.0.0.1"),
        env("OP_PORT", "9090")
    ));
    say("users: e2e/idps/users.json (password <name>-password); Ctrl-C stops both");
    loop {
        let exited = match (saml.try_wait(), oidc.try_wait()) {
            (Ok(Some(status)), _) => Some(("SimpleSAMLphp", status.to_string())),
            (_, Ok(Some(status))) => Some(("oidc-provider", status.to_string())),
            (Err(err), _) | (_, Err(err)) => Some(("an IdP", err.to_string())),
            _ => None,
        };
        if let Some((name, status)) = exited {
            for child in [&mut saml, &mut oidc] {
                let _ = child.kill();
                let _ = child.wait();
            }
            return Err(format!("{name} exited ({status})"));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}
