//! Property tests of the checkers on arbitrary histories: they never panic, never pass without
//! the data they need, and their figures are consistent.

use std::time::Duration;

use proptest::prelude::*;
use stackdrill::checker::*;
use stackdrill::history::{Event, FaultId, Log, OpId, OpKind, Outcome, ProbeStatus};

fn event() -> impl Strategy<Value = Event> {
    let outcome = prop_oneof![
        Just(Outcome::Ok),
        Just(Outcome::Fail),
        Just(Outcome::Indeterminate)
    ];
    let status = prop_oneof![
        Just(ProbeStatus::Pass),
        Just(ProbeStatus::Fail),
        Just(ProbeStatus::Unknown)
    ];
    prop_oneof![
        4 => (0u64..50, 0u64..30).prop_map(|(op, v)| Event::Invoke {
            op: OpId(op), workload: "w".into(), process: 0, kind: OpKind::Write, key: None, value: Some(v), intended_ns: None
        }),
        4 => (0u64..60, outcome).prop_map(|(op, outcome)| Event::Complete { op: OpId(op), outcome, detail: None }),
        1 => Just(Event::FaultStart { fault: FaultId(0), step: "f".into(), description: "kill".into() }),
        3 => status.prop_map(|status| Event::Probe { name: "up".into(), status, value: None, observed: None, detail: None }),
        1 => prop::collection::vec(0u64..30, 0..20).prop_map(|values| Event::ReadBack { workload: "w".into(), values }),
        1 => Just(Event::Phase { name: PHASE_AFTER.into() }),
    ]
}

fn history() -> impl Strategy<Value = Log> {
    prop::collection::vec((0u64..5_000_000_000, event()), 0..120).prop_map(|mut ev| {
        ev.sort_by_key(|e| e.0);
        Log::from_events(ev)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn checkers_never_panic_and_judge_consistently(log in history()) {
        let ix = Index::new(&log);
        let probes = vec!["up".to_string()];
        if let Ok(r) = ledger(&ix, "l", "w", LedgerLimits::default()) {
            prop_assert!(ix.readbacks.contains_key("w"), "a ledger verdict needs a read-back");
            let lost = r.figures.iter().find(|f| f.name == "lost_acknowledged_writes").and_then(|f| f.value).unwrap();
            if r.verdict == Verdict::Pass { prop_assert_eq!(lost, 0.0); }
        }
        if let Ok(r) = rpo(&ix, "r", "w", Some(Duration::from_secs(1))) {
            let v = r.figures[0].value.unwrap();
            prop_assert!(v >= 0.0);
        }
        if let Ok(r) = rto(&ix, "rto", "f", &probes, Duration::from_secs(1), Some(Duration::from_secs(2))) {
            prop_assert!(ix.fault("f").is_some());
            if let Some(v) = r.figures[0].value { prop_assert!(v >= 0.0); }
            if r.verdict == Verdict::Pass { prop_assert!(r.figures[0].value.is_some()); }
        }
        if let Ok(r) = latency(&ix, "lat", "w", LatencyLimits { p99: Some(Duration::from_millis(100)), ..Default::default() }) {
            let get = |n: &str| r.figures.iter().find(|f| f.name == n).and_then(|f| f.value).unwrap();
            prop_assert!(get("p50_latency_ms") <= get("p95_latency_ms"));
            prop_assert!(get("p95_latency_ms") <= get("p99_latency_ms"));
            prop_assert!(get("p99_latency_ms") <= get("max_latency_ms") + 1e-9);
            prop_assert!((0.0..=1.0).contains(&get("error_rate")));
        }
        if let Ok(r) = availability(&ix, "a", "w", Some(0.5)) {
            prop_assert!((0.0..=1.0).contains(&r.figures[0].value.unwrap()));
        }
        let _ = steady_state(&ix, "ss", &probes);
        let _ = timeline(&ix);
    }
}
