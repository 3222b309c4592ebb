//! Logging: `tracing` to stderr, pretty for people or JSON for pipelines.
//!
//! Never log secrets: SCIM tokens, API keys, passwords, session keys, client secrets, SAML
//! assertions. Request logs carry method, path (no query), status, duration and a request id.

use std::io::IsTerminal;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::settings::LogSettings;

const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// Whether `filter` is a tracing filter that says what it means: comma-separated directives,
/// each a level (`info`) or `target=level` (`roster_scim=debug`, `[span]=level`). `tracing`
/// itself reads a bare word as a target to log at every level, so `loud` would pass its parser
/// and the server would then log nothing at all; here it is refused with the levels to choose
/// from.
pub(crate) fn check_filter(filter: &str) -> Result<(), String> {
    let directives: Vec<&str> = filter
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
        .collect();
    if directives.is_empty() {
        return Err(format!("is empty; give a level: {}", LEVELS.join(", ")));
    }
    for directive in directives {
        let level = match directive.rsplit_once('=') {
            Some((_, level)) => level,
            None => directive,
        };
        if !LEVELS.iter().any(|known| known.eq_ignore_ascii_case(level)) {
            return Err(format!(
                "{directive:?} in {filter:?} is not a level ({}) nor target=level",
                LEVELS.join(", ")
            ));
        }
    }
    EnvFilter::try_new(filter)
        .map(drop)
        .map_err(|err| format!("{filter:?} is not a tracing filter: {err}"))
}

pub(crate) fn init(settings: &LogSettings) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(filter) if !filter.is_empty() => {
            check_filter(&filter).map_err(|reason| anyhow::anyhow!("RUST_LOG: {reason}"))?;
            EnvFilter::try_new(filter).context("RUST_LOG")?
        }
        _ => EnvFilter::try_new(&settings.level).context("log.level")?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = if settings.format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests running several commands in one process) keeps the first subscriber.
    result.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_filter;

    #[test]
    fn filters_are_levels_or_target_equals_level() {
        for good in [
            "info",
            "WARN",
            "off",
            "info,roster_scim=debug",
            "warn,actix_web=error",
            "roster_server::http=trace",
        ] {
            assert_eq!(check_filter(good), Ok(()), "{good}");
        }
        for bad in [
            "loud",
            "",
            " ",
            "info,loud",
            "roster_scim=loud",
            "roster_scim",
            ",",
        ] {
            assert!(check_filter(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
