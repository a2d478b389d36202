//! Command-line interface: argument parsing, logging set-up, exit codes. Each subcommand lives in
//! its own file and calls into the library.

mod dtls;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// A failed command: the message printed on stderr and the process exit code.
#[derive(Debug)]
pub struct CliError {
    /// Process exit code (1 generic failure; commands document their own codes).
    pub code: u8,
    /// Message shown to the user, naming the cause.
    pub message: String,
}

impl CliError {
    /// A generic failure (exit code 1).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }

    /// A failure with a specific exit code.
    pub fn with_code(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Result of a subcommand.
pub type CliResult = Result<ExitCode, CliError>;

#[derive(Parser, Debug)]
#[command(
    name = "simbridge",
    version,
    about = "UICC-anchored DTLS-PSK bridge for cellular IoT"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// DTLS 1.2 PSK diagnostic client and server.
    Dtls(dtls::DtlsArgs),
}

/// Entry point used by `main`.
pub fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let result: CliResult = match cli.command {
        Command::Dtls(a) => dtls::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("simbridge: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
