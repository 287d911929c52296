//! [`RunReport`]: the data every report format renders. Versioned: bump
//! [`REPORT_SCHEMA_VERSION`] when a field is added, renamed or removed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checker::{Bound, CheckResult, Figure, Timeline, Verdict};
use crate::score::{Coverage, Grade};

/// Version of `report.json`.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub schema_version: u32,
    pub run_id: String,
    /// stackdrill's version.
    pub tool_version: String,
    /// Wall clock, RFC 3339.
    pub started_at: String,
    pub finished_at: String,
    pub profile: Option<String>,
    /// The worst scenario verdict.
    pub verdict: Verdict,
    pub scenarios: Vec<ScenarioReport>,
    pub coverage: Coverage,
    pub grade: Grade,
}

/// One scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    pub name: String,
    /// The scenario file.
    pub file: String,
    pub verdict: Verdict,
    pub duration_seconds: f64,
    /// The service tier whose targets applied.
    pub tier: Option<u8>,
    pub controls: Vec<String>,
    /// Figures by name (`rto_seconds`, `p99_latency_ms`, ...), each beside its target.
    pub figures: BTreeMap<String, FigureOut>,
    pub checks: Vec<CheckOut>,
    /// The history file, relative to the run folder.
    pub history: Option<String>,
    /// Why the run did not complete, if it did not.
    pub error: Option<String>,
    pub timeline: Timeline,
}

impl ScenarioReport {
    /// Copies a scenario's evaluation into the report.
    pub fn new(
        plan: &crate::scenario::Plan,
        eval: &crate::checker::Evaluation,
        tier: Option<u8>,
        duration_seconds: f64,
        history: Option<&str>,
        error: Option<String>,
    ) -> Self {
        Self {
            name: plan.name.clone(),
            file: plan.source.display().to_string(),
            verdict: eval.verdict,
            duration_seconds,
            tier,
            controls: plan.controls.clone(),
            figures: figure_map(&eval.figures),
            checks: eval
                .checks
                .iter()
                .map(|c| CheckOut::from_result(c, history))
                .collect(),
            history: history.map(str::to_owned),
            error,
            timeline: eval.timeline.clone(),
        }
    }
}

/// A figure in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureOut {
    pub value: Option<f64>,
    pub unit: String,
    pub target: Option<f64>,
    /// `at_most` or `at_least`, when there is a target.
    pub bound: Option<Bound>,
    pub verdict: Verdict,
}

impl From<&Figure> for FigureOut {
    fn from(f: &Figure) -> Self {
        Self {
            value: f.value,
            unit: f.unit.clone(),
            target: f.target.map(|t| t.value),
            bound: f.target.map(|t| t.bound),
            verdict: f.verdict(),
        }
    }
}

/// Figures by name.
pub fn figure_map(figs: &[Figure]) -> BTreeMap<String, FigureOut> {
    figs.iter()
        .map(|f| (f.name.clone(), FigureOut::from(f)))
        .collect()
}

/// A check in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckOut {
    pub name: String,
    pub checker: String,
    pub verdict: Verdict,
    pub summary: String,
    pub figures: BTreeMap<String, FigureOut>,
    pub evidence: Vec<EvidenceOut>,
}

/// A pointer into a history file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceOut {
    pub label: String,
    /// The history file, relative to the run folder.
    pub history: Option<String>,
    /// Entry sequence numbers in it.
    pub seq: Vec<u64>,
}

impl CheckOut {
    /// Converts a check result; `history` names the history file the evidence points into.
    pub fn from_result(c: &CheckResult, history: Option<&str>) -> Self {
        Self {
            name: c.name.clone(),
            checker: c.checker.clone(),
            verdict: c.verdict,
            summary: c.summary.clone(),
            figures: figure_map(&c.figures),
            evidence: c
                .evidence
                .iter()
                .map(|e| EvidenceOut {
                    label: e.label.clone(),
                    history: history.map(str::to_owned),
                    seq: e.seq.clone(),
                })
                .collect(),
        }
    }
}

/// Formats a figure's value with its unit: "12.3 s", "0.999", "4 h".
pub(crate) fn fmt_value(v: Option<f64>, unit: &str) -> String {
    let Some(v) = v else { return "—".to_owned() };
    match unit {
        "seconds" => fmt_seconds(v),
        "ms" => format!("{v:.1} ms"),
        "count" => format!("{v:.0}"),
        "ratio" => format!("{:.3} %", v * 100.0),
        "ops_per_second" => format!("{v:.1} ops/s"),
        u => format!("{v} {u}"),
    }
}

pub(crate) fn fmt_seconds(v: f64) -> String {
    if v >= 3600.0 && (v % 3600.0).abs() < 1e-9 {
        format!("{:.0} h", v / 3600.0)
    } else if v >= 60.0 && (v % 60.0).abs() < 1e-9 {
        format!("{:.0} min", v / 60.0)
    } else {
        format!("{v:.1} s")
    }
}

/// "≤ 4 h" / "≥ 99.900 %" / "—".
pub(crate) fn fmt_target(f: &FigureOut) -> String {
    match (f.target, f.bound) {
        (Some(t), Some(Bound::AtMost)) => format!("≤ {}", fmt_value(Some(t), &f.unit)),
        (Some(t), Some(Bound::AtLeast)) => format!("≥ {}", fmt_value(Some(t), &f.unit)),
        _ => "no target".to_owned(),
    }
}

/// An emoji-free verdict badge for text formats.
pub(crate) fn badge(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Unknown => "UNKNOWN",
    }
}
