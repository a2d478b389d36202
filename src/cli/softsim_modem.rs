//! `simbridge softsim modem`: the software USIM behind a virtual AT modem on a pty.

use super::{CliError, CliResult};
use modem_at::Quirks;
use simbridge::card::CardChannel;
use simbridge_lab::softsim::SoftUsim;
use simbridge_lab::softsim::modem::{AtServer, Control, ServeOptions, serve};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;

/// Arguments of `softsim modem`.
#[derive(clap::Args, Debug)]
pub struct ModemArgs {
    /// Profile file (sim-profiles/*.toml); SQN state is kept in PROFILE.state
    #[arg(long)]
    pub profile: PathBuf,
    /// Also make a symlink to the device here (follows the device across reboots; refused if
    /// something else is at PATH; removed on exit)
    #[arg(long, value_name = "PATH")]
    pub link: Option<PathBuf>,
    /// Modem to imitate, a row of the modem-at quirks table: generic, quectel, fibocom, sierra,
    /// dw5821e, huawei-ms2372, wavecom, nordic
    #[arg(long, value_name = "NAME", default_value = "generic")]
    pub quirks: String,
    /// Inject URCs at random moments, also between the lines of an answer
    #[arg(long)]
    pub urc_noise: bool,
    /// Strict mode: count applications the host selects on the basic channel (each resets a real
    /// modem's own USIM session) and send +CGLA APDUs where their CLA points (CLA 00 = the basic
    /// channel) unless the quirks row codes the channel itself; `stats` on stdin prints the counts
    #[arg(long)]
    pub strict: bool,
    /// Seed of the URC noise (0: from the clock)
    #[arg(long, default_value_t = 0, hide = true)]
    pub seed: u64,
    /// Lab controls on stdin, one per line: `reboot [MS]`, `stall`, `stall-on TEXT`, `resume`,
    /// `garbage`, `stats`, `quit`; each is acknowledged on stdout (`control: NAME`); the modem exits when
    /// stdin closes
    #[arg(long)]
    pub control_stdin: bool,
}

/// Runs the virtual modem until killed (or `quit` / end of stdin with `--control-stdin`).
pub fn run(a: ModemArgs) -> CliResult {
    let quirks = Quirks::by_name(&a.quirks).ok_or_else(|| {
        CliError::new(format!(
            "--quirks {}: unknown modem; known: {}",
            a.quirks,
            Quirks::names().join(", ")
        ))
    })?;
    let mut card = SoftUsim::load(&a.profile).map_err(|e| CliError::new(e.to_string()))?;
    card.reset().map_err(|e| CliError::new(e.to_string()))?;
    let mut server = AtServer::new(card, quirks).with_strict(a.strict);
    let (tx, rx) = mpsc::channel();
    if a.control_stdin {
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                match Control::parse(&line) {
                    Some(c) => {
                        if tx.send(c).is_err() {
                            return;
                        }
                    }
                    None => log::warn!("virtual modem: unknown control {line:?}"),
                }
            }
            let _ = tx.send(Control::Quit);
        });
    } else {
        drop(tx);
    }
    // SIGTERM / SIGINT end the loop, so the link is removed on the way out.
    let stop = super::signals::termination_flag()
        .map_err(|e| CliError::new(format!("cannot install signal handlers: {e}")))?;
    let opts = ServeOptions {
        link: a.link,
        urc_noise: a.urc_noise,
        seed: a.seed,
        stop: Some(stop),
    };
    let mut out = std::io::stdout();
    serve(&mut server, &opts, &mut out, rx).map_err(|e| CliError::new(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}
