//! Reports: [`RunReport`], the versioned record of a run, rendered to the run folder as
//! `report.json`, `report.md` (a pull-request comment), `report.html` (self-contained, with SVG
//! charts) and `junit.xml`. A [`Redactor`] removes secrets from every format before it is
//! written. The report only formats what the checkers and the scorer computed.

mod html;
mod junit;
mod markdown;
mod model;
mod redact;

pub use html::render_html;
pub use junit::render_junit;
pub use markdown::render_markdown;
pub use model::{
    CheckOut, EvidenceOut, FigureOut, REPORT_SCHEMA_VERSION, RunReport, ScenarioReport, figure_map,
};
pub use redact::{REDACTED, Redactor};

use std::io;
use std::path::{Path, PathBuf};

/// Renders `report.json`.
pub fn render_json(r: &RunReport) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("a report always serializes");
    s.push('\n');
    s
}

/// Writes the four reports into `dir` (created if needed), redacted; returns their paths.
pub fn write_all(dir: &Path, report: &RunReport, redactor: &Redactor) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let r = redactor.redact_report(report);
    let files = [
        ("report.json", render_json(&r)),
        ("report.md", render_markdown(&r)),
        ("report.html", render_html(&r)),
        ("junit.xml", render_junit(&r)),
    ];
    let mut out = Vec::new();
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::write(&p, redactor.redact_text(&text))?;
        out.push(p);
    }
    Ok(out)
}

/// Reads a `report.json`, checking its schema version.
pub fn read_json(path: &Path) -> io::Result<RunReport> {
    let text = std::fs::read_to_string(path)?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    match v.get("schema_version").and_then(|x| x.as_u64()) {
        Some(n) if n == u64::from(REPORT_SCHEMA_VERSION) => {}
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: report schema_version {other:?} is not {REPORT_SCHEMA_VERSION}",
                    path.display()
                ),
            ));
        }
    }
    serde_json::from_value(v).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
