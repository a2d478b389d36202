//! `simbridge status --state DIR [--json]`: asks the running gateway and/or server whose state
//! directory is DIR for their sessions and bootstraps, through the status socket there.
//! Exit 1 when nothing answers (the message says which socket and why).

use super::{CliError, CliResult};
use simbridge::status::render::render;
use simbridge::status::socket::query_dir;
use std::path::PathBuf;
use std::process::ExitCode;

/// `status` options.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// State directory of the running `bridge` or `server` (its `state_dir`)
    #[arg(long, env = "SIMBRIDGE_STATE_DIR")]
    state: PathBuf,
    /// JSON on stdout: an object with a `gateway` and/or `server` member
    #[arg(long)]
    json: bool,
}

/// Runs `status`.
pub fn run(args: StatusArgs) -> CliResult {
    let snaps = query_dir(&args.state).map_err(|e| CliError::new(e.to_string()))?;
    if args.json {
        let obj: serde_json::Map<String, serde_json::Value> = snaps
            .iter()
            .map(|s| {
                serde_json::to_value(s)
                    .map(|v| (s.role.name().to_string(), v))
                    .map_err(|e| CliError::new(format!("status: {e}")))
            })
            .collect::<Result<_, _>>()?;
        out(&format!("{}\n", serde_json::Value::Object(obj)))
    } else {
        let text: Vec<String> = snaps.iter().map(render).collect();
        out(&text.join("\n"))
    }
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn out(text: &str) -> CliResult {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::new(format!("stdout: {e}")))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}
