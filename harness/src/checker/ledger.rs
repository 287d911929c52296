//! The acknowledged-write ledger ([`ledger`]) and the recovery point ([`rpo`]), both from a
//! sequence writer's operations and the values read back after recovery.

use std::time::Duration;

use super::index::Index;
use super::verdict::{CheckError, CheckResult, Evidence, Figure, Target, Verdict};
use crate::history::{OpKind, Outcome};

/// How many lost, duplicated or resurrected writes a `ledger` check tolerates.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LedgerLimits {
    pub max_lost: u64,
    pub max_duplicated: u64,
    pub max_resurrected: u64,
}

const EVIDENCE_MAX: usize = 20;

/// The ledger of one workload: every write classified against the read-back.
#[derive(Debug, Default)]
struct Ledger {
    acknowledged: u64,
    failed: u64,
    indeterminate: u64,
    indeterminate_present: u64,
    /// `(invoke_ns, complete_ns, invoke_seq)` of lost acknowledged writes.
    lost: Vec<(u64, u64, u64)>,
    /// Values read back more than once: `(value, times)`.
    duplicated: Vec<(u64, u32)>,
    /// Values read back that were failed (their invoke seq) or never sent (None).
    resurrected: Vec<(u64, Option<u64>)>,
    readback_seq: u64,
}

/// Sorted `(value, count)` pairs with lookups by binary search: a million values take tens of
/// milliseconds, and sparse sequence numbers cost no more than dense ones.
struct Counts(Vec<(u64, u32)>);

impl Counts {
    fn new(mut values: Vec<u64>) -> Self {
        values.sort_unstable();
        let mut out: Vec<(u64, u32)> = Vec::with_capacity(values.len());
        for v in values {
            match out.last_mut() {
                Some((last, n)) if *last == v => *n += 1,
                _ => out.push((v, 1)),
            }
        }
        Self(out)
    }
    fn contains(&self, v: u64) -> bool {
        self.0.binary_search_by_key(&v, |x| x.0).is_ok()
    }
}

fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::Fail => 0,
        Outcome::Indeterminate => 1,
        Outcome::Ok => 2,
    }
}

fn build(ix: &Index, workload: &str) -> Result<Ledger, CheckError> {
    let (values, readback_seq) = ix.readbacks.get(workload).ok_or_else(|| {
        CheckError::MissingData(format!(
            "workload `{workload}` was never read back, so no write can be verified"
        ))
    })?;
    let present = Counts::new(values.clone());
    let mut l = Ledger {
        readback_seq: *readback_seq,
        ..Ledger::default()
    };
    // Every written value with its best outcome: acknowledged beats indeterminate beats failed.
    let mut written: Vec<(u64, u8, u64)> = Vec::new();
    if let Some(w) = ix.workload(workload) {
        for op in ix.ops_of(w).filter(|o| o.kind == OpKind::Write) {
            let Some(v) = op.value else { continue };
            let outcome = op.outcome();
            written.push((v, rank(outcome), op.invoke_seq));
            match outcome {
                Outcome::Ok => {
                    l.acknowledged += 1;
                    if !present.contains(v) {
                        let done = op.complete.map(|c| c.0).unwrap_or(op.invoke_ns);
                        l.lost.push((op.invoke_ns, done, op.invoke_seq));
                    }
                }
                Outcome::Fail => l.failed += 1,
                Outcome::Indeterminate => {
                    l.indeterminate += 1;
                    if present.contains(v) {
                        l.indeterminate_present += 1;
                    }
                }
            }
        }
    }
    written.sort_unstable();
    let mut best: Vec<(u64, u8, u64)> = Vec::with_capacity(written.len());
    for w in written {
        match best.last_mut() {
            Some(b) if b.0 == w.0 => {
                if w.1 > b.1 {
                    *b = w;
                }
            }
            _ => best.push(w),
        }
    }
    for &(v, n) in &present.0 {
        if n > 1 {
            l.duplicated.push((v, n));
        }
        match best.binary_search_by_key(&v, |b| b.0) {
            Ok(i) if best[i].1 == rank(Outcome::Fail) => l.resurrected.push((v, Some(best[i].2))),
            Ok(_) => {}
            Err(_) => l.resurrected.push((v, None)),
        }
    }
    Ok(l)
}

