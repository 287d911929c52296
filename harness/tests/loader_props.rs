//! Property tests of the loader: it never panics, whatever the input, and valid scenarios
//! round-trip through the file format (raw form and validated plan alike).

use std::time::Duration;

use proptest::prelude::*;
use stackdrill::scenario::*;

const BASE: &str = include_str!("fixtures/valid_base.toml");

fn opts() -> LoadOptions {
    LoadOptions {
        profile: None,
        known_controls: Some(stackdrill::score::Catalog::builtin().ids()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_text(s in "\\PC{0,400}") {
        let _ = load_str("x.toml", &s, &opts());
    }

    #[test]
    fn never_panics_on_mutated_scenarios(cut in 0usize..BASE.len(), insert in "[\\[\\]={}\",a-z0-9 \n.]{0,12}", drop_line in 0usize..40) {
        let mut s = BASE.to_owned();
        let cut = (0..=cut).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
        s.insert_str(cut, &insert);
        let lines: Vec<&str> = s.lines().collect();
        let mutated: String = lines.iter().enumerate().filter(|(i, _)| *i != drop_line).map(|(_, l)| format!("{l}\n")).collect();
        if let Err(e) = load_str("m.toml", &mutated, &opts()) {
            // Every error renders and has a location or names the file.
            let text = render_plain(&e);
            prop_assert!(text.contains("m.toml"));
        }
    }

    #[test]
    fn valid_scenarios_round_trip(file in scenario_file()) {
        let text = toml::to_string(&file).expect("serializes");
        let raw = parse_str("g.toml", &text).unwrap_or_else(|e| panic!("{}\n{text}", render_plain(&e)));
        prop_assert_eq!(&raw, &file);
        let plan = load_str("g.toml", &text, &opts()).unwrap_or_else(|e| panic!("{}\n{text}", render_plain(&e)));
        let again = load_str("g.toml", &toml::to_string(&raw).unwrap(), &opts()).unwrap();
        prop_assert_eq!(plan, again);
    }
}

fn scenario_file() -> impl Strategy<Value = ScenarioFile> {
    (
        any::<u64>(),
        prop::bool::ANY,
        0usize..3,
        prop::collection::vec(0usize..4, 0..6),
        prop::option::of((1u64..600).prop_map(|s| HumanDuration(Duration::from_secs(s)))),
        prop::option::of(1u8..=3),
        (1u32..100_000).prop_map(|r| f64::from(r) / 10.0),
    )
        .prop_map(
            |(seed, three_nodes, n_workloads, step_kinds, settle, tier, rate)| {
                let mut f: ScenarioFile = toml::from_str(BASE).expect("base parses");
                f.scenario.seed = Some(seed);
                f.scenario.tags = vec!["generated".into()];
                f.stack = Some(StackRaw {
                    components: vec![Component::Hcd, Component::Janusgraph],
                    topology: Some(TopologyRaw {
                        hcd_nodes: Some(if three_nodes { 3 } else { 1 }),
                    }),
                    ..StackRaw::default()
                });
                f.workloads.truncate(0);
                for i in 0..n_workloads {
                    f.workloads.push(WorkloadRaw {
                        name: format!("w{i}"),
                        kind: WorkloadKind::SequenceWriter,
                        target: Some(WriterTarget::Cql),
                        rate,
                        duration: None,
                        concurrency: Some(2),
                        seed: None,
                        read_ratio: None,
                        op_timeout: None,
                    });
                }
                let mut fault_seen = false;
                for (i, k) in step_kinds.iter().enumerate() {
                    let name = Some(format!("s{i}"));
                    let step = match k {
                        0 => StepRaw {
                            name,
                            hold: Some(HumanDuration(Duration::from_secs(5))),
                            ..StepRaw::default()
                        },
                        1 => {
                            fault_seen = true;
                            StepRaw {
                                name,
                                fault: Some(FaultRaw {
                                    kind: FaultKind::Pause,
                                    target: Some(Component::Hcd),
                                    node: three_nodes.then_some(2),
                                    between: None,
                                    delay: None,
                                    jitter: None,
                                    percent: None,
                                    path: None,
                                    volumes: None,
                                    expires_in: None,
                                    duration: Some(HumanDuration(Duration::from_secs(30))),
                                }),
                                ..StepRaw::default()
                            }
                        }
                        2 => StepRaw {
                            name,
                            wait_until: Some(WaitRaw {
                                probes: vec![],
                                deadline: HumanDuration(Duration::from_secs(600)),
                                settle,
                                interval: None,
                            }),
                            ..StepRaw::default()
                        },
                        _ => StepRaw {
                            name,
                            phase: Some(format!("p{i}")),
                            ..StepRaw::default()
                        },
                    };
                    f.steps.push(step);
                }
                // Keep the checks consistent with what was generated.
                f.checks.retain(|c| match c.checker {
                    CheckerKind::Ledger => n_workloads > 0,
                    _ => true,
                });
                if let Some(c) = f
                    .checks
                    .iter_mut()
                    .find(|c| c.checker == CheckerKind::Ledger)
                {
                    c.workload = Some("w0".into());
                }
                let _ = fault_seen;
                f.targets = tier.map(|t| TargetsRaw {
                    tier: Some(t),
                    rto: settle,
                    rpo: Some(HumanDuration(Duration::ZERO)),
                    ..TargetsRaw::default()
                });
                f
            },
        )
}
