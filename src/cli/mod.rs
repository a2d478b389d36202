//! Command-line interface: argument parsing, logging set-up, exit codes. Each subcommand lives in
//! its own file and calls into the library.

mod bootstrap;
mod bridge;
mod bridge_reload;
mod bsf;
mod card_source;
mod demo;
mod demo_oscore;
mod dtls;
mod energy;
mod generate;
mod hexarg;
mod logging;
mod oscore;
mod psk;
mod server;
mod server_reload;
mod signals;
mod sim;
mod sim_pin;
mod softsim;
mod softsim_modem;
mod status;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

/// Exit code of a usage error (EX_USAGE, sysexits.h): a bad option or argument.
pub const EXIT_USAGE: u8 = 64;

/// Exit code of `dtls client` when the peer is unavailable: no answer or a failed handshake
/// (EX_UNAVAILABLE, sysexits.h).
pub const EXIT_UNAVAILABLE: u8 = 69;

/// The exit codes, as `--help` shows them (README.md has the same table).
const EXIT_CODES_HELP: &str = "Exit codes:
  0   success (long-running commands: stopped by SIGTERM/SIGINT after saving their state)
  1   error (the message names the cause)
  2   sim aka: synchronisation failure (AUTS printed)
  3   sim aka / bootstrap: network authentication failed (MAC)
  64  usage error: a bad option or argument
  69  dtls client: the peer is unavailable (no answer, handshake failed)
  78  bridge: stopped over PIN1 (a person must act; see `simbridge sim pin`)";

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

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Result of a subcommand.
pub type CliResult = Result<ExitCode, CliError>;

#[derive(Parser, Debug)]
#[command(
    name = "simbridge",
    version,
    about = "UICC-anchored DTLS-PSK bridge for cellular IoT",
    after_help = EXIT_CODES_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Look at a card and run AKA on it
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// The software USIM: attach it to pcscd
    #[command(subcommand)]
    Softsim(softsim::SoftsimCommand),
    /// The gateway: local UDP routes over long-lived upstream DTLS sessions
    Bridge(bridge::BridgeArgs),
    /// The server: DTLS sessions to a UDP backend
    Server(server::ServerArgs),
    /// Run the whole chain on one machine with the embedded defaults
    Demo(demo::DemoArgs),
    /// GBA bootstrapping with the card against a BSF (Ub); prints the B-TID and lifetime
    Bootstrap(bootstrap::BootstrapArgs),
    /// The (D)TLS PSK identity (and, with --reveal, the key) for a NAF
    Psk(psk::PskArgs),
    /// Run the network side: HSS/AuC, BSF (Ub) and the key API for servers
    Bsf(bsf::BsfArgs),
    /// Energy per message and battery life of each DTLS strategy on NB-IoT / LTE-M
    Energy(energy::EnergyArgs),
    /// DTLS 1.2 PSK diagnostic client and server.
    Dtls(dtls::DtlsArgs),
    /// OSCORE contexts in a state directory (and handing one to aiocoap)
    #[command(subcommand)]
    Oscore(oscore::OscoreCommand),
    /// Sessions, bootstraps and counters of a running gateway or server (its status socket)
    Status(status::StatusArgs),
    /// Shell completion script (bash, zsh, fish) on stdout
    Completions(generate::CompletionsArgs),
    /// The man page (roff) on stdout, or every page into --dir
    Man(generate::ManArgs),
}

/// Entry point used by `main`.
pub fn main() -> ExitCode {
    logging::init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // --help and --version go to stdout with 0; every other parse error is a usage error.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let result: CliResult = match cli.command {
        Command::Sim(c) => sim::run(c),
        Command::Softsim(c) => softsim::run(c),
        Command::Demo(a) => demo::run(a),
        Command::Bridge(a) => {
            signals::default_handling("bridge");
            bridge::run(a)
        }
        Command::Server(a) => {
            signals::default_handling("server");
            server::run(a)
        }
        Command::Bootstrap(a) => bootstrap::run(a),
        Command::Psk(a) => psk::run(a),
        Command::Bsf(a) => {
            signals::default_handling("bsf");
            bsf::run(a)
        }
        Command::Energy(a) => energy::run(a),
        Command::Dtls(a) => {
            signals::default_handling("dtls");
            // dtls.rs reports a failed handshake with 2; that is "peer unavailable" (69) now,
            // so that 2 means only the `sim aka` synchronisation failure.
            dtls::run(a).map_err(|e| match e.code {
                2 => CliError::with_code(EXIT_UNAVAILABLE, e.message),
                _ => e,
            })
        }
        Command::Oscore(c) => oscore::run(c),
        Command::Status(a) => status::run(a),
        Command::Completions(a) => generate::completions(a, Cli::command()),
        Command::Man(a) => generate::man(a, Cli::command()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("simbridge: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
