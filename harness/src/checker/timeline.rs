//! [`Timeline`]: the series the reports chart — latency over time, fault windows, step windows
//! and phase marks — extracted from a history. Pure data; the report draws it.

use serde::{Deserialize, Serialize};

use super::index::Index;
use super::latency::{new_histogram, record};
use crate::history::Outcome;

/// One latency bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyPoint {
    /// Bucket start, seconds since the run started.
    pub t_s: f64,
    /// 99th percentile response time of the successful ops completed in the bucket.
    pub p99_ms: Option<f64>,
    /// Operations completed in the bucket.
    pub ops: u64,
    /// Of which failed or indeterminate.
    pub errors: u64,
}

/// A fault window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    pub label: String,
    pub start_s: f64,
    /// None: never healed within the run.
    pub end_s: Option<f64>,
}

/// A step window or a phase mark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseMark {
    pub name: String,
    pub start_s: f64,
    pub end_s: Option<f64>,
    /// For steps: whether it succeeded.
    pub ok: Option<bool>,
}

/// The charted series of one scenario run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Duration of the run, seconds.
    pub end_s: f64,
    /// Bucket width, seconds.
    pub bucket_s: f64,
    pub latency: Vec<LatencyPoint>,
    pub faults: Vec<FaultWindow>,
    pub steps: Vec<PhaseMark>,
    pub phases: Vec<PhaseMark>,
}

fn s(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// At most this many latency buckets.
const MAX_BUCKETS: u64 = 300;

/// Extracts the timeline.
pub fn timeline(ix: &Index) -> Timeline {
    let end = ix.end_ns;
    let bucket_ns = (end / MAX_BUCKETS)
        .max(1_000_000_000)
        .div_ceil(1_000_000_000)
        * 1_000_000_000;
    let n = (end / bucket_ns + 1) as usize;
    let mut hs: Vec<Option<hdrhistogram::Histogram<u64>>> = (0..n).map(|_| None).collect();
    let mut counts = vec![(0u64, 0u64); n];
    for op in ix.ops.iter().flatten() {
        let Some((t, outcome, _)) = op.complete else {
            continue;
        };
        let b = ((t / bucket_ns) as usize).min(n - 1);
        counts[b].0 += 1;
        if outcome == Outcome::Ok {
            let from = op.intended_ns.unwrap_or(op.invoke_ns);
            record(
                hs[b].get_or_insert_with(new_histogram),
                t.saturating_sub(from) / 1000,
                None,
            );
        } else {
            counts[b].1 += 1;
        }
    }
    let latency = (0..n)
        .filter(|&b| counts[b].0 > 0)
        .map(|b| LatencyPoint {
            t_s: s(b as u64 * bucket_ns),
            p99_ms: hs[b]
                .as_ref()
                .map(|h| h.value_at_quantile(0.99) as f64 / 1000.0),
            ops: counts[b].0,
            errors: counts[b].1,
        })
        .collect();
    let mut phases: Vec<PhaseMark> = Vec::new();
    for (i, (t, name, _)) in ix.phases.iter().enumerate() {
        let next = ix.phases.get(i + 1).map(|p| s(p.0)).or(Some(s(end)));
        phases.push(PhaseMark {
            name: name.clone(),
            start_s: s(*t),
            end_s: next,
            ok: None,
        });
    }
    Timeline {
        end_s: s(end),
        bucket_s: s(bucket_ns),
        latency,
        faults: ix
            .faults
            .iter()
            .map(|f| FaultWindow {
                label: format!("{} ({})", f.step, f.description),
                start_s: s(f.start_ns),
                end_s: f.end.map(|e| s(e.0)),
            })
            .collect(),
        steps: ix
            .steps
            .iter()
            .map(|st| PhaseMark {
                name: format!("{} [{}]", st.name, st.action),
                start_s: s(st.start_ns),
                end_s: st.end.as_ref().map(|e| s(e.0)),
                ok: st.end.as_ref().map(|e| e.1),
            })
            .collect(),
        phases,
    }
}
