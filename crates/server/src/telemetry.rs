//! Logging: `tracing` to stderr, pretty for people or JSON for pipelines.
//!
//! Never log secrets: SCIM tokens, API keys, passwords, session keys, client secrets, SAML
//! assertions. Request logs carry method, path (no query), status, duration and a request id.

use std::io::IsTerminal;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::settings::LogSettings;

pub(crate) fn init(settings: &LogSettings) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(filter) if !filter.is_empty() => EnvFilter::try_new(filter).context("RUST_LOG")?,
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
