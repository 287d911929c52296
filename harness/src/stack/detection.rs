//! [`DetectionBudget`]: how long the stack's monitoring may take, at worst, to turn a fault into
//! a firing alert, derived from the alert rule's `for` and the monitoring configuration (scrape
//! interval and timeout, rule evaluation interval, Alertmanager's `group_wait`), so a scenario's
//! time-to-detect target follows the rule files instead of being written by hand.
//!
//! The worst case, from the fault taking effect:
//!
//! | term | why |
//! | --- | --- |
//! | range window | a rule over `rate(x[1m])` may need up to the window for the rate to cross its threshold (the error-rate alert took 97 s once, against an 81 s budget that left this out) |
//! | `scrape_interval` | the fault lands just after a scrape; the next one is up to an interval later |
//! | `scrape_timeout` | that scrape (or the blackbox probe inside it) may hang until its timeout on a frozen or blackholed endpoint |
//! | `evaluation_interval` | the rule sees the new sample at its next evaluation; the alert turns pending |
//! | `for` | the alert stays pending this long |
//! | `evaluation_interval` | the evaluation that fires runs late on a loaded machine, and the alert is then sent to Alertmanager |
//! | `group_wait` | Alertmanager holds a new group this long before its first notification |
//!
//! What the budget does not hold is the signal's own lag: a timer records a request only when it
//! ends, and a fault that makes requests time out shows only after the timeout.
//!
//! The files are the project's own flat YAML (fixtures/monitoring/alerts.yml,
//! fixtures/config/prometheus/prometheus.yml, fixtures/config/alertmanager/alertmanager.yml):
//! a line scanner reads the few keys needed, and fails on any shape it does not expect (a
//! per-job interval, an alert defined twice) rather than guess.

use std::path::Path;
use std::time::Duration;

/// The detection budget of one alert, term by term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectionBudget {
    /// The rule's `for` (zero when it has none).
    pub pending: Duration,
    /// The longest range window in the rule's expression (`rate(x[1m])`: 1m): a rate can need up
    /// to its window to show a change. Zero for an instant expression.
    pub window: Duration,
    /// Prometheus's global `scrape_interval`.
    pub scrape_interval: Duration,
    /// Prometheus's `scrape_timeout` (its default: 10 s, at most the scrape interval).
    pub scrape_timeout: Duration,
    /// Prometheus's global `evaluation_interval`.
    pub evaluation_interval: Duration,
    /// Alertmanager's route `group_wait`.
    pub group_wait: Duration,
}

impl DetectionBudget {
    /// The whole budget.
    pub fn total(&self) -> Duration {
        self.scrape_interval
            + self.scrape_timeout
            + self.evaluation_interval * 2
            + self.window
            + self.pending
            + self.group_wait
    }

    /// "for 10s + scrape 5s + timeout 5s + 2 × evaluation 5s + group_wait 1s = 31s".
    pub fn derivation(&self) -> String {
        let f = |d: Duration| humantime::format_duration(d).to_string();
        let window = if self.window.is_zero() {
            String::new()
        } else {
            format!("window {} + ", f(self.window))
        };
        format!(
            "{window}for {} + scrape {} + timeout {} + 2 × evaluation {} + group_wait {} = {}",
            f(self.pending),
            f(self.scrape_interval),
            f(self.scrape_timeout),
            f(self.evaluation_interval),
            f(self.group_wait),
            f(self.total())
        )
    }
}

/// Why a budget could not be derived.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BudgetError {
    /// A file could not be read.
    #[error("failed to read {path}: {reason}")]
    Read { path: String, reason: String },
    /// No rule of that name.
    #[error("no alert rule named `{0}` in the rule file")]
    NoSuchAlert(String),
    /// A key is missing or appears where it cannot be read unambiguously.
    #[error("{file}: {problem}")]
    Shape { file: &'static str, problem: String },
}

/// The monitoring settings a budget needs, read from the three files' text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitoringConfig {
    /// Alert name, `for`, longest range window.
    rules: Vec<(String, Duration, Duration)>,
    scrape_interval: Duration,
    scrape_timeout: Duration,
    evaluation_interval: Duration,
    group_wait: Duration,
}

/// Prometheus's defaults when the global section leaves a key out.
const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_EVALUATION_INTERVAL: Duration = Duration::from_secs(60);
/// Alertmanager's default `group_wait`.
const DEFAULT_GROUP_WAIT: Duration = Duration::from_secs(30);

impl MonitoringConfig {
    /// Reads the shipped files under the project root.
    pub fn load(root: &Path) -> Result<Self, BudgetError> {
        let read = |rel: &str| {
            std::fs::read_to_string(root.join(rel)).map_err(|e| BudgetError::Read {
                path: rel.to_owned(),
                reason: e.to_string(),
            })
        };
        Self::parse(
            &read("fixtures/monitoring/alerts.yml")?,
            &read("fixtures/config/prometheus/prometheus.yml")?,
            &read("fixtures/config/alertmanager/alertmanager.yml")?,
        )
    }

