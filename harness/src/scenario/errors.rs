//! [`LoadError`] and [`ScenarioError`]: what the loader reports, as miette diagnostics that point
//! into the file.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode, SourceSpan};

/// One mistake in a scenario file: what is wrong, where, and what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ScenarioError {
    /// What is wrong, in lowercase.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The key path, e.g. `step[2].fault.kind` (empty for the whole file).
    pub key_path: String,
    /// The span in the source, when known.
    pub span: Option<SourceSpan>,
    /// The 1-based line and column of the span's start.
    pub line_col: Option<(usize, usize)>,
    /// The label shown under the span.
    pub label: String,
    pub(crate) src: NamedSource<Arc<str>>,
}

impl ScenarioError {
    /// `file:line:col: message (hint: ...)` on one line, for plain output and tests.
    pub fn one_line(&self) -> String {
        let mut s = self.src.name().to_owned();
        if let Some((l, c)) = self.line_col {
            s.push_str(&format!(":{l}:{c}"));
        }
        s.push_str(": ");
        s.push_str(&self.message);
        if let Some(h) = &self.hint {
            s.push_str(&format!(" (hint: {h})"));
        }
        s
    }
}

impl Diagnostic for ScenarioError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("stackdrill::scenario"))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.hint
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.src)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            Some(self.label.clone()),
            span,
        ))))
    }
}

/// A non-empty list of scenario errors, in file order.
#[derive(Debug, Clone)]
pub struct ErrorList {
    first: ScenarioError,
    rest: Vec<ScenarioError>,
}

impl ErrorList {
    /// Builds the list; None when `errors` is empty.
    pub fn new(mut errors: Vec<ScenarioError>) -> Option<Self> {
        errors.sort_by_key(|e| e.span.map(|s| s.offset()).unwrap_or(0));
        let mut it = errors.into_iter();
        let first = it.next()?;
        Some(Self {
            first,
            rest: it.collect(),
        })
    }

    /// Every error.
    pub fn iter(&self) -> impl Iterator<Item = &ScenarioError> {
        std::iter::once(&self.first).chain(self.rest.iter())
    }

    /// How many.
    pub fn len(&self) -> usize {
        1 + self.rest.len()
    }

    /// Never true: the list is non-empty by construction.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Why a scenario file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("failed to read scenario file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("{name}: {} error{} in scenario file", errors.len(), if errors.len() == 1 { "" } else { "s" })]
    Invalid {
        /// The file name, as given.
        name: String,
        /// Every mistake found.
        errors: Box<ErrorList>,
    },
}

impl LoadError {
    /// The individual errors (empty for a read error).
    pub fn errors(&self) -> Vec<&ScenarioError> {
        match self {
            Self::Read { .. } => Vec::new(),
            Self::Invalid { errors, .. } => errors.iter().collect(),
        }
    }
}

impl Diagnostic for LoadError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("stackdrill::scenario"))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self {
            Self::Read { .. } => Some(Box::new("check the path; scenario files end in .toml")),
            Self::Invalid { .. } => None,
        }
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        match self {
            Self::Read { .. } => None,
            Self::Invalid { errors, .. } => {
                Some(Box::new(errors.iter().map(|e| e as &dyn Diagnostic)))
            }
        }
    }
}

/// Renders a diagnostic as plain text (no colour), as the CLI prints it when stderr is not a
/// terminal and as the snapshot tests record it.
pub fn render_plain(diag: &dyn Diagnostic) -> String {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_links(false);
    let mut out = String::new();
    handler
        .render_report(&mut out, diag)
        .expect("rendering into a String cannot fail");
    out
}
