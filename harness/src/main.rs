//! The `stackdrill` command. Control flow and exit-code policy only; everything else lives in the
//! library.

use std::process::ExitCode;

fn main() -> ExitCode {
    stackdrill::cli::main()
}
