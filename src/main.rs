//! The `simbridge` command-line tool. Logic lives in the libraries; this is a thin user of them.

use std::process::ExitCode;

fn main() -> ExitCode {
    simbridge_cli::cli::main()
}
