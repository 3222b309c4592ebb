//! `roster config check`: the configuration loaded (so it is valid) and the database answers;
//! prints the effective configuration with the database password masked, and every key with
//! the layer that set it (default, file, environment), so a surprising value can be traced.
//! Opens the database without migrating it, and creates no SQLite file.

use anyhow::Context;
use roster_store::Store;
use serde_json::json;

use crate::commands::check_sqlite_file;
use crate::output;
use crate::settings::{environment_variable, KeySource, Provenance, Settings};

/// `database.url` with any password replaced by `***`.
pub(crate) fn masked_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A secret setting as `config check` shows it: `"***"` for each value that is set, so the
/// operator sees that it is, and nothing of it.
fn masked_secret(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::String(_) => json!("***"),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(masked_secret).collect())
        }
        other => other,
    }
}

/// Every configuration key with its effective value (`database.url` masked) and where it came
/// from: `{"server.bind": {"value", "source"[, "variable"]}}`.
fn keys_with_sources(
    settings: &Settings,
    provenance: &Provenance,
) -> anyhow::Result<serde_json::Value> {
    let mut keys = serde_json::Map::new();
    for (key, value) in settings.keys()? {
        let source = provenance.source_of(&key);
        let value = if key == "database.url" {
            json!(masked_url(&settings.database.url))
        } else if crate::settings::SECRET_KEYS.contains(&key.as_str()) {
            masked_secret(value)
        } else {
            value
        };
        let mut entry = json!({ "value": value, "source": source.as_str() });
        if source == KeySource::Environment {
            entry["variable"] = json!(environment_variable(&key));
        }
        keys.insert(key, entry);
    }
    // `RUST_LOG` replaces `log.level` (telemetry), whatever set the key.
    if let Ok(filter) = std::env::var("RUST_LOG") {
        if !filter.is_empty() {
            keys.insert(
                "log.level".to_owned(),
                json!({ "value": filter, "source": "environment", "variable": "RUST_LOG" }),
            );
        }
    }
    Ok(serde_json::Value::Object(keys))
}

/// What is valid but will stop a command: the operator reads it before deploying.
fn warnings(settings: &Settings) -> Vec<String> {
    settings.serve_refusal().into_iter().collect()
}

/// `roster config check`: the configuration is valid (it loaded) and the database answers.
pub(crate) fn run(settings: &Settings, provenance: &Provenance) -> anyhow::Result<()> {
    check_sqlite_file(settings, false)
        .with_context(|| format!("database.url {}", masked_url(&settings.database.url)))?;
    let store = Store::open(&settings.database.url, &settings.pool_options())
        .with_context(|| format!("database.url {}", masked_url(&settings.database.url)))?;
    store.check_ready().with_context(|| {
        format!(
            "the database at {} does not answer",
            masked_url(&settings.database.url)
        )
    })?;
    output::json(&json!({
        "status": "ok",
        "server": {
            "bind": settings.server.bind,
            "public_url": settings.public_url(),
            "scim_base_url": format!("{}/scim/v2", settings.public_url()),
        },
        "database": {
            "url": masked_url(&settings.database.url),
            "backend": format!("{:?}", store.backend()).to_lowercase(),
            "pool_size": settings.database.pool_size,
        },
        "log": { "format": settings.log.format, "level": settings.log.level },
        "security": {
            "allow_private_network_urls": settings.security.allow_private_network_urls,
            "allowed_private_networks": settings.security.allowed_private_networks,
            "data_key_id": settings.data_keys().current_id(),
        },
        "sso": {
            "session_ttl_secs": settings.sso.session_ttl_secs,
            "key_cache_secs": settings.sso.key_cache_secs,
            "password_max_failures": settings.sso.password_max_failures,
            "password_max_failures_per_address": settings.sso.password_max_failures_per_address,
            "password_lockout_secs": settings.sso.password_lockout_secs,
        },
        "scim": { "token_cache_secs": settings.scim.token_cache_secs },
        "events": { "retention_days": settings.events.retention_days },
        "webhooks": {
            "enabled": settings.webhooks.enabled,
            "delivery_log_retention_days": settings.webhooks.delivery_log_retention_days,
        },
        "warnings": warnings(settings),
        "config_file": provenance.file.as_ref().map(|path| path.display().to_string()),
        "keys": keys_with_sources(settings, provenance)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            masked_url("postgres://roster:s3cret@db:5432/roster"),
            "postgres://roster:***@db:5432/roster"
        );
        assert_eq!(
            masked_url("postgres://roster@db/roster"),
            "postgres://roster@db/roster"
        );
        assert_eq!(
            masked_url("sqlite://./data/roster.db"),
            "sqlite://./data/roster.db"
        );
    }
}
