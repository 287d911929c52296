//! Latency percentiles and error rate ([`latency`]) and [`availability`] of one workload.
//!
//! Response time is measured from when the open-model schedule *intended* to send an operation
//! (when the history has it) to its completion, so a stalled system cannot hide its stall by
//! slowing the load down (coordinated omission). Without intended times, HDR's
//! `record_correct` back-fills the samples a closed loop would have missed.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::index::Index;
use super::verdict::{CheckError, CheckResult, Figure, Target, Verdict};
use crate::history::Outcome;

/// Bounds for a latency check; unset ones are not judged.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LatencyLimits {
    pub p50: Option<Duration>,
    pub p95: Option<Duration>,
    pub p99: Option<Duration>,
    pub error_rate: Option<f64>,
    /// The interval between one worker's operations (concurrency / rate), for the correction
    /// when the history has no intended send times.
    pub expected_interval: Option<Duration>,
    /// Judge only operations meant to be sent at or after this time (ns since the start).
    pub from_ns: Option<u64>,
}

/// Highest latency recorded: one hour, in microseconds.
const MAX_US: u64 = 3_600_000_000;

/// A histogram of response times in microseconds.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("static bounds are valid")
}

/// Records one response time, with coordinated-omission correction when `interval_us` is set.
pub fn record(h: &mut Histogram<u64>, us: u64, interval_us: Option<u64>) {
    let us = us.clamp(1, MAX_US);
    match interval_us {
        Some(i) if i > 0 => {
            if h.record_correct(us, i).is_err() {
                h.saturating_record(us);
            }
        }
        _ => h.saturating_record(us),
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The latency check.
pub fn latency(
    ix: &Index,
    name: &str,
    workload: &str,
    lim: LatencyLimits,
) -> Result<CheckResult, CheckError> {
    let w = ix.workload(workload).ok_or_else(|| {
        CheckError::MissingData(format!("workload `{workload}` recorded no operation"))
    })?;
    let mut h = new_histogram();
    let mut service = new_histogram();
    let (mut total, mut errors, mut ok) = (0u64, 0u64, 0u64);
    let (mut first, mut last) = (u64::MAX, 0u64);
    let interval_us = lim.expected_interval.map(|d| d.as_micros() as u64);
    let from_ns = lim.from_ns.unwrap_or(0);
    for op in ix.ops_of(w) {
        if op.intended_ns.unwrap_or(op.invoke_ns) < from_ns {
            continue;
        }
        total += 1;
        match op.complete {
            Some((t, Outcome::Ok, _)) => {
                ok += 1;
                first = first.min(op.invoke_ns);
                last = last.max(t);
                service
                    .saturating_record(((t.saturating_sub(op.invoke_ns)) / 1000).clamp(1, MAX_US));
                match op.intended_ns {
                    Some(i) => record(&mut h, t.saturating_sub(i) / 1000, None),
                    None => record(&mut h, t.saturating_sub(op.invoke_ns) / 1000, interval_us),
                }
            }
            _ => errors += 1,
        }
    }
    if ok == 0 {
        return Err(CheckError::MissingData(format!(
            "workload `{workload}` has no successful operation to time"
        )));
    }
    let tgt = |d: Option<Duration>| d.map(|d| Target::at_most(d.as_secs_f64() * 1000.0));
    let error_rate = errors as f64 / total as f64;
    let span_s = (last.saturating_sub(first)) as f64 / 1e9;
    let figures = vec![
        Figure::new(
            "p50_latency_ms",
            Some(ms(h.value_at_quantile(0.50))),
            "ms",
            tgt(lim.p50),
        ),
        Figure::new(
            "p95_latency_ms",
            Some(ms(h.value_at_quantile(0.95))),
            "ms",
            tgt(lim.p95),
        ),
        Figure::new(
            "p99_latency_ms",
            Some(ms(h.value_at_quantile(0.99))),
            "ms",
            tgt(lim.p99),
        ),
        Figure::new(
            "error_rate",
            Some(error_rate),
            "ratio",
            lim.error_rate.map(Target::at_most),
        ),
        Figure::new("max_latency_ms", Some(ms(h.max())), "ms", None),
        Figure::new(
            "p99_service_time_ms",
            Some(ms(service.value_at_quantile(0.99))),
            "ms",
            None,
        ),
        Figure::new(
            "throughput_ops_per_second",
            (span_s > 0.0).then(|| ok as f64 / span_s),
            "ops_per_second",
            None,
        ),
    ];
    let judged: Vec<Verdict> = figures
        .iter()
        .filter(|f| f.target.is_some())
        .map(Figure::verdict)
        .collect();
    let verdict = if judged.is_empty() {
        Verdict::Unknown
    } else {
        Verdict::worst(judged)
    };
    let summary = format!(
        "{total} ops, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, error rate {:.2} %{}",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
        error_rate * 100.0,
        if verdict == Verdict::Unknown {
            " (no latency or error-rate target to judge against)"
        } else {
            ""
        }
    );
    let mut r = CheckResult::new(name, "latency", verdict, summary);
    r.figures = figures;
    Ok(r)
}

/// The share of a workload's operations that succeeded, against the availability target.
pub fn availability(
    ix: &Index,
    name: &str,
    workload: &str,
    target: Option<f64>,
) -> Result<CheckResult, CheckError> {
    let w = ix.workload(workload).ok_or_else(|| {
        CheckError::MissingData(format!("workload `{workload}` recorded no operation"))
    })?;
    let (mut total, mut ok) = (0u64, 0u64);
    for op in ix.ops_of(w) {
        total += 1;
        ok += u64::from(op.outcome() == Outcome::Ok);
    }
    if total == 0 {
        return Err(CheckError::MissingData(format!(
            "workload `{workload}` recorded no operation"
        )));
    }
    let a = ok as f64 / total as f64;
    let fig = Figure::new(
        "availability",
        Some(a),
        "ratio",
        target.map(Target::at_least),
    );
    let mut r = CheckResult::new(
        name,
        "availability",
        fig.verdict(),
        format!("{ok} of {total} operations succeeded ({:.3} %)", a * 100.0),
    );
    r.figures.push(fig);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, Log, OpId, OpKind};

    const MS: u64 = 1_000_000;

    fn ops(latencies_ms: &[u64], fail_every: Option<usize>, intended: bool) -> Index {
        let mut ev = Vec::new();
        for (i, l) in latencies_ms.iter().enumerate() {
            let t = i as u64 * 100 * MS;
            ev.push((
                t,
                Event::Invoke {
                    op: OpId(i as u64),
                    workload: "w".into(),
                    process: 0,
                    kind: OpKind::Read,
                    key: None,
                    value: None,
                    intended_ns: intended.then_some(t.saturating_sub(50 * MS)),
                },
            ));
            let outcome = match fail_every {
                Some(n) if i % n == 0 => Outcome::Fail,
                _ => Outcome::Ok,
            };
            ev.push((
                t + l * MS,
                Event::Complete {
                    op: OpId(i as u64),
                    outcome,
                    detail: None,
                },
            ));
        }
        ev.sort_by_key(|e| e.0);
        Index::new(&Log::from_events(ev))
    }
    fn val(r: &CheckResult, n: &str) -> f64 {
        r.figures
            .iter()
            .find(|f| f.name == n)
            .and_then(|f| f.value)
            .unwrap()
    }

    #[test]
    fn percentiles_against_targets() {
        let lat: Vec<u64> = (1..=100).collect();
        let ix = ops(&lat, None, false);
        let lim = LatencyLimits {
            p99: Some(Duration::from_millis(150)),
            error_rate: Some(0.01),
            ..Default::default()
        };
        let r = latency(&ix, "lat", "w", lim).unwrap();
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.summary);
        assert!((val(&r, "p50_latency_ms") - 50.0).abs() < 0.5);
        assert!((val(&r, "p99_latency_ms") - 99.0).abs() < 0.5);
        let lim = LatencyLimits {
            p99: Some(Duration::from_millis(90)),
            ..Default::default()
        };
        assert_eq!(
            latency(&ix, "lat", "w", lim).unwrap().verdict,
            Verdict::Fail
        );
    }

    #[test]
    fn a_window_leaves_the_warm_up_out() {
        // Ten slow operations while the system warms up, then ninety fast ones.
        let lat: Vec<u64> = (0..100).map(|i| if i < 10 { 5_000 } else { 10 }).collect();
        let ix = ops(&lat, None, false);
        let lim = LatencyLimits {
            p99: Some(Duration::from_millis(100)),
            ..Default::default()
        };
        assert_eq!(
            latency(&ix, "lat", "w", lim).unwrap().verdict,
            Verdict::Fail
        );
        let windowed = LatencyLimits {
            from_ns: Some(10 * 100 * MS),
            ..lim
        };
        let r = latency(&ix, "lat", "w", windowed).unwrap();
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.summary);
        assert!(r.summary.starts_with("90 ops"), "{}", r.summary);
    }

    #[test]
    fn no_target_is_unknown() {
        let ix = ops(&[1, 2, 3], None, false);
        assert_eq!(
            latency(&ix, "lat", "w", LatencyLimits::default())
                .unwrap()
                .verdict,
            Verdict::Unknown
        );
    }

    #[test]
    fn intended_time_counts_the_queueing_delay() {
        let ix = ops(&[10; 50], None, true);
        let r = latency(
            &ix,
            "lat",
            "w",
            LatencyLimits {
                p50: Some(Duration::from_millis(20)),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            (val(&r, "p50_latency_ms") - 60.0).abs() < 0.5,
            "response time includes the 50 ms the op waited"
        );
        assert!((val(&r, "p99_service_time_ms") - 10.0).abs() < 0.5);
        assert_eq!(r.verdict, Verdict::Fail);
    }

    #[test]
    fn coordinated_omission_correction_adds_missed_samples() {
        // One 1 s stall among fast ops, with a 100 ms expected interval: the correction back-fills
        // 9 samples (900, 800, ... 100 ms), which lifts p95 well above the fast ops.
        let mut lat = vec![1u64; 99];
        lat.push(1000);
        let ix = ops(&lat, None, false);
        let plain = latency(&ix, "l", "w", LatencyLimits::default()).unwrap();
        let corrected = latency(
            &ix,
            "l",
            "w",
            LatencyLimits {
                expected_interval: Some(Duration::from_millis(100)),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(val(&plain, "p95_latency_ms") < 2.0);
        assert!(val(&corrected, "p95_latency_ms") > 100.0);
    }

    #[test]
    fn error_rate_and_availability() {
        let ix = ops(&[1; 10], Some(5), false);
        let r = latency(
            &ix,
            "l",
            "w",
            LatencyLimits {
                error_rate: Some(0.1),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(val(&r, "error_rate"), 0.2);
        assert_eq!(r.verdict, Verdict::Fail);
        let r = availability(&ix, "a", "w", Some(0.999)).unwrap();
        assert_eq!((val(&r, "availability"), r.verdict), (0.8, Verdict::Fail));
        let r = availability(&ix, "a", "w", Some(0.5)).unwrap();
        assert_eq!(r.verdict, Verdict::Pass);
        assert!(availability(&ix, "a", "nope", Some(0.5)).is_err());
    }
}
