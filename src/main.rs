//! The `simbridge` command-line tool. Logic lives in the library; this is a thin user of it.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
