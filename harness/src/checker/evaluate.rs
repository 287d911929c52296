//! [`evaluate`]: runs every check of a plan over a history and merges the verdicts.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::index::Index;
use super::latency::{LatencyLimits, availability, latency};
use super::ledger::{LedgerLimits, ledger, rpo};
use super::rto::{rto, time_to_detect};
use super::steps::{method_steps, probe_steps, rollback_steps, steady_state};
use super::timeline::{Timeline, timeline};
use super::verdict::{CheckError, CheckResult, Figure, Target, Thresholds, Verdict};
use crate::history::Log;
use crate::scenario::{Action, Check, Plan};

/// The verdicts of one scenario run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The worst of the checks.
    pub verdict: Verdict,
    /// Declared checks in file order, then `method`, `rollback` (and `run` if it errored).
    pub checks: Vec<CheckResult>,
    /// Every figure with a target, by name (the first check that reports it wins).
    pub figures: Vec<Figure>,
    /// The charted series.
    pub timeline: Timeline,
}

/// Judges a run. `run_error` is the runner's error, if the run could not complete (the stack
/// did not start, it was interrupted): it adds an `unknown` check, so such a run never passes.
pub fn evaluate(plan: &Plan, log: &Log, th: &Thresholds, run_error: Option<&str>) -> Evaluation {
    let ix = Index::new(log);
    let mut checks = Vec::new();
    for c in &plan.checks {
        let kind = c.check.kind().as_str();
        let res = catch_unwind(AssertUnwindSafe(|| {
            run_check(plan, &ix, &c.name, &c.check, th)
        }))
        .unwrap_or_else(|_| Err(CheckError::Internal("the checker panicked".into())));
        checks.push(res.unwrap_or_else(|e| {
            let mut r = CheckResult::unknown(&c.name, kind, &e);
            r.figures = expected_figures(&c.check, th);
            r
        }));
    }
    let steps: Vec<(String, &'static str)> = plan
        .steps
        .iter()
        .map(|s| (s.name.clone(), s.action.label()))
        .collect();
    checks.push(method_steps(&ix, &steps));
    let rollbacks: Vec<String> = plan.rollbacks.iter().map(|s| s.name.clone()).collect();
    checks.push(rollback_steps(&ix, &rollbacks));
    if !ix.measures.is_empty() {
        checks.push(measured(&ix));
    }
    if let Some(e) = run_error {
        checks.push(CheckResult::new(
            "run",
            "run",
            Verdict::Unknown,
            format!("the run did not complete: {e}"),
        ));
    }
    if ix.orphan_completions > 0 {
        checks.push(CheckResult::new(
            "history",
            "history",
            Verdict::Unknown,
            format!(
                "{} completions have no matching invocation: the history is inconsistent",
                ix.orphan_completions
            ),
        ));
    }
    let mut figures: Vec<Figure> = Vec::new();
    for f in checks.iter().flat_map(|c| &c.figures) {
        if !figures.iter().any(|g| g.name == f.name) {
            figures.push(f.clone());
        }
    }
    Evaluation {
        verdict: Verdict::worst(checks.iter().map(|c| c.verdict)),
        checks,
        figures,
        timeline: timeline(&ix),
    }
}

/// The figures procedures measured about themselves (e.g. a restore's throughput beside a plain
/// copy of the same files): pass when every one with a target meets it.
fn measured(ix: &Index) -> CheckResult {
    let mut r = CheckResult::new("measured", "measured", Verdict::Pass, String::new());
    let mut missed = Vec::new();
    for m in &ix.measures {
        let target = match (m.at_least, m.at_most) {
            (Some(v), _) => Some(Target::at_least(v)),
            (None, Some(v)) => Some(Target::at_most(v)),
            (None, None) => None,
        };
        let f = Figure::new(&m.name, Some(m.value), &m.unit, target);
        if f.target.is_some() && f.verdict() == Verdict::Fail {
            missed.push(format!(
                "{} {:.3} {} (step `{}`)",
                m.name, m.value, m.unit, m.step
            ));
        }
        r.figures.push(f);
    }
    if missed.is_empty() {
        r.summary = format!(
            "{} figure(s) measured by procedures; every target met",
            r.figures.len()
        );
    } else {
        r.verdict = Verdict::Fail;
        r.summary = format!("target missed: {}", missed.join(", "));
    }
    r
}

/// The figures a check reports, unmeasured, so a check that could not run still shows its
/// targets.
fn expected_figures(check: &Check, th: &Thresholds) -> Vec<Figure> {
    let secs = |d: Option<Duration>| d.map(|d| Target::at_most(d.as_secs_f64()));
    let ms = |d: Option<Duration>| d.map(|d| Target::at_most(d.as_secs_f64() * 1000.0));
    match check {
        Check::Ledger { max_lost, .. } => {
            vec![Figure::new(
                "lost_acknowledged_writes",
                None,
                "count",
                Some(Target::at_most(*max_lost as f64)),
            )]
        }
        Check::Rto { .. } => vec![Figure::new("rto_seconds", None, "seconds", secs(th.rto))],
        Check::Rpo { .. } => vec![Figure::new("rpo_seconds", None, "seconds", secs(th.rpo))],
        Check::Latency { .. } => vec![
            Figure::new("p50_latency_ms", None, "ms", ms(th.p50_latency)),
            Figure::new("p95_latency_ms", None, "ms", ms(th.p95_latency)),
            Figure::new("p99_latency_ms", None, "ms", ms(th.p99_latency)),
            Figure::new(
                "error_rate",
                None,
                "ratio",
                th.error_rate.map(Target::at_most),
            ),
        ],
        Check::Availability { .. } => vec![Figure::new(
            "availability",
            None,
            "ratio",
            th.availability.map(Target::at_least),
        )],
        Check::TimeToDetect { alert, .. } => vec![Figure::new(
            "time_to_detect_seconds",
            None,
            "seconds",
            secs(
                th.time_to_detect
                    .or_else(|| th.detection_budgets.get(alert).copied()),
            ),
        )],
        Check::SteadyState | Check::Probe { .. } => Vec::new(),
    }
}

fn run_check(
    plan: &Plan,
    ix: &Index,
    name: &str,
    check: &Check,
    th: &Thresholds,
) -> Result<CheckResult, CheckError> {
    match check {
        Check::Ledger {
            workload,
            max_lost,
            max_duplicated,
            max_resurrected,
        } => ledger(
            ix,
            name,
            workload,
            LedgerLimits {
                max_lost: *max_lost,
                max_duplicated: *max_duplicated,
                max_resurrected: *max_resurrected,
            },
        ),
        Check::Rto {
            fault,
            probes,
            settle,
        } => rto(ix, name, fault, probes, *settle, th.rto),
        Check::Rpo { workload } => rpo(ix, name, workload, th.rpo),
        Check::Latency { workload, from } => {
            let interval = plan
                .workload(workload)
                .filter(|w| w.rate > 0.0)
                .map(|w| Duration::from_secs_f64(f64::from(w.concurrency) / w.rate));
            let from_ns = match from {
                Some(step) => Some(
                    ix.steps
                        .iter()
                        .find(|s| &s.name == step && !s.rollback)
                        .map(|s| s.start_ns)
                        .ok_or_else(|| {
                            CheckError::MissingData(format!(
                                "step `{step}`, where the latency window starts, never ran"
                            ))
                        })?,
                ),
                None => None,
            };
            latency(
                ix,
                name,
                workload,
                LatencyLimits {
                    p50: th.p50_latency,
                    p95: th.p95_latency,
                    p99: th.p99_latency,
                    error_rate: th.error_rate,
                    expected_interval: interval,
                    from_ns,
                },
            )
            .map(|mut r| {
                if let Some(step) = from {
                    r.summary = format!("from step `{step}` on: {}", r.summary);
                }
                r
            })
        }
        Check::Availability { workload } => availability(ix, name, workload, th.availability),
        Check::TimeToDetect { fault, alert } => time_to_detect(
            ix,
            name,
            fault,
            alert,
            th.time_to_detect
                .or_else(|| th.detection_budgets.get(alert).copied()),
        ),
        Check::SteadyState => steady_state(ix, name, &plan.steady_state.probes),
        Check::Probe { probe } => {
            let steps: Vec<String> = plan
                .steps
                .iter()
                .filter(|s| matches!(&s.action, Action::Probe(p) if p == probe))
                .map(|s| s.name.clone())
                .collect();
            probe_steps(ix, name, probe, &steps)
        }
    }
}

#[cfg(test)]
mod measured_tests {
    use super::*;
    use crate::history::{Event, History};
    use crate::scenario::{LoadOptions, load_str};

    fn plan() -> Plan {
        load_str(
            "m.toml",
            r#"
[scenario]
name = "m"
description = "A restore measures itself."
[[step]]
name = "restore"
recover = { procedure = "restart", component = "hcd" }
"#,
            &LoadOptions::default(),
        )
        .unwrap()
    }

    fn run_with(ratio: f64) -> Evaluation {
        let h = History::new("r", "m");
        h.append(Event::StepStart {
            step: "restore".into(),
            action: "recover".into(),
            rollback: false,
        });
        for (name, value, at_least) in [
            ("restore_files_vs_plain_copy", ratio, Some(0.5)),
            ("restore_bytes", 1000.0, None),
        ] {
            h.append(Event::Measure {
                step: "restore".into(),
                name: name.into(),
                value,
                unit: "ratio".into(),
                at_least,
                at_most: None,
            });
        }
        h.append(Event::StepEnd {
            step: "restore".into(),
            ok: true,
            detail: None,
        });
        evaluate(&plan(), &h.snapshot(), &Thresholds::default(), None)
    }

    #[test]
    fn a_procedure_figure_is_reported_and_judged_against_its_own_target() {
        let ok = run_with(0.8);
        let c = ok.checks.iter().find(|c| c.name == "measured").unwrap();
        assert_eq!(c.verdict, Verdict::Pass, "{}", c.summary);
        assert_eq!(c.figures.len(), 2);
        assert!(
            ok.figures
                .iter()
                .any(|f| f.name == "restore_files_vs_plain_copy")
        );

        let slow = run_with(0.2);
        let c = slow.checks.iter().find(|c| c.name == "measured").unwrap();
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.summary.contains("restore_files_vs_plain_copy"),
            "{}",
            c.summary
        );
        assert_eq!(slow.verdict, Verdict::Fail);
    }
}
