//! Engine benchmarks (criterion): checking a history of one million operations (target: under
//! 1 s), the cost of one history append, and of one HDR histogram record.
//!
//! Run: `cargo bench -p stackdrill --bench engine`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use stackdrill::checker::{Index, LatencyLimits, LedgerLimits, latency, ledger, rto};
use stackdrill::history::{Event, FaultId, History, Log, OpId, OpKind, Outcome, ProbeStatus};

const OPS: u64 = 1_000_000;
const MS: u64 = 1_000_000;

/// One million writes over 1000 s (1 kHz), a fault at 300 s, probes every second.
fn million_op_log() -> Log {
    let mut ev = Vec::with_capacity(2 * OPS as usize + 2_100);
    for i in 0..OPS {
        let t = i * MS;
        ev.push((
            t,
            Event::Invoke {
                op: OpId(i),
                workload: "writer".into(),
                process: (i % 8) as u32,
                kind: OpKind::Write,
                key: None,
                value: Some(i),
                intended_ns: Some(t),
            },
        ));
        let outcome = if (300_000..320_000).contains(&i) {
            Outcome::Fail
        } else {
            Outcome::Ok
        };
        ev.push((
            t + (2 + i % 13) * MS,
            Event::Complete {
                op: OpId(i),
                outcome,
                detail: None,
            },
        ));
    }
    ev.push((
        300_000 * MS,
        Event::FaultStart {
            fault: FaultId(0),
            step: "kill".into(),
            description: "kill hcd".into(),
        },
    ));
    for s in 0..1000u64 {
        let status = if (300..320).contains(&s) {
            ProbeStatus::Fail
        } else {
            ProbeStatus::Pass
        };
        ev.push((
            s * 1000 * MS + 500 * MS,
            Event::Probe {
                name: "up".into(),
                status,
                value: None,
                observed: None,
                detail: None,
            },
        ));
    }
    ev.push((
        1_001_000 * MS,
        Event::ReadBack {
            workload: "writer".into(),
            values: (0..OPS)
                .filter(|i| !(300_000..320_000).contains(i))
                .collect(),
        },
    ));
    ev.sort_by_key(|e| e.0);
    Log::from_events(ev)
}

fn check_million(c: &mut Criterion) {
    let log = million_op_log();
    let probes = vec!["up".to_string()];
    let mut g = c.benchmark_group("check");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("index+ledger+latency+rto, 1M ops", |b| {
        b.iter(|| {
            let ix = Index::new(black_box(&log));
            let l = ledger(&ix, "ledger", "writer", LedgerLimits::default()).unwrap();
            let lat = latency(
                &ix,
                "latency",
                "writer",
                LatencyLimits {
                    p99: Some(Duration::from_millis(50)),
                    ..Default::default()
                },
            )
            .unwrap();
            let r = rto(
                &ix,
                "rto",
                "kill",
                &probes,
                Duration::from_secs(30),
                Some(Duration::from_secs(3600)),
            )
            .unwrap();
            black_box((l, lat, r))
        })
    });
    g.finish();
}

fn history_append(c: &mut Criterion) {
    let h = History::new("bench", "bench");
    let mut i = 0u64;
    c.bench_function("history append (invoke)", |b| {
        b.iter(|| {
            i += 1;
            black_box(h.invoke("writer", 0, OpKind::Write, None, Some(i)))
        })
    });
    let dir = std::env::temp_dir().join(format!("stackdrill-bench-{}", std::process::id()));
    let hs = History::with_sink("bench", "bench", &dir.join("history.jsonl")).unwrap();
    c.bench_function("history append (invoke, streamed to JSON lines)", |b| {
        b.iter(|| {
            i += 1;
            black_box(hs.invoke("writer", 0, OpKind::Write, None, Some(i)))
        })
    });
    hs.flush();
    std::fs::remove_dir_all(dir).ok();
}

fn hdr_record(c: &mut Criterion) {
    let mut h = stackdrill::checker::new_histogram();
    let mut v = 1u64;
    c.bench_function("hdr record", |b| {
        b.iter(|| {
            v = v.wrapping_mul(6364136223846793005).wrapping_add(1);
            stackdrill::checker::record(&mut h, black_box(1 + (v >> 40) % 2_000_000), None)
        })
    });
    c.bench_function("hdr record with CO correction (1 ms interval)", |b| {
        b.iter(|| {
            v = v.wrapping_mul(6364136223846793005).wrapping_add(1);
            stackdrill::checker::record(&mut h, black_box(1 + (v >> 40) % 2_000), Some(1_000))
        })
    });
}

criterion_group!(benches, check_million, history_append, hdr_record);
criterion_main!(benches);
