//! `simbridge bsf`: the emulated network side (HSS/AuC, BSF on Ub, key API for servers).

use super::{CliError, CliResult};
use simbridge::bsf::{BsfConfig, BsfServer};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `bsf` options.
#[derive(clap::Args, Debug)]
pub struct BsfArgs {
    /// Directory of sim-profiles (*.toml): the subscribers
    #[arg(long, value_name = "DIR")]
    profiles: PathBuf,
    /// Address to listen on (port 0 picks one); the bound address is the first line of stdout
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    /// State directory (SEQ per subscriber, bootstrapping contexts)
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// File holding the bearer token servers must present to the key API
    #[arg(long, value_name = "FILE")]
    token_file: PathBuf,
    /// Lifetime of a bootstrapping context in seconds
    #[arg(long, value_name = "SECS", default_value_t = 86_400)]
    lifetime: u64,
    /// Realm and B-TID domain (default: the BSF host of the first profile's MCC/MNC)
    #[arg(long, value_name = "HOST")]
    realm: Option<String>,
    /// IND slot of this AuC in the card's SQN array
    #[arg(long, default_value_t = 0)]
    ind: u8,
    /// Expect hex(RES) as the Digest password instead of the raw octets (RFC 3310), for clients
    /// that hex-encode
    #[arg(long)]
    hex_res_password: bool,
}

/// Runs the BSF until the process is stopped.
pub fn run(a: BsfArgs) -> CliResult {
    if a.lifetime == 0 || a.lifetime > 10 * 366 * 86_400 {
        return Err(CliError::new("--lifetime must be 1 second to 10 years"));
    }
    let token =
        BsfConfig::read_token_file(&a.token_file).map_err(|e| CliError::new(e.to_string()))?;
    let mut cfg = BsfConfig::new(&a.profiles, &a.state, &a.listen, token);
    cfg.lifetime = Duration::from_secs(a.lifetime);
    cfg.realm = a.realm;
    cfg.ind = a.ind;
    cfg.hex_res_password = a.hex_res_password;
    let server = BsfServer::start(cfg).map_err(|e| CliError::new(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", server.addr())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::new(format!("stdout: {e}")))?;
    drop(out);
    server.wait();
    Ok(ExitCode::SUCCESS)
}
