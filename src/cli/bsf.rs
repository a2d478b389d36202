//! `simbridge bsf`: the emulated network side (HSS/AuC, BSF on Ub, key API for servers).

use super::{CliError, CliResult};
use simbridge::secret::SecretVec;
use simbridge_lab::bsf::nafs::{check_fqdn, load_nafs_file};
use simbridge_lab::bsf::{BsfConfig, BsfServer, NafCredential};
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
    /// NAF credentials of the key API (TOML `[[naf]]` entries: name, fqdns, token_file, impi)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["token_file", "naf"])]
    nafs: Option<PathBuf>,
    /// Shorthand for one credential: the bearer token file (mode 0600) of a server allowed the
    /// keys of the `--naf` FQDNs (no IMPI in its answers)
    #[arg(long, value_name = "FILE", requires = "naf")]
    token_file: Option<PathBuf>,
    /// With --token-file: an FQDN that credential may ask keys for (repeat for several)
    #[arg(long, value_name = "FQDN", requires = "token_file")]
    naf: Vec<String>,
    /// Lifetime of a bootstrapping context in seconds
    #[arg(long, value_name = "SECS", default_value_t = 86_400)]
    lifetime: u64,
    /// Realm and B-TID domain (default: the BSF host of the first profile's MCC/MNC)
    #[arg(long, value_name = "HOST")]
    realm: Option<String>,
    /// IND slot of this AuC in the card's SQN array
    #[arg(long, default_value_t = 0)]
    ind: u8,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
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
    // Named here: the library's error would read as a state problem.
    if let Err(e) = std::fs::read_dir(&a.profiles) {
        return Err(CliError::new(format!(
            "--profiles {}: cannot read the profiles directory: {e}",
            a.profiles.display()
        )));
    }
    let credentials = match (&a.nafs, &a.token_file) {
        (Some(file), _) => load_nafs_file(file).map_err(|e| CliError::new(e.to_string()))?,
        (None, Some(tf)) => {
            if let Some(bad) = a.naf.iter().find(|f| !check_fqdn(f)) {
                return Err(CliError::new(format!("--naf {bad:?} is not a host name")));
            }
            let token = BsfConfig::read_token_file(tf).map_err(|e| CliError::new(e.to_string()))?;
            vec![NafCredential::for_fqdns("token-file", token, &a.naf, false)]
        }
        (None, None) => {
            return Err(CliError::new(
                "the key API needs NAF credentials: --nafs FILE, or --token-file FILE with --naf FQDN",
            ));
        }
    };
    let names: Vec<&str> = credentials.iter().map(|c| c.name.as_str()).collect();
    log::info!("key API: NAF credentials {names:?}");
    let mut cfg = BsfConfig::new(&a.profiles, &a.state, &a.listen, SecretVec::new(Vec::new()));
    cfg.credentials = credentials;
    cfg.lifetime = Duration::from_secs(a.lifetime);
    cfg.realm = a.realm;
    cfg.ind = a.ind;
    cfg.hex_res_password = a.hex_res_password;
    cfg.tls = a.tls_cert.clone().zip(a.tls_key.clone());
    let server = BsfServer::start(cfg).map_err(|e| CliError::new(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    // The first line stays the bare address (scripts read it); the URL names the scheme.
    writeln!(out, "{}", server.addr())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::new(format!("stdout: {e}")))?;
    drop(out);
    server.wait();
    Ok(ExitCode::SUCCESS)
}
