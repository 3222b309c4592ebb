//! Wiring of the `roster` binary: configuration, tracing, the operator CLI and the HTTP server.
//!
//! This crate is the only one that uses `anyhow`: its errors end at the operator's terminal.
//! Library crates return their own typed errors.

pub mod backchannel;
pub mod certificate_checks;
pub mod cli;
mod commands;
mod config_check;
pub mod connections;
pub mod domain_checks;
pub mod healthcheck;
pub mod http;
pub mod metrics;
mod output;
pub mod process_metrics;
pub mod settings;
mod sp_keys;
mod telemetry;
mod undo;

use anyhow::Context;

/// Runs one command line.
pub fn run(cli: cli::Cli) -> anyhow::Result<()> {
    let (settings, provenance) = settings::Settings::load_with_provenance(cli.config.as_deref())?;
    telemetry::init(&settings.log)?;
    if let cli::Command::Config(cli::ConfigCommand::Check) = cli.command {
        return config_check::run(&settings, &provenance);
    }
    if let cli::Command::Healthcheck { timeout_secs } = cli.command {
        return healthcheck::run(&settings, std::time::Duration::from_secs(timeout_secs));
    }
    if let cli::Command::DataKey(command) = &cli.command {
        return commands::data_key(command);
    }
    if let (cli::Command::Serve, Some(refusal)) = (&cli.command, settings.serve_refusal()) {
        anyhow::bail!(refusal);
    }
    // Only these two make a new SQLite database: any other command on a mistyped path would
    // otherwise work on a new empty one (and print `[]`).
    let may_create = matches!(cli.command, cli::Command::Migrate | cli::Command::Serve);
    let store = commands::open_store(&settings, may_create).with_context(|| {
        format!(
            "opening the database of database.url {}",
            config_check::masked_url(&settings.database.url)
        )
    })?;
    commands::dispatch(cli.command, &settings, store)
}
