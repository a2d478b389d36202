//! `simbridge completions SHELL` and `simbridge man [--dir DIR]`: shell completions and man pages
//! generated from the clap definition of the command line itself (clap_complete, clap_mangen:
//! clap's own generators), so they cannot drift from the options. scripts/build-pi ships them in
//! the .deb.

use super::{CliError, CliResult};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `completions` options.
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish (also elvish, powershell)
    shell: clap_complete::Shell,
}

/// `man` options.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Write simbridge.1 and one page per subcommand (simbridge-bridge.1 ...) into DIR instead of
    /// printing simbridge.1
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Prints the completion script for `args.shell` on stdout.
pub fn completions(args: CompletionsArgs, mut cmd: clap::Command) -> CliResult {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "simbridge", &mut out);
    write_stdout(&out)
}

/// Prints the man page, or writes every page into `--dir`.
pub fn man(args: ManArgs, cmd: clap::Command) -> CliResult {
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .and_then(|()| clap_mangen::generate_to(cmd, &dir))
                .map_err(|e| CliError::new(format!("--dir {}: {e}", dir.display())))?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .map_err(|e| CliError::new(format!("man page: {e}")))?;
            write_stdout(&out)
        }
    }
}

fn write_stdout(bytes: &[u8]) -> CliResult {
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::new(format!("stdout: {e}")))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}
