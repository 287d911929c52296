//! Engine commands: list, validate, run, report, score.

use std::path::PathBuf;

use crate::errors::CliError;

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Scenario files or folders (default: scenarios/).
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Profile to apply (`[profile.<name>]` in each scenario).
    #[arg(long)]
    pub profile: Option<String>,
    /// Run folder (default: reports/<run id>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Scenario files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A run folder holding report.json.
    pub run_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    /// A run folder holding report.json.
    pub run_dir: PathBuf,
}

fn not_yet(what: &str) -> Result<u8, CliError> {
    Err(CliError::BadInput(format!(
        "`stackdrill {what}` is not implemented yet"
    )))
}

pub fn list(_a: ListArgs) -> Result<u8, CliError> {
    not_yet("list")
}
pub fn validate(_a: ValidateArgs) -> Result<u8, CliError> {
    not_yet("validate")
}
pub fn run(_a: RunArgs) -> Result<u8, CliError> {
    not_yet("run")
}
pub fn report(_a: ReportArgs) -> Result<u8, CliError> {
    not_yet("report")
}
pub fn score(_a: ScoreArgs) -> Result<u8, CliError> {
    not_yet("score")
}