    /// Reads the rule file, Prometheus's configuration and Alertmanager's configuration.
    pub fn parse(rules: &str, prometheus: &str, alertmanager: &str) -> Result<Self, BudgetError> {
        let shape = |file, problem: String| BudgetError::Shape { file, problem };
        let mut parsed: Vec<(String, Duration, Duration)> = Vec::new();
        let mut current: Option<String> = None;
        for line in rules.lines() {
            let t = line.trim_start();
            if let Some(name) = t.strip_prefix("- alert:") {
                let name = name.trim().trim_matches('"').to_owned();
                if parsed.iter().any(|(n, _, _)| *n == name) {
                    return Err(shape(
                        "alerts.yml",
                        format!("alert `{name}` is defined twice"),
                    ));
                }
                parsed.push((name.clone(), Duration::ZERO, Duration::ZERO));
                current = Some(name);
            } else if t.starts_with("- record:") {
                current = None;
            } else if let (Some(v), Some(name)) = (t.strip_prefix("for:"), current.as_ref()) {
                let d = duration(v).ok_or_else(|| {
                    shape(
                        "alerts.yml",
                        format!("`for` of `{name}` is not a duration: {v}"),
                    )
                })?;
                if let Some(r) = parsed.iter_mut().find(|(n, _, _)| n == name) {
                    r.1 = d;
                }
            } else if let Some(name) = current.as_ref() {
                // Expression lines: range selectors `[1m]` (subquery steps `[5m:30s]` count
                // their range).
                let mut rest = t;
                while let Some(i) = rest.find('[') {
                    let after = &rest[i + 1..];
                    let Some(j) = after.find(']') else { break };
                    let range = after[..j].split(':').next().unwrap_or("");
                    if let Some(d) = duration(range)
                        && let Some(r) = parsed.iter_mut().find(|(n, _, _)| n == name)
                    {
                        r.2 = r.2.max(d);
                    }
                    rest = &after[j + 1..];
                }
            }
        }
        let global = |key: &str| -> Result<Option<Duration>, BudgetError> {
            let found: Vec<&str> = prometheus
                .lines()
                .filter_map(|l| l.trim_start().strip_prefix(key)?.strip_prefix(':'))
                .collect();
            match found.as_slice() {
                [] => Ok(None),
                [v] => duration(v).map(Some).ok_or_else(|| {
                    shape("prometheus.yml", format!("`{key}` is not a duration: {v}"))
                }),
                _ => Err(shape(
                    "prometheus.yml",
                    format!(
                        "`{key}` is set more than once (per job?); the budget reads only the global one"
                    ),
                )),
            }
        };
        let scrape_interval = global("scrape_interval")?.unwrap_or(DEFAULT_SCRAPE_INTERVAL);
        let scrape_timeout = global("scrape_timeout")?
            .unwrap_or(DEFAULT_SCRAPE_TIMEOUT)
            .min(scrape_interval);
        let evaluation_interval =
            global("evaluation_interval")?.unwrap_or(DEFAULT_EVALUATION_INTERVAL);
        let waits: Vec<&str> = alertmanager
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("group_wait:"))
            .collect();
        let group_wait = match waits.as_slice() {
            [] => DEFAULT_GROUP_WAIT,
            [v] => duration(v).ok_or_else(|| {
                shape(
                    "alertmanager.yml",
                    format!("`group_wait` is not a duration: {v}"),
                )
            })?,
            _ => {
                return Err(shape(
                    "alertmanager.yml",
                    "`group_wait` is set on several routes; the budget reads only the root's"
                        .into(),
                ));
            }
        };
        Ok(Self {
            rules: parsed,
            scrape_interval,
            scrape_timeout,
            evaluation_interval,
            group_wait,
        })
    }

    /// The budget of the alert named `alert`.
    pub fn budget(&self, alert: &str) -> Result<DetectionBudget, BudgetError> {
        let (_, pending, window) = self
            .rules
            .iter()
            .find(|(n, _, _)| n == alert)
            .ok_or_else(|| BudgetError::NoSuchAlert(alert.to_owned()))?;
        Ok(DetectionBudget {
            pending: *pending,
            window: *window,
            scrape_interval: self.scrape_interval,
            scrape_timeout: self.scrape_timeout,
            evaluation_interval: self.evaluation_interval,
            group_wait: self.group_wait,
        })
    }
}

