//! [`Verdict`], [`CheckResult`], [`Figure`] and [`Thresholds`]: the vocabulary every checker
//! speaks.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A check's outcome. Ordered so that the worst is the greatest: `Pass < Unknown < Fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The property held and was measured.
    Pass,
    /// It could not be judged (missing data, the fault never took effect, a checker error).
    Unknown,
    /// It did not hold.
    Fail,
}

impl Verdict {
    /// The worst of several verdicts; `Unknown` when there are none (nothing was judged).
    pub fn worst(vs: impl IntoIterator<Item = Verdict>) -> Verdict {
        vs.into_iter().max().unwrap_or(Verdict::Unknown)
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Unknown => "unknown",
            Self::Fail => "fail",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which side of the target is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// The figure must be at most the target.
    AtMost,
    /// The figure must be at least the target.
    AtLeast,
}

/// A target beside a figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// In the figure's unit.
    pub value: f64,
    /// Which side is good.
    pub bound: Bound,
}

impl Target {
    /// `value` must not be exceeded.
    pub fn at_most(value: f64) -> Self {
        Self {
            value,
            bound: Bound::AtMost,
        }
    }
    /// `value` must be reached.
    pub fn at_least(value: f64) -> Self {
        Self {
            value,
            bound: Bound::AtLeast,
        }
    }
    /// Whether `v` meets the target.
    pub fn met_by(&self, v: f64) -> bool {
        match self.bound {
            Bound::AtMost => v <= self.value,
            Bound::AtLeast => v >= self.value,
        }
    }
}

/// A measured figure, e.g. `rto_seconds`, with its unit and target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// snake_case name ending in its unit: `rto_seconds`, `p99_latency_ms`.
    pub name: String,
    /// The value; None when it could not be measured.
    pub value: Option<f64>,
    /// The unit: `seconds`, `ms`, `count`, `ratio`, `ops_per_second`.
    pub unit: String,
    /// The target, when there is one.
    pub target: Option<Target>,
}

impl Figure {
    /// A figure.
    pub fn new(name: &str, value: Option<f64>, unit: &str, target: Option<Target>) -> Self {
        Self {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            target,
        }
    }

    /// The verdict of this figure against its target: unknown without a value or a target.
    pub fn verdict(&self) -> Verdict {
        match (self.value, self.target) {
            (Some(v), Some(t)) if t.met_by(v) => Verdict::Pass,
            (Some(_), Some(_)) => Verdict::Fail,
            _ => Verdict::Unknown,
        }
    }
}

/// A pointer into the history: entries (by `seq`) that support a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// What the entries show, e.g. "lost acknowledged writes (first 20)".
    pub label: String,
    /// History sequence numbers.
    pub seq: Vec<u64>,
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's name in the scenario.
    pub name: String,
    /// The checker.
    pub checker: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// One sentence: what was found.
    pub summary: String,
    /// Figures, each beside its target.
    pub figures: Vec<Figure>,
    /// Pointers into the history.
    pub evidence: Vec<Evidence>,
}

impl CheckResult {
    /// A result with no figures or evidence yet.
    pub fn new(name: &str, checker: &str, verdict: Verdict, summary: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            checker: checker.to_owned(),
            verdict,
            summary: summary.into(),
            figures: Vec::new(),
            evidence: Vec::new(),
        }
    }

    /// The result of a checker that could not judge.
    pub fn unknown(name: &str, checker: &str, err: &CheckError) -> Self {
        Self::new(
            name,
            checker,
            Verdict::Unknown,
            format!("could not judge: {err}"),
        )
    }
}

/// Why a checker could not judge. Always becomes an `unknown` verdict.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    /// The history lacks what the checker needs.
    #[error("{0}")]
    MissingData(String),
    /// No target to judge the figure against.
    #[error("no target for {0}")]
    NoTarget(&'static str),
    /// The checker failed internally.
    #[error("checker error: {0}")]
    Internal(String),
}

/// Resolved targets a scenario is judged against (scenario overrides, else tier defaults).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// The tier the defaults came from.
    pub tier: Option<u8>,
    pub rto: Option<Duration>,
    pub rpo: Option<Duration>,
    pub p50_latency: Option<Duration>,
    pub p95_latency: Option<Duration>,
    pub p99_latency: Option<Duration>,
    pub error_rate: Option<f64>,
    pub availability: Option<f64>,
    pub time_to_detect: Option<Duration>,
    /// Time-to-detect targets derived from the alert rules (`stack::detection`), by the name of
    /// the `alert` probe a check uses; `time_to_detect` above, when set, wins.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub detection_budgets: std::collections::BTreeMap<String, Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_wins() {
        use Verdict::*;
        assert_eq!(Verdict::worst([Pass, Pass]), Pass);
        assert_eq!(Verdict::worst([Pass, Unknown]), Unknown);
        assert_eq!(Verdict::worst([Unknown, Fail, Pass]), Fail);
        assert_eq!(Verdict::worst([]), Unknown, "nothing judged is not a pass");
    }

    #[test]
    fn figure_verdicts() {
        assert_eq!(
            Figure::new("x", Some(1.0), "s", Some(Target::at_most(2.0))).verdict(),
            Verdict::Pass
        );
        assert_eq!(
            Figure::new("x", Some(3.0), "s", Some(Target::at_most(2.0))).verdict(),
            Verdict::Fail
        );
        assert_eq!(
            Figure::new("x", Some(0.99), "r", Some(Target::at_least(0.999))).verdict(),
            Verdict::Fail
        );
        assert_eq!(
            Figure::new("x", None, "s", Some(Target::at_most(2.0))).verdict(),
            Verdict::Unknown
        );
        assert_eq!(
            Figure::new("x", Some(1.0), "s", None).verdict(),
            Verdict::Unknown
        );
    }
}
