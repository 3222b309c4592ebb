//! Signs users into an app for `cargo xtask bench`'s back-channel logout row: one OpenID Provider
//! grant per user, as the authorization endpoint creates it after a login, written straight into
//! the database so the benchmark measures what follows a deactivation (the revocation, the
//! queued logout, its delivery), not logins.
//!
//! ```text
//! seed_grants DATABASE_URL WORKSPACE_SLUG CLIENT_ID < user ids, one per line
//!     one grant of CLIENT_ID for each user (its own session and sid); prints how many
//! ```

use std::io::BufRead;

use roster_store::domain::{Actor, Timestamp};
use roster_store::{CodeBinding, NewOAuthGrant, PoolOptions, Store};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Fallible<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [database_url, workspace, client_id] = args.as_slice() else {
        return Err("usage: seed_grants DATABASE_URL WORKSPACE_SLUG CLIENT_ID < user ids".into());
    };
    let store = Store::open(database_url, &PoolOptions::default())?;
    let workspace = store.workspace_by_slug(workspace)?;
    let mut seeded = 0u64;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let user_id = line.trim();
        if user_id.is_empty() {
            continue;
        }
        let now = Timestamp::now();
        store.issue_authorization_code(
            &Actor::System,
            &NewOAuthGrant {
                client_id: client_id.clone(),
                workspace_id: workspace.id,
                user_id: user_id.parse()?,
                connection_id: None,
                session_id: Some(format!("bench-session-{user_id}")),
                sid: format!("bench-sid-{user_id}"),
                scope: "openid".to_owned(),
                offline: false,
                auth_time: now,
                amr: vec!["pwd".to_owned()],
                acr: None,
            },
            &CodeBinding {
                redirect_uri: "https://bench.example/callback".to_owned(),
                code_challenge: None,
                nonce: None,
            },
            now,
        )?;
        seeded += 1;
    }
    #[expect(clippy::print_stdout, reason = "the tool's answer, read by the bench")]
    {
        println!("{seeded}");
    }
    Ok(())
}
