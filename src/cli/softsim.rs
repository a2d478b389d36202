//! `simbridge softsim serve`: the software USIM in a real pcscd, through the vpcd virtual reader.

use super::{CliError, CliResult};
use simbridge_lab::softsim::SoftUsim;
use simbridge_lab::softsim::vpcd::{self, Faults, SessionEnd};
use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `softsim` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum SoftsimCommand {
    /// Attach the software USIM to pcscd through the vsmartcard vpcd reader (runs until killed)
    Serve {
        /// Profile file (sim-profiles/*.toml); SQN state is kept in PROFILE.state
        #[arg(long)]
        profile: PathBuf,
        /// Where vpcd listens
        #[arg(long, default_value = "127.0.0.1:35963", value_name = "HOST:PORT")]
        vpcd: String,
        /// Exit when the reader closes the connection instead of reconnecting
        #[arg(long)]
        once: bool,
        /// Fault injection for tests: remove the card on the Nth command APDU
        #[arg(long, hide = true)]
        drop_after: Option<u64>,
    },
    /// The software USIM behind a virtual AT modem on a pty; prints the device path first
    Modem(super::softsim_modem::ModemArgs),
}

/// Runs a `softsim` subcommand.
pub fn run(cmd: SoftsimCommand) -> CliResult {
    match cmd {
        SoftsimCommand::Serve {
            profile,
            vpcd,
            once,
            drop_after,
        } => serve(profile, &vpcd, once, drop_after),
        SoftsimCommand::Modem(a) => super::softsim_modem::run(a),
    }
}

fn serve(profile: PathBuf, addr: &str, once: bool, drop_after: Option<u64>) -> CliResult {
    let mut card = SoftUsim::load(&profile).map_err(|e| CliError::new(e.to_string()))?;
    let mut faults = Faults { drop_after };
    let mut waited = false;
    loop {
        let mut stream = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(e) => {
                if !waited {
                    log::warn!(
                        "vpcd at {addr} not reachable ({e}); is pcscd running with vsmartcard-vpcd? retrying"
                    );
                    waited = true;
                }
                std::thread::sleep(Duration::from_millis(300));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        println!("inserted into vpcd at {addr}");
        let _ = std::io::stdout().flush();
        waited = false;
        let end = vpcd::serve_connection(&mut card, &mut stream, faults)
            .map_err(|e| CliError::new(format!("vpcd connection {addr}: {e}")))?;
        println!("removed from vpcd at {addr}");
        let _ = std::io::stdout().flush();
        if once {
            return Ok(ExitCode::SUCCESS);
        }
        if end == SessionEnd::Removed {
            // One injected removal per run; then the card is re-inserted after a pause long enough
            // for pcscd to register the removal (an instant re-insert leaves its reader state stale).
            faults.drop_after = None;
            std::thread::sleep(Duration::from_secs(2));
        }
    }
}