/// Acknowledged writes must all be read back, once; failed or never-sent ones must not appear.
/// Indeterminate writes are counted apart and may go either way.
pub fn ledger(
    ix: &Index,
    name: &str,
    workload: &str,
    limits: LedgerLimits,
) -> Result<CheckResult, CheckError> {
    let l = build(ix, workload)?;
    if l.acknowledged == 0 {
        return Err(CheckError::MissingData(format!(
            "workload `{workload}` has no acknowledged write, so the ledger proves nothing"
        )));
    }
    let lost = l.lost.len() as u64;
    let dup = l.duplicated.len() as u64;
    let res = l.resurrected.len() as u64;
    let figures = vec![
        Figure::new(
            "lost_acknowledged_writes",
            Some(lost as f64),
            "count",
            Some(Target::at_most(limits.max_lost as f64)),
        ),
        Figure::new(
            "duplicated_writes",
            Some(dup as f64),
            "count",
            Some(Target::at_most(limits.max_duplicated as f64)),
        ),
        Figure::new(
            "resurrected_writes",
            Some(res as f64),
            "count",
            Some(Target::at_most(limits.max_resurrected as f64)),
        ),
        Figure::new(
            "acknowledged_writes",
            Some(l.acknowledged as f64),
            "count",
            None,
        ),
        Figure::new(
            "indeterminate_writes",
            Some(l.indeterminate as f64),
            "count",
            None,
        ),
    ];
    let verdict = Verdict::worst(figures.iter().take(3).map(Figure::verdict));
    let summary = format!(
        "{} acknowledged, {lost} lost, {dup} duplicated, {res} resurrected; {} indeterminate ({} present after recovery), {} failed",
        l.acknowledged, l.indeterminate, l.indeterminate_present, l.failed
    );
    let mut r = CheckResult::new(name, "ledger", verdict, summary);
    r.figures = figures;
    r.evidence.push(Evidence {
        label: "read-back".into(),
        seq: vec![l.readback_seq],
    });
    if lost > 0 {
        r.evidence.push(Evidence {
            label: format!("lost acknowledged writes (first {EVIDENCE_MAX})"),
            seq: l.lost.iter().take(EVIDENCE_MAX).map(|x| x.2).collect(),
        });
    }
    let failed_seqs: Vec<u64> = l
        .resurrected
        .iter()
        .filter_map(|x| x.1)
        .take(EVIDENCE_MAX)
        .collect();
    if !failed_seqs.is_empty() {
        r.evidence.push(Evidence {
            label: "failed writes that reappeared".into(),
            seq: failed_seqs,
        });
    }
    Ok(r)
}

