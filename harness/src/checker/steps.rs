//! Checks over the runner's own record: the steady state after the method
//! ([`steady_state`]), one-off probe steps ([`probe_steps`]), and the implicit `method` and
//! `rollback` checks that every scenario gets.

use super::index::Index;
use super::verdict::{CheckError, CheckResult, Evidence, Verdict};
use crate::history::ProbeStatus;

/// The phase mark after which the steady state is checked again.
pub const PHASE_AFTER: &str = "steady_state_after";

/// [`PHASE_AFTER`], for the runner.
pub fn steps_phase_after() -> &'static str {
    PHASE_AFTER
}

fn status_verdict(s: ProbeStatus) -> Verdict {
    match s {
        ProbeStatus::Pass => Verdict::Pass,
        ProbeStatus::Fail => Verdict::Fail,
        ProbeStatus::Unknown => Verdict::Unknown,
    }
}

/// The steady-state hypothesis holds after the method: the last observation of each probe after
/// the `steady_state_after` mark passed.
pub fn steady_state(ix: &Index, name: &str, probes: &[String]) -> Result<CheckResult, CheckError> {
    let (_, mark) = ix.phase(PHASE_AFTER).ok_or_else(|| {
        CheckError::MissingData(
            "the run never reached the steady-state check after the method".into(),
        )
    })?;
    let mut verdicts = Vec::new();
    let mut seqs = Vec::new();
    let mut bad = Vec::new();
    for p in probes {
        let last = ix
            .probes
            .iter()
            .rev()
            .find(|o| o.seq > mark && &o.name == p);
        let Some(o) = last else {
            return Err(CheckError::MissingData(format!(
                "probe `{p}` was not observed after the method"
            )));
        };
        let v = status_verdict(o.status);
        if v != Verdict::Pass {
            bad.push(format!("`{p}` {}", v));
        }
        verdicts.push(v);
        seqs.push(o.seq);
    }
    let verdict = Verdict::worst(verdicts);
    let summary = if bad.is_empty() {
        format!(
            "all {} steady-state probes pass after the method",
            probes.len()
        )
    } else {
        format!(
            "steady state does not hold after the method: {}",
            bad.join(", ")
        )
    };
    let mut r = CheckResult::new(name, "steady_state", verdict, summary);
    r.evidence.push(Evidence {
        label: "last observation of each probe".into(),
        seq: seqs,
    });
    Ok(r)
}

/// Every observation of `probe` made by the named `probe` steps passed.
pub fn probe_steps(
    ix: &Index,
    name: &str,
    probe: &str,
    steps: &[String],
) -> Result<CheckResult, CheckError> {
    let mut verdicts = Vec::new();
    let mut seqs = Vec::new();
    for s in ix.steps.iter().filter(|s| steps.contains(&s.name)) {
        let end = s.end.as_ref().map(|e| e.3).unwrap_or(u64::MAX);
        for o in ix
            .probes
            .iter()
            .filter(|o| o.name == probe && o.seq > s.start_seq && o.seq < end)
        {
            verdicts.push(status_verdict(o.status));
            seqs.push(o.seq);
        }
    }
    if verdicts.is_empty() {
        return Err(CheckError::MissingData(format!(
            "no `probe` step observed `{probe}`"
        )));
    }
    let verdict = Verdict::worst(verdicts.iter().copied());
    let passed = verdicts.iter().filter(|v| **v == Verdict::Pass).count();
    let mut r = CheckResult::new(
        name,
        "probe",
        verdict,
        format!(
            "{passed} of {} observations of `{probe}` passed",
            verdicts.len()
        ),
    );
    r.evidence.push(Evidence {
        label: format!("observations of `{probe}`"),
        seq: seqs,
    });
    Ok(r)
}

