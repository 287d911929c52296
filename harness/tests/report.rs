//! Reports rendered from a literal history of a scenario run, snapshot-tested with volatile
//! values (wall-clock times, tool version) redacted; and the redactor keeps secrets out of every
//! format.

use stackdrill::checker::{Verdict, evaluate};
use stackdrill::history::{Event, FaultId, Log, OpId, OpKind, Outcome, ProbeStatus};
use stackdrill::report::{self, REDACTED, Redactor, RunReport, ScenarioReport};
use stackdrill::scenario::{LoadOptions, load_str};
use stackdrill::score::{self, Catalog, ScenarioOutcome};

const SCENARIO: &str = r#"
[scenario]
name = "hcd-kill"
description = "Kill HCD under write load."
controls = ["dr.rto_within_target", "dr.no_acknowledged_write_loss", "mon.alerts_fire"]

[[probe]]
name = "up"
kind = "cql"
query = "SELECT now() FROM system.local"

[[probe]]
name = "alert"
kind = "alert"
alert = "HcdDown"

[steady_state]
probes = ["up"]
settle = "10s"

[[workload]]
name = "writer"
kind = "sequence_writer"
rate = 2

[[step]]
name = "kill"
fault = { kind = "kill", target = "hcd" }

[[step]]
name = "recovered"
wait_until = { deadline = "5m", settle = "10s" }

[[check]]
checker = "ledger"
workload = "writer"

[[check]]
checker = "rto"

[[check]]
checker = "time_to_detect"
alert = "alert"

[[check]]
checker = "latency"
workload = "writer"

[targets]
p99_latency = "500ms"
time_to_detect = "1m"
"#;

const S: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;
const SECRET: &str = "hunter2-vault-token";

fn literal_log() -> Log {
    let mut ev: Vec<(u64, Event)> = Vec::new();
    let phase = |n: &str| Event::Phase { name: n.into() };
    ev.push((0, phase("start")));
    ev.push((S, phase("steady_state_before")));
    ev.push((
        S,
        Event::Probe {
            name: "up".into(),
            status: ProbeStatus::Pass,
            value: None,
            observed: None,
            detail: None,
        },
    ));
    ev.push((2 * S, phase("method")));
    // 60 s of writes at 2/s; failures while HCD is down (20–34 s); value 10 is lost.
    for i in 0..120u64 {
        let t = 2 * S + i * 500 * MS;
        ev.push((
            t,
            Event::Invoke {
                op: OpId(i),
                workload: "writer".into(),
                process: 0,
                kind: OpKind::Write,
                key: None,
                value: Some(i),
                intended_ns: Some(t),
            },
        ));
        let down = (20 * S..34 * S).contains(&t);
        let lat = if down { 400 * MS } else { (5 + i % 7) * MS };
        let outcome = if down { Outcome::Fail } else { Outcome::Ok };
        ev.push((
            t + lat,
            Event::Complete {
                op: OpId(i),
                outcome,
                detail: down.then(|| "unavailable".into()),
            },
        ));
    }
    ev.push((
        20 * S,
        Event::StepStart {
            step: "kill".into(),
            action: "fault".into(),
            rollback: false,
        },
    ));
    ev.push((
        20 * S,
        Event::FaultStart {
            fault: FaultId(0),
            step: "kill".into(),
            description: "kill hcd".into(),
        },
    ));
    ev.push((
        20 * S,
        Event::StepEnd {
            step: "kill".into(),
            ok: true,
            detail: None,
        },
    ));
    ev.push((
        20 * S,
        Event::StepStart {
            step: "recovered".into(),
            action: "wait_until".into(),
            rollback: false,
        },
    ));
    for t in (21..60).step_by(2) {
        let status = if t < 34 {
            ProbeStatus::Fail
        } else {
            ProbeStatus::Pass
        };
        ev.push((
            t * S,
            Event::Probe {
                name: "up".into(),
                status,
                value: None,
                observed: None,
                detail: (t < 34).then(|| format!("refused (token {SECRET})")),
            },
        ));
        let firing = (26..34).contains(&t);
        ev.push((
            t * S,
            Event::Probe {
                name: "alert".into(),
                status: if firing {
                    ProbeStatus::Pass
                } else {
                    ProbeStatus::Fail
                },
                value: None,
                observed: None,
                detail: None,
            },
        ));
    }
    ev.push((
        45 * S,
        Event::StepEnd {
            step: "recovered".into(),
            ok: true,
            detail: None,
        },
    ));
    ev.push((62 * S, phase("read_back")));
    let acked: Vec<u64> = (0..120u64)
        .filter(|i| {
            let t = 2 * S + i * 500 * MS;
            !(20 * S..34 * S).contains(&t) && *i != 10
        })
        .collect();
    ev.push((
        63 * S,
        Event::ReadBack {
            workload: "writer".into(),
            values: acked,
        },
    ));
    ev.push((64 * S, phase("steady_state_after")));
    ev.push((
        64 * S,
        Event::Probe {
            name: "up".into(),
            status: ProbeStatus::Pass,
            value: None,
            observed: None,
            detail: None,
        },
    ));
    ev.push((65 * S, phase("rollback")));
    ev.push((66 * S, phase("teardown")));
    ev.sort_by_key(|e| e.0);
    Log::from_events(ev)
}

