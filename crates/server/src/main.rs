//! The `roster` binary: parses the command line and configuration, sets up logging, and hands
//! over to one command. Everything protocol-specific lives in the library crates.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // mimalloc is the allocator (roster-allocator says why); freed memory goes back promptly.
    roster_allocator::return_freed_memory_promptly();
    let cli = roster_server::cli::Cli::parse();
    match roster_server::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The operator reads this; stdout stays reserved for command output. One line, even
            // when a cause spans several (libpq's "Is the server running...?").
            let message = format!("{err:#}");
            eprintln!(
                "error: {}",
                message.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            ExitCode::FAILURE
        }
    }
}
