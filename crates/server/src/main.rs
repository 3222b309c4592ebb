//! The `roster` binary: parses the command line and configuration, sets up logging, and hands
//! over to one command. Everything protocol-specific lives in the library crates.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's allocator: a login or a SCIM request allocates and frees many
/// small strings and JSON values on several threads, and glibc's `malloc`/`free` were a fifth of
/// the server's CPU time in the bench's profiles (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
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