/// RPO: the time span of the lost acknowledged writes, from the first one's invocation to the
/// last one's acknowledgement; 0 when none was lost.
pub fn rpo(
    ix: &Index,
    name: &str,
    workload: &str,
    target: Option<Duration>,
) -> Result<CheckResult, CheckError> {
    let l = build(ix, workload)?;
    if l.acknowledged == 0 {
        return Err(CheckError::MissingData(format!(
            "workload `{workload}` has no acknowledged write"
        )));
    }
    let span_ns = match (
        l.lost.iter().map(|x| x.0).min(),
        l.lost.iter().map(|x| x.1).max(),
    ) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => 0,
    };
    let secs = span_ns as f64 / 1e9;
    let target = target.ok_or(CheckError::NoTarget("rpo"))?;
    let fig = Figure::new(
        "rpo_seconds",
        Some(secs),
        "seconds",
        Some(Target::at_most(target.as_secs_f64())),
    );
    let mut r = CheckResult::new(
        name,
        "rpo",
        fig.verdict(),
        format!(
            "{} lost acknowledged writes spanning {secs:.3} s (target {})",
            l.lost.len(),
            humantime::format_duration(target)
        ),
    );
    r.figures.push(fig);
    r.evidence.push(Evidence {
        label: "read-back".into(),
        seq: vec![l.readback_seq],
    });
    if !l.lost.is_empty() {
        r.evidence.push(Evidence {
            label: "first and last lost writes".into(),
            seq: vec![
                l.lost.iter().min().expect("non-empty").2,
                l.lost.iter().max_by_key(|x| x.1).expect("non-empty").2,
            ],
        });
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, Log, OpId};

    const S: u64 = 1_000_000_000;

    fn inv(op: u64, v: u64) -> Event {
        Event::Invoke {
            op: OpId(op),
            workload: "w".into(),
            process: 0,
            kind: OpKind::Write,
            key: None,
            value: Some(v),
            intended_ns: None,
        }
    }
    fn done(op: u64, o: Outcome) -> Event {
        Event::Complete {
            op: OpId(op),
            outcome: o,
            detail: None,
        }
    }
    fn rb(values: &[u64]) -> Event {
        Event::ReadBack {
            workload: "w".into(),
            values: values.to_vec(),
        }
    }
    fn ix(events: Vec<(u64, Event)>) -> Index {
        Index::new(&Log::from_events(events))
    }
    fn fig(r: &CheckResult, name: &str) -> f64 {
        r.figures
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.value)
            .unwrap()
    }

    #[test]
    fn all_acknowledged_present_passes() {
        let h = ix(vec![
            (0, inv(0, 1)),
            (1, done(0, Outcome::Ok)),
            (2, inv(1, 2)),
            (3, done(1, Outcome::Ok)),
            (4, rb(&[1, 2])),
        ]);
        let r = ledger(&h, "ledger", "w", LedgerLimits::default()).unwrap();
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.summary);
        assert_eq!(fig(&r, "acknowledged_writes"), 2.0);
    }

    #[test]
    fn lost_duplicated_resurrected_indeterminate() {
        let h = ix(vec![
            (0, inv(0, 1)),
            (1, done(0, Outcome::Ok)),
            (2, inv(1, 2)),
            (3, done(1, Outcome::Ok)), // lost
            (4, inv(2, 3)),
            (5, done(2, Outcome::Fail)), // resurrected
            (6, inv(3, 4)),              // indeterminate, never completes, present
            (7, inv(4, 5)),
            (8, done(4, Outcome::Indeterminate)), // indeterminate, absent: fine
            (9, rb(&[1, 1, 3, 4, 99])),           // 1 duplicated, 99 never sent
        ]);
        let r = ledger(&h, "ledger", "w", LedgerLimits::default()).unwrap();
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(fig(&r, "lost_acknowledged_writes"), 1.0);
        assert_eq!(fig(&r, "duplicated_writes"), 1.0);
        assert_eq!(fig(&r, "resurrected_writes"), 2.0);
        assert_eq!(fig(&r, "indeterminate_writes"), 2.0);
        let lost = r
            .evidence
            .iter()
            .find(|e| e.label.starts_with("lost"))
            .unwrap();
        assert_eq!(lost.seq, vec![2], "points at the lost write's invocation");
    }

    #[test]
    fn limits_allow_some_loss() {
        let h = ix(vec![
            (0, inv(0, 1)),
            (1, done(0, Outcome::Ok)),
            (2, inv(1, 2)),
            (3, done(1, Outcome::Ok)),
            (4, rb(&[2])),
        ]);
        let lim = LedgerLimits {
            max_lost: 1,
            ..LedgerLimits::default()
        };
        assert_eq!(ledger(&h, "l", "w", lim).unwrap().verdict, Verdict::Pass);
    }

    #[test]
    fn no_readback_or_no_acks_is_an_error_not_a_pass() {
        let h = ix(vec![(0, inv(0, 1)), (1, done(0, Outcome::Ok))]);
        assert!(matches!(
            ledger(&h, "l", "w", LedgerLimits::default()),
            Err(CheckError::MissingData(_))
        ));
        let h = ix(vec![
            (0, inv(0, 1)),
            (1, done(0, Outcome::Fail)),
            (2, rb(&[])),
        ]);
        assert!(ledger(&h, "l", "w", LedgerLimits::default()).is_err());
    }

    #[test]
    fn rpo_is_span_of_lost_writes() {
        let h = ix(vec![
            (0, inv(0, 1)),
            (S, done(0, Outcome::Ok)),
            (10 * S, inv(1, 2)),
            (11 * S, done(1, Outcome::Ok)), // lost
            (20 * S, inv(2, 3)),
            (21 * S, done(2, Outcome::Ok)), // lost
            (30 * S, rb(&[1])),
        ]);
        let r = rpo(&h, "rpo", "w", Some(Duration::from_secs(15 * 60))).unwrap();
        assert_eq!(fig(&r, "rpo_seconds"), 11.0);
        assert_eq!(r.verdict, Verdict::Pass);
        let r = rpo(&h, "rpo", "w", Some(Duration::from_secs(5))).unwrap();
        assert_eq!(r.verdict, Verdict::Fail);
    }

    #[test]
    fn rpo_zero_when_nothing_lost() {
        let h = ix(vec![
            (0, inv(0, 1)),
            (S, done(0, Outcome::Ok)),
            (2 * S, rb(&[1])),
        ]);
        let r = rpo(&h, "rpo", "w", Some(Duration::from_secs(1))).unwrap();
        assert_eq!(fig(&r, "rpo_seconds"), 0.0);
        assert_eq!(r.verdict, Verdict::Pass);
    }
}
