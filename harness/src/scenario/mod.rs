//! Scenario files: [`Plan`], the validated form the runner interprets, and [`load`], which
//! builds it from a TOML file and reports every mistake as a miette diagnostic.
//!
//! `schema` mirrors the file syntax; `loader` validates it; `plan` holds the result.

mod duration;
mod errors;
mod kinds;
mod loader;
mod plan;
mod schema;

pub use duration::HumanDuration;
pub use errors::{ErrorList, LoadError, ScenarioError, render_plain};
pub use kinds::*;
pub use loader::{LoadOptions, load, load_str, parse_str};
pub use plan::*;
pub use schema::*;