/// The budget of every `time_to_detect` check of `plan` whose `alert` probe watches a firing
/// alert, by probe name, with its derivation; alerts without a rule are left out (their check has
/// no derived target).
pub fn budgets_for(
    plan: &crate::scenario::Plan,
    config: &MonitoringConfig,
) -> Vec<(String, String, DetectionBudget)> {
    use crate::scenario::{AlertState, Check, ProbeCheck};
    let mut out: Vec<(String, String, DetectionBudget)> = Vec::new();
    for c in &plan.checks {
        let Check::TimeToDetect { alert: probe, .. } = &c.check else {
            continue;
        };
        let Some(ProbeCheck::Alert {
            alert,
            state: AlertState::Firing,
        }) = plan.probe(probe).map(|p| &p.check)
        else {
            continue;
        };
        if out.iter().any(|(p, _, _)| p == probe) {
            continue;
        }
        if let Ok(b) = config.budget(alert) {
            out.push((probe.clone(), alert.clone(), b));
        }
    }
    out
}

/// A Prometheus duration (`5s`, `1m`, `1h30m`), optionally quoted, with a trailing comment.
fn duration(v: &str) -> Option<Duration> {
    let v = v
        .split('#')
        .next()?
        .trim()
        .trim_matches(|c| c == '"' || c == '\'');
    if v.is_empty() || v.contains(char::is_whitespace) {
        return None;
    }
    humantime::parse_duration(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"
groups:
  - name: a
    rules:
      - record: job:up:sum
        expr: sum(up)
      - alert: Fast
        expr: up == 0
        for: 10s
      - alert: "Slow"
        expr: |
          x > 1
        for: 1m   # a minute
      - alert: Rated
        expr: |
          rate(e[1m]) / rate(t[30s]) > 0.05
        for: 1m
      - alert: Instant
        expr: y > 1
"#;
    const PROM: &str = "global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n";
    const AM: &str = "route:\n  receiver: x\n  group_wait: 1s\n";

    #[test]
    fn budgets_add_up_term_by_term() {
        let c = MonitoringConfig::parse(RULES, PROM, AM).unwrap();
        let fast = c.budget("Fast").unwrap();
        assert_eq!(
            fast.scrape_timeout,
            Duration::from_secs(5),
            "capped at the interval"
        );
        assert_eq!(fast.total(), Duration::from_secs(31));
        assert_eq!(
            fast.derivation(),
            "for 10s + scrape 5s + timeout 5s + 2 × evaluation 5s + group_wait 1s = 31s"
        );
        assert_eq!(c.budget("Slow").unwrap().total(), Duration::from_secs(81));
        let rated = c.budget("Rated").unwrap();
        assert_eq!(rated.window, Duration::from_secs(60), "the longest range");
        assert_eq!(rated.total(), Duration::from_secs(141));
        assert_eq!(c.budget("Instant").unwrap().pending, Duration::ZERO);
        assert_eq!(
            c.budget("Nope").unwrap_err(),
            BudgetError::NoSuchAlert("Nope".into())
        );
    }

    #[test]
    fn defaults_and_ambiguities() {
        let c = MonitoringConfig::parse(RULES, "global: {}\n", "route:\n  receiver: x\n").unwrap();
        let b = c.budget("Fast").unwrap();
        assert_eq!(
            (
                b.scrape_interval,
                b.scrape_timeout,
                b.evaluation_interval,
                b.group_wait
            ),
            (
                Duration::from_secs(60),
                Duration::from_secs(10),
                Duration::from_secs(60),
                Duration::from_secs(30)
            )
        );
        let per_job = format!("{PROM}scrape_configs:\n  - job_name: a\n    scrape_interval: 1s\n");
        assert!(matches!(
            MonitoringConfig::parse(RULES, &per_job, AM),
            Err(BudgetError::Shape { .. })
        ));
        let twice = format!("{RULES}      - alert: Fast\n        expr: z\n");
        assert!(matches!(
            MonitoringConfig::parse(&twice, PROM, AM),
            Err(BudgetError::Shape { .. })
        ));
        assert!(matches!(
            MonitoringConfig::parse("      - alert: A\n        for: soon\n", PROM, AM),
            Err(BudgetError::Shape { .. })
        ));
    }

    #[test]
    fn shipped_rules_have_budgets() {
        let c = MonitoringConfig::load(&crate::images::project_root()).unwrap();
        for (alert, want) in [
            ("JanusGraphDown", 31),
            ("VaultSealed", 31),
            ("DiskNearlyFull", 81),
            ("CertificateExpiringSoon", 81),
            ("JanusGraphHighErrorRate", 141),
            ("JanusGraphHighLatency", 141),
        ] {
            assert_eq!(
                c.budget(alert).unwrap().total(),
                Duration::from_secs(want),
                "{alert}"
            );
        }
    }
}
