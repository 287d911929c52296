//! Recovery time ([`rto`]) and alert time to detect ([`time_to_detect`]).
//!
//! RTO runs from the instant the fault took effect to the first instant after which every
//! recovery probe passes continuously for the settle window. Its phases: *detect* (fault to the
//! first failing observation), *restore* (to the start of the passing run) and *validate* (the
//! settle window that confirms it).

use std::collections::HashMap;
use std::time::Duration;

use super::index::Index;
use super::verdict::{CheckError, CheckResult, Evidence, Figure, Target, Verdict};
use crate::history::ProbeStatus;

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// What the RTO sweep found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Recovery {
    pub fault_ns: u64,
    pub fault_seq: u64,
    /// First non-passing observation after the fault: `(t_ns, seq)`.
    pub first_failure: Option<(u64, u64)>,
    /// Start of the passing run that lasted the settle window: `(t_ns, seq)`.
    pub recovered: Option<(u64, u64)>,
    pub observations: usize,
}

pub(crate) fn sweep(
    ix: &Index,
    fault: &str,
    probes: &[String],
    settle: Duration,
) -> Result<Recovery, CheckError> {
    let f = ix.fault(fault).ok_or_else(|| {
        CheckError::MissingData(format!(
            "fault `{fault}` never took effect, so there is nothing to recover from"
        ))
    })?;
    if probes.is_empty() {
        return Err(CheckError::MissingData("no recovery probes".into()));
    }
    let settle_ns = u64::try_from(settle.as_nanos()).unwrap_or(u64::MAX);
    let mut latest: HashMap<&str, ProbeStatus> = HashMap::new();
    let mut rec = Recovery {
        fault_ns: f.start_ns,
        fault_seq: f.start_seq,
        first_failure: None,
        recovered: None,
        observations: 0,
    };
    let mut since: Option<(u64, u64)> = None;
    for p in ix
        .probes
        .iter()
        .filter(|p| p.seq > f.start_seq && probes.iter().any(|n| n == &p.name))
    {
        rec.observations += 1;
        latest.insert(&p.name, p.status);
        if p.status != ProbeStatus::Pass && rec.first_failure.is_none() {
            rec.first_failure = Some((p.t_ns, p.seq));
        }
        let all_pass = probes
            .iter()
            .all(|n| latest.get(n.as_str()) == Some(&ProbeStatus::Pass));
        if all_pass {
            let s = *since.get_or_insert((p.t_ns, p.seq));
            if p.t_ns.saturating_sub(s.0) >= settle_ns {
                rec.recovered = Some(s);
                break;
            }
        } else {
            since = None;
        }
    }
    if rec.observations == 0 {
        return Err(CheckError::MissingData(format!(
            "no probe observation after fault `{fault}`"
        )));
    }
    Ok(rec)
}

/// The RTO check.
pub fn rto(
    ix: &Index,
    name: &str,
    fault: &str,
    probes: &[String],
    settle: Duration,
    target: Option<Duration>,
) -> Result<CheckResult, CheckError> {
    let rec = sweep(ix, fault, probes, settle)?;
    let tgt = target.map(|t| Target::at_most(t.as_secs_f64()));
    let settle_s = settle.as_secs_f64();
    let mut r = CheckResult::new(name, "rto", Verdict::Unknown, String::new());
    r.evidence.push(Evidence {
        label: "fault took effect".into(),
        seq: vec![rec.fault_seq],
    });
    if let Some((_, seq)) = rec.first_failure {
        r.evidence.push(Evidence {
            label: "first failing probe".into(),
            seq: vec![seq],
        });
    }
    match rec.recovered {
        Some((t, seq)) => {
            let rto = secs(t.saturating_sub(rec.fault_ns));
            let detect = rec
                .first_failure
                .map(|(f, _)| secs(f.min(t).saturating_sub(rec.fault_ns)))
                .unwrap_or(0.0);
            let fig = Figure::new("rto_seconds", Some(rto), "seconds", tgt);
            r.verdict = fig.verdict();
            r.summary = match target {
                Some(tg) => format!(
                    "recovered {rto:.1} s after the fault (target {}), stable for {settle_s:.0} s",
                    humantime::format_duration(tg)
                ),
                None => format!(
                    "recovered {rto:.1} s after the fault, but there is no RTO target to judge it"
                ),
            };
            r.figures = vec![
                fig,
                Figure::new("rto_detect_seconds", Some(detect), "seconds", None),
                Figure::new("rto_restore_seconds", Some(rto - detect), "seconds", None),
                Figure::new("rto_validate_seconds", Some(settle_s), "seconds", None),
            ];
            r.evidence.push(Evidence {
                label: "start of the stable passing run".into(),
                seq: vec![seq],
            });
        }
        None => {
            let observed = secs(ix.end_ns.saturating_sub(rec.fault_ns));
            r.figures = vec![Figure::new("rto_seconds", None, "seconds", tgt)];
            match target {
                Some(tg) if observed > tg.as_secs_f64() + settle_s => {
                    r.verdict = Verdict::Fail;
                    r.summary = format!(
                        "not recovered: probes did not pass continuously for {settle_s:.0} s within {observed:.1} s of the fault (target {})",
                        humantime::format_duration(tg)
                    );
                }
                _ => {
                    r.summary = format!(
                        "recovery not confirmed: the run ended {observed:.1} s after the fault, before the probes passed for {settle_s:.0} s"
                    );
                }
            }
        }
    }
    Ok(r)
}

