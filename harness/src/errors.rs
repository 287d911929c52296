//! Top-level error tiers and the exit-code table ([`exit`]). Module-specific error enums live
//! next to their code.

/// Exit codes of the `stackdrill` command.
pub mod exit {
    /// Every scenario passed, or the command succeeded.
    pub const OK: u8 = 0;
    /// At least one scenario failed.
    pub const FAILED: u8 = 1;
    /// Bad input: an invalid scenario file, a bad flag, a missing engine or image.
    pub const BAD_INPUT: u8 = 2;
    /// No scenario failed but at least one verdict is unknown.
    pub const UNKNOWN: u8 = 3;
    /// The environment failed (engine error, stack did not come up).
    pub const ENVIRONMENT: u8 = 4;
    /// Interrupted by Ctrl-C; everything started was removed.
    pub const INTERRUPTED: u8 = 130;
}

/// A command's failure, printed through miette by the binary.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CliError {
    /// Invalid input: the message says what and where.
    #[error("{0}")]
    BadInput(String),
    /// The environment (engine, images, stack) failed.
    #[error(transparent)]
    Environment(anyhow::Error),
}

/// Installs the tracing subscriber (stderr, `STACKDRILL_LOG` or `RUST_LOG` filter).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STACKDRILL_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(
                "warn,stackdrill=info,stackdrill::fault::proxy=error,scylla=off",
            )
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// `error: <message>` followed by one `  caused by: <source>` line per source in the chain.
pub fn render_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = format!("error: {e}");
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(&format!("\n  caused by: {c}"));
        cur = c.source();
    }
    out
}