fn run_report() -> RunReport {
    let cat = Catalog::builtin();
    let plan = load_str(
        "scenarios/hcd_kill.toml",
        SCENARIO,
        &LoadOptions {
            profile: None,
            known_controls: Some(cat.ids()),
        },
    )
    .unwrap();
    let th = score::thresholds(&plan, &cat);
    let eval = evaluate(&plan, &literal_log(), &th, None);
    let outcome = ScenarioOutcome {
        scenario: plan.name.clone(),
        verdict: eval.verdict,
        controls: plan.controls.clone(),
        passing_checks: eval
            .checks
            .iter()
            .filter(|c| c.verdict == Verdict::Pass)
            .map(|c| c.name.clone())
            .collect(),
    };
    let mut sc = ScenarioReport::new(
        &plan,
        &eval,
        th.tier,
        66.0,
        Some("history/hcd-kill.jsonl"),
        None,
    );
    sc.checks[0]
        .summary
        .push_str(&format!(" (vault token {SECRET})"));
    // A second scenario that could not run, so the coverage matrix shows both states.
    let mut broken = sc.clone();
    broken.name = "vault-seal".into();
    broken.verdict = Verdict::Unknown;
    broken.controls = vec!["sec.secret_rotation".into()];
    broken.error = Some(format!(
        "the stack did not start: password {SECRET} rejected"
    ));
    // And one that passed, so some controls are proven and the grade has points to trace.
    let mut tls = sc.clone();
    tls.name = "tls-everywhere".into();
    tls.verdict = Verdict::Pass;
    tls.controls = vec![
        "sec.tls_all_services".into(),
        "sec.plaintext_refused".into(),
    ];
    tls.checks.retain(|c| c.verdict == Verdict::Pass);
    tls.figures.retain(|_, f| f.verdict == Verdict::Pass);
    let outcomes = vec![
        outcome,
        ScenarioOutcome {
            scenario: "vault-seal".into(),
            verdict: Verdict::Unknown,
            controls: broken.controls.clone(),
            passing_checks: vec![],
        },
        ScenarioOutcome {
            scenario: "tls-everywhere".into(),
            verdict: Verdict::Pass,
            controls: tls.controls.clone(),
            passing_checks: tls.checks.iter().map(|c| c.name.clone()).collect(),
        },
    ];
    let coverage = score::coverage(&cat, &outcomes);
    let grade = score::grade(&cat, &coverage);
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    RunReport {
        schema_version: report::REPORT_SCHEMA_VERSION,
        run_id: "test-run".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        started_at: now.clone(),
        finished_at: now,
        profile: None,
        verdict: Verdict::worst([sc.verdict, broken.verdict, tls.verdict]),
        scenarios: vec![sc, broken, tls],
        coverage,
        grade,
    }
}

fn redacted() -> RunReport {
    Redactor::new([SECRET.to_string()]).redact_report(&run_report())
}

