//! The command-line interface: [`Cli`] and its dispatch. Engine commands live in `engine.rs`,
//! stack and image commands in `stack.rs`.

mod engine;
mod stack;

/// The engine's pipeline, for the scenario trials (`tests/scenarios.rs`).
pub mod engine_api {
    pub use super::engine::{RunSummary, exit_code, new_run_id, run_scenarios, scenario_files};
}

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::errors::exit;

/// Chaos and disaster-recovery verification for a JanusGraph / HCD / Vault / Prometheus stack.
#[derive(Debug, Parser)]
#[command(name = "stackdrill", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the scenarios found under the given paths.
    List(engine::ListArgs),
    /// Validate scenario files (exit 0 when all are valid, 2 otherwise).
    Validate(engine::ValidateArgs),
    /// Run scenarios against a real stack.
    Run(engine::RunArgs),
    /// Re-render the reports of a finished run.
    Report(engine::ReportArgs),
    /// Show control coverage and the readiness grade of a finished run.
    Score(engine::ScoreArgs),
    /// Build or list the stack's container images.
    #[command(subcommand)]
    Images(stack::ImagesCommand),
    /// Start the stack and keep it running until Ctrl-C (or `stackdrill down`).
    Up(stack::UpArgs),
    /// Remove every container stackdrill started (or those of one run).
    Down(stack::DownArgs),
}

/// Parses the command line, runs the command and maps its outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::errors::init_tracing();
    let code = match cli.command {
        Command::List(a) => engine::list(a),
        Command::Validate(a) => engine::validate(a),
        Command::Run(a) => engine::run(a),
        Command::Report(a) => engine::report(a),
        Command::Score(a) => engine::score(a),
        Command::Images(c) => stack::images(c),
        Command::Up(a) => stack::up(a),
        Command::Down(a) => stack::down(a),
    };
    ExitCode::from(code.unwrap_or_else(|e| {
        let code = match e {
            crate::errors::CliError::BadInput(_) => exit::BAD_INPUT,
            crate::errors::CliError::Environment(_) => exit::ENVIRONMENT,
        };
        eprintln!(
            "{}",
            crate::secrets::Redactor::global().redact(&crate::errors::render_chain(&e))
        );
        code
    }))
}
