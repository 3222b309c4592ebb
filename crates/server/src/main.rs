//! The `roster` binary: parses the command line and configuration, sets up logging, and hands
//! over to one command. Everything protocol-specific lives in the library crates.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = roster_server::cli::Cli::parse();
    match roster_server::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The operator reads this; stdout stays reserved for command output.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