fn time_filters() -> Vec<(&'static str, &'static str)> {
    vec![(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[timestamp]")]
}

#[test]
fn figures_are_measured_and_judged() {
    let r = run_report();
    let sc = &r.scenarios[0];
    let f = |n: &str| sc.figures.get(n).unwrap_or_else(|| panic!("no figure {n}"));
    assert_eq!(
        f("rto_seconds").value,
        Some(15.0),
        "first probe pass at 35 s, 20 s fault"
    );
    assert_eq!(
        f("rto_seconds").target,
        Some(4.0 * 3600.0),
        "tier 1 default"
    );
    assert_eq!(f("lost_acknowledged_writes").value, Some(1.0));
    assert_eq!(f("time_to_detect_seconds").value, Some(7.0));
    assert_eq!(sc.verdict, Verdict::Fail, "one acknowledged write was lost");
    assert!(
        sc.checks
            .iter()
            .find(|c| c.name == "ledger")
            .unwrap()
            .evidence
            .iter()
            .any(|e| e.label.starts_with("lost"))
    );
}

#[test]
fn report_json_snapshot() {
    insta::assert_json_snapshot!("report_json", redacted(), {
        ".started_at" => "[timestamp]",
        ".finished_at" => "[timestamp]",
        ".tool_version" => "[version]",
    });
}

#[test]
fn report_markdown_snapshot() {
    insta::with_settings!({ filters => time_filters() }, {
        insta::assert_snapshot!("report_md", report::render_markdown(&redacted()));
    });
}

#[test]
fn report_html_snapshot() {
    let html = report::render_html(&redacted());
    assert!(
        html.contains("<svg")
            && html.contains("latency over time")
            && html.contains("coverage matrix")
    );
    assert!(
        !html.contains("<script") && !html.contains("http://") && !html.contains("src="),
        "self-contained"
    );
    insta::with_settings!({ filters => time_filters() }, {
        insta::assert_snapshot!("report_html", html);
    });
}

#[test]
fn junit_snapshot() {
    insta::with_settings!({ filters => time_filters() }, {
        insta::assert_snapshot!("junit_xml", report::render_junit(&redacted()));
    });
}

#[test]
fn secrets_never_reach_any_file() {
    let dir = std::env::temp_dir().join(format!("stackdrill-report-{}", std::process::id()));
    let files =
        report::write_all(&dir, &run_report(), &Redactor::new([SECRET.to_string()])).unwrap();
    assert_eq!(files.len(), 4);
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(!text.contains(SECRET), "{} leaks the secret", f.display());
        assert!(
            text.contains(REDACTED),
            "{} shows where it was redacted",
            f.display()
        );
    }
    let back = report::read_json(&dir.join("report.json")).unwrap();
    assert_eq!(back.schema_version, report::REPORT_SCHEMA_VERSION);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn read_rejects_another_schema_version() {
    let dir = std::env::temp_dir().join(format!("stackdrill-report-v-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("report.json"), r#"{"schema_version": 99}"#).unwrap();
    let e = report::read_json(&dir.join("report.json")).unwrap_err();
    assert!(e.to_string().contains("99"), "{e}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn report_and_score_commands_rerender_a_finished_run() {
    let dir = std::env::temp_dir().join(format!("sd-report-cli-{}", std::process::id()));
    stackdrill::report::write_all(
        &dir,
        &run_report(),
        &stackdrill::report::Redactor::default(),
    )
    .expect("write the reports");
    std::fs::remove_file(dir.join("report.md")).unwrap();
    let bin = env!("CARGO_BIN_EXE_stackdrill");
    let r = std::process::Command::new(bin)
        .args(["report", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(
        dir.join("report.md").exists(),
        "report re-rendered the Markdown"
    );
    let s = std::process::Command::new(bin)
        .args(["score", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&s.stdout),
        String::from_utf8_lossy(&s.stderr)
    );
    assert_eq!(s.status.code(), Some(0), "{out}");
    assert!(out.contains("readiness grade"), "{out}");
    std::fs::remove_dir_all(dir).ok();
}
