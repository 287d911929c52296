//! Stack commands: images build/list, up, down.

use crate::errors::CliError;

#[derive(Debug, clap::Subcommand)]
pub enum ImagesCommand {
    /// Build the images that are missing.
    Build,
    /// List the stack's images and whether each is present.
    List,
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {}

#[derive(Debug, clap::Args)]
pub struct DownArgs {}

fn not_yet(what: &str) -> Result<u8, CliError> {
    Err(CliError::BadInput(format!("`stackdrill {what}` is not implemented yet")))
}

pub fn images(_c: ImagesCommand) -> Result<u8, CliError> {
    not_yet("images")
}
pub fn up(_a: UpArgs) -> Result<u8, CliError> {
    not_yet("up")
}
pub fn down(_a: DownArgs) -> Result<u8, CliError> {
    not_yet("down")
}