/// The implicit `method` check: every step ran and succeeded. A fault that could not be
/// injected or healed makes the run `unknown` (the experiment did not happen as written); a
/// recovery procedure, wait or probe that failed makes it `fail`.
pub fn method_steps(ix: &Index, steps: &[(String, &'static str)]) -> CheckResult {
    let mut verdicts = Vec::new();
    let mut notes = Vec::new();
    let mut seqs = Vec::new();
    let mut stopped = false;
    for (name, action) in steps {
        match ix.steps.iter().find(|s| &s.name == name && !s.rollback) {
            Some(s) => match &s.end {
                Some((_, true, _, _)) => verdicts.push(Verdict::Pass),
                Some((_, false, detail, seq)) => {
                    let v = if matches!(*action, "fault" | "heal") {
                        Verdict::Unknown
                    } else {
                        Verdict::Fail
                    };
                    verdicts.push(v);
                    seqs.push(*seq);
                    notes.push(format!(
                        "step `{name}` ({action}) failed: {}",
                        detail.as_deref().unwrap_or("no detail")
                    ));
                    stopped = true;
                }
                None => {
                    verdicts.push(Verdict::Unknown);
                    seqs.push(s.start_seq);
                    notes.push(format!("step `{name}` started but never ended"));
                    stopped = true;
                }
            },
            None if stopped => {}
            None => {
                verdicts.push(Verdict::Unknown);
                notes.push(format!("step `{name}` never ran"));
                stopped = true;
            }
        }
    }
    let verdict = if steps.is_empty() {
        Verdict::Pass
    } else {
        Verdict::worst(verdicts)
    };
    let summary = if notes.is_empty() {
        format!("all {} steps succeeded", steps.len())
    } else {
        notes.join("; ")
    };
    let mut r = CheckResult::new("method", "method", verdict, summary);
    if !seqs.is_empty() {
        r.evidence.push(Evidence {
            label: "failed steps".into(),
            seq: seqs,
        });
    }
    r
}

/// The implicit `rollback` check: every rollback step (and every implicit heal) ran and
/// succeeded.
pub fn rollback_steps(ix: &Index, declared: &[String]) -> CheckResult {
    let mut verdicts = Vec::new();
    let mut notes = Vec::new();
    let mut seqs = Vec::new();
    for s in ix.steps.iter().filter(|s| s.rollback) {
        match &s.end {
            Some((_, true, _, _)) => verdicts.push(Verdict::Pass),
            Some((_, false, d, seq)) => {
                verdicts.push(Verdict::Fail);
                seqs.push(*seq);
                notes.push(format!(
                    "rollback `{}` failed: {}",
                    s.name,
                    d.as_deref().unwrap_or("no detail")
                ));
            }
            None => {
                verdicts.push(Verdict::Unknown);
                notes.push(format!("rollback `{}` never ended", s.name));
            }
        }
    }
    for d in declared {
        if !ix.steps.iter().any(|s| s.rollback && &s.name == d) {
            verdicts.push(Verdict::Unknown);
            notes.push(format!("rollback `{d}` never ran"));
        }
    }
    let n = verdicts.len();
    let verdict = if n == 0 {
        Verdict::Pass
    } else {
        Verdict::worst(verdicts)
    };
    let summary = if notes.is_empty() {
        format!("{n} rollback steps succeeded")
    } else {
        notes.join("; ")
    };
    let mut r = CheckResult::new("rollback", "rollback", verdict, summary);
    if !seqs.is_empty() {
        r.evidence.push(Evidence {
            label: "failed rollback steps".into(),
            seq: seqs,
        });
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, Log};

    fn start(step: &str, action: &str, rollback: bool) -> Event {
        Event::StepStart {
            step: step.into(),
            action: action.into(),
            rollback,
        }
    }
    fn end(step: &str, ok: bool) -> Event {
        Event::StepEnd {
            step: step.into(),
            ok,
            detail: (!ok).then(|| "boom".into()),
        }
    }
    fn probe(name: &str, s: ProbeStatus) -> Event {
        Event::Probe {
            name: name.into(),
            status: s,
            value: None,
            observed: None,
            detail: None,
        }
    }
    fn ix(ev: Vec<Event>) -> Index {
        Index::new(&Log::from_events(
            ev.into_iter().enumerate().map(|(i, e)| (i as u64, e)),
        ))
    }

    #[test]
    fn method_outcomes() {
        let steps = vec![
            ("kill".to_string(), "fault"),
            ("restore".to_string(), "recover"),
            ("wait".to_string(), "wait_until"),
        ];
        let ok = ix(vec![
            start("kill", "fault", false),
            end("kill", true),
            start("restore", "recover", false),
            end("restore", true),
            start("wait", "wait_until", false),
            end("wait", true),
        ]);
        assert_eq!(method_steps(&ok, &steps).verdict, Verdict::Pass);
        let fault_failed = ix(vec![start("kill", "fault", false), end("kill", false)]);
        let r = method_steps(&fault_failed, &steps);
        assert_eq!(r.verdict, Verdict::Unknown, "{}", r.summary);
        let restore_failed = ix(vec![
            start("kill", "fault", false),
            end("kill", true),
            start("restore", "recover", false),
            end("restore", false),
        ]);
        assert_eq!(method_steps(&restore_failed, &steps).verdict, Verdict::Fail);
        assert_eq!(
            method_steps(&ix(vec![]), &steps).verdict,
            Verdict::Unknown,
            "nothing ran"
        );
    }

    #[test]
    fn rollback_outcomes() {
        let r = rollback_steps(
            &ix(vec![start("heal", "heal", true), end("heal", true)]),
            &["heal".into()],
        );
        assert_eq!(r.verdict, Verdict::Pass);
        let r = rollback_steps(
            &ix(vec![start("heal", "heal", true), end("heal", false)]),
            &["heal".into()],
        );
        assert_eq!(r.verdict, Verdict::Fail);
        let r = rollback_steps(&ix(vec![]), &["heal".into()]);
        assert_eq!(r.verdict, Verdict::Unknown);
    }

    #[test]
    fn steady_state_after() {
        let names = vec!["up".to_string()];
        let h = ix(vec![
            probe("up", ProbeStatus::Fail),
            Event::Phase {
                name: PHASE_AFTER.into(),
            },
            probe("up", ProbeStatus::Fail),
            probe("up", ProbeStatus::Pass),
        ]);
        assert_eq!(
            steady_state(&h, "ss", &names).unwrap().verdict,
            Verdict::Pass
        );
        let h = ix(vec![
            Event::Phase {
                name: PHASE_AFTER.into(),
            },
            probe("up", ProbeStatus::Unknown),
        ]);
        assert_eq!(
            steady_state(&h, "ss", &names).unwrap().verdict,
            Verdict::Unknown
        );
        let h = ix(vec![probe("up", ProbeStatus::Pass)]);
        assert!(steady_state(&h, "ss", &names).is_err());
    }

    #[test]
    fn probe_step_observations() {
        let h = ix(vec![
            probe("digest", ProbeStatus::Fail), // outside any probe step: ignored
            start("check-digest", "probe", false),
            probe("digest", ProbeStatus::Pass),
            end("check-digest", true),
        ]);
        let steps = vec!["check-digest".to_string()];
        assert_eq!(
            probe_steps(&h, "p", "digest", &steps).unwrap().verdict,
            Verdict::Pass
        );
        assert!(probe_steps(&h, "p", "other", &steps).is_err());
    }
}