/// Time to detect: from the fault to the first passing observation of the alert probe (the
/// alert in the expected state) after it.
pub fn time_to_detect(
    ix: &Index,
    name: &str,
    fault: &str,
    alert: &str,
    target: Option<Duration>,
) -> Result<CheckResult, CheckError> {
    let f = ix.fault(fault).ok_or_else(|| {
        CheckError::MissingData(format!(
            "fault `{fault}` never took effect, so there is nothing to detect"
        ))
    })?;
    let tgt = target.map(|t| Target::at_most(t.as_secs_f64()));
    let hit = ix
        .probes
        .iter()
        .find(|p| p.seq > f.start_seq && p.name == alert && p.status == ProbeStatus::Pass);
    let observed_any = ix
        .probes
        .iter()
        .any(|p| p.seq > f.start_seq && p.name == alert);
    let mut r = CheckResult::new(name, "time_to_detect", Verdict::Unknown, String::new());
    r.evidence.push(Evidence {
        label: "fault took effect".into(),
        seq: vec![f.start_seq],
    });
    match hit {
        Some(p) => {
            let ttd = secs(p.t_ns.saturating_sub(f.start_ns));
            let fig = Figure::new("time_to_detect_seconds", Some(ttd), "seconds", tgt);
            r.verdict = fig.verdict();
            r.summary = format!("alert `{alert}` observed {ttd:.1} s after the fault");
            r.figures.push(fig);
            r.evidence.push(Evidence {
                label: "alert observed".into(),
                seq: vec![p.seq],
            });
        }
        None if !observed_any => {
            return Err(CheckError::MissingData(format!(
                "alert probe `{alert}` was never observed after the fault"
            )));
        }
        None => {
            let observed = secs(ix.end_ns.saturating_sub(f.start_ns));
            r.figures
                .push(Figure::new("time_to_detect_seconds", None, "seconds", tgt));
            match target {
                Some(tg) if observed > tg.as_secs_f64() => {
                    r.verdict = Verdict::Fail;
                    r.summary =
                        format!("alert `{alert}` not observed within {observed:.1} s of the fault");
                }
                _ => {
                    r.summary = format!(
                        "alert `{alert}` not observed before the run ended ({observed:.1} s)"
                    )
                }
            }
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, FaultId, Log};

    const S: u64 = 1_000_000_000;

    fn fault(step: &str) -> Event {
        Event::FaultStart {
            fault: FaultId(0),
            step: step.into(),
            description: "kill hcd".into(),
        }
    }
    fn probe(name: &str, pass: bool) -> Event {
        Event::Probe {
            name: name.into(),
            status: if pass {
                ProbeStatus::Pass
            } else {
                ProbeStatus::Fail
            },
            value: None,
            observed: None,
            detail: None,
        }
    }
    fn names(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }
    fn val(r: &CheckResult, n: &str) -> Option<f64> {
        r.figures.iter().find(|f| f.name == n).and_then(|f| f.value)
    }

    /// Fault at 10 s; probe fails from 12 s; passes from 40 s; stays passing.
    fn recovering() -> Index {
        let mut ev = vec![(0, probe("up", true)), (10 * S, fault("kill"))];
        for t in (12..40).step_by(2) {
            ev.push((t * S, probe("up", false)));
        }
        for t in (40..100).step_by(2) {
            ev.push((t * S, probe("up", true)));
        }
        Index::new(&Log::from_events(ev))
    }

    #[test]
    fn rto_with_phases() {
        let r = rto(
            &recovering(),
            "rto",
            "kill",
            &names(&["up"]),
            Duration::from_secs(30),
            Some(Duration::from_secs(4 * 3600)),
        )
        .unwrap();
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.summary);
        assert_eq!(val(&r, "rto_seconds"), Some(30.0));
        assert_eq!(val(&r, "rto_detect_seconds"), Some(2.0));
        assert_eq!(val(&r, "rto_restore_seconds"), Some(28.0));
        assert_eq!(val(&r, "rto_validate_seconds"), Some(30.0));
    }

    #[test]
    fn rto_over_target_fails() {
        let r = rto(
            &recovering(),
            "rto",
            "kill",
            &names(&["up"]),
            Duration::from_secs(30),
            Some(Duration::from_secs(20)),
        )
        .unwrap();
        assert_eq!(r.verdict, Verdict::Fail);
    }

    #[test]
    fn flapping_resets_the_settle_window() {
        let ev = vec![
            (0, fault("kill")),
            (S, probe("up", true)),
            (5 * S, probe("up", false)),
            (6 * S, probe("up", true)),
            (20 * S, probe("up", true)),
        ];
        let ix = Index::new(&Log::from_events(ev));
        let r = rto(
            &ix,
            "rto",
            "kill",
            &names(&["up"]),
            Duration::from_secs(10),
            Some(Duration::from_secs(60)),
        )
        .unwrap();
        assert_eq!(val(&r, "rto_seconds"), Some(6.0));
    }

    #[test]
    fn every_probe_must_pass() {
        let ev = vec![
            (0, fault("kill")),
            (S, probe("a", true)),
            (S, probe("b", false)),
            (30 * S, probe("a", true)),
            (31 * S, probe("b", true)),
            (70 * S, probe("a", true)),
            (71 * S, probe("b", true)),
        ];
        let ix = Index::new(&Log::from_events(ev));
        let r = rto(
            &ix,
            "rto",
            "kill",
            &names(&["a", "b"]),
            Duration::from_secs(30),
            Some(Duration::from_secs(60)),
        )
        .unwrap();
        assert_eq!(val(&r, "rto_seconds"), Some(31.0));
    }

    #[test]
    fn not_recovered_is_unknown_until_past_the_target() {
        let ev = vec![
            (0, fault("kill")),
            (S, probe("up", false)),
            (10 * S, probe("up", false)),
        ];
        let ix = Index::new(&Log::from_events(ev));
        let r = rto(
            &ix,
            "rto",
            "kill",
            &names(&["up"]),
            Duration::from_secs(5),
            Some(Duration::from_secs(60)),
        )
        .unwrap();
        assert_eq!(r.verdict, Verdict::Unknown);
        let r = rto(
            &ix,
            "rto",
            "kill",
            &names(&["up"]),
            Duration::from_secs(1),
            Some(Duration::from_secs(2)),
        )
        .unwrap();
        assert_eq!(r.verdict, Verdict::Fail);
    }

    #[test]
    fn missing_fault_or_observations_is_an_error() {
        let ix = Index::new(&Log::from_events(vec![(0, probe("up", true))]));
        assert!(
            rto(
                &ix,
                "rto",
                "kill",
                &names(&["up"]),
                Duration::from_secs(1),
                None
            )
            .is_err()
        );
        let ix = Index::new(&Log::from_events(vec![(0, fault("kill"))]));
        assert!(
            rto(
                &ix,
                "rto",
                "kill",
                &names(&["up"]),
                Duration::from_secs(1),
                None
            )
            .is_err()
        );
    }

    #[test]
    fn no_target_is_unknown_even_when_recovered() {
        let r = rto(
            &recovering(),
            "rto",
            "kill",
            &names(&["up"]),
            Duration::from_secs(30),
            None,
        )
        .unwrap();
        assert_eq!(r.verdict, Verdict::Unknown);
    }

    #[test]
    fn ttd() {
        let ev = vec![
            (0, probe("alert", false)),
            (10 * S, fault("kill")),
            (20 * S, probe("alert", false)),
            (55 * S, probe("alert", true)),
        ];
        let ix = Index::new(&Log::from_events(ev));
        let r = time_to_detect(&ix, "ttd", "kill", "alert", Some(Duration::from_secs(60))).unwrap();
        assert_eq!(
            (r.verdict, val(&r, "time_to_detect_seconds")),
            (Verdict::Pass, Some(45.0))
        );
        let r = time_to_detect(&ix, "ttd", "kill", "alert", Some(Duration::from_secs(30))).unwrap();
        assert_eq!(r.verdict, Verdict::Fail);
        let ix = Index::new(&Log::from_events(vec![
            (0, fault("kill")),
            (5 * S, probe("alert", false)),
        ]));
        let r = time_to_detect(&ix, "ttd", "kill", "alert", Some(Duration::from_secs(60))).unwrap();
        assert_eq!(
            r.verdict,
            Verdict::Unknown,
            "the run ended before the target elapsed"
        );
    }
}
