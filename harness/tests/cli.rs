//! The `stackdrill` binary's engine commands and their exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stackdrill"));
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    c.env("NO_COLOR", "1");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("stackdrill-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn validate_exit_codes() {
    let ok = run(&["validate", "scenarios"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let bad = run(&[
        "validate",
        "harness/tests/fixtures/invalid/unknown_fault_kind.toml",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let out = text(&bad);
    assert!(
        out.contains("unknown_fault_kind.toml:") && out.contains("explode") && out.contains("kill"),
        "{out}"
    );
    let missing = run(&["validate", "no/such/file.toml"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
}

#[test]
fn list_never_starts_anything() {
    let o = run(&["list"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("hcd-node-loss"));
}

#[test]
fn run_without_an_engine_is_an_environment_failure_that_says_why() {
    let dir = tmp("run");
    let o = bin()
        .args([
            "run",
            "--profile",
            "ci",
            "--out",
            dir.to_str().unwrap(),
            "scenarios/chaos/cassandra-kill.toml",
        ])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("run stackdrill");
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("no scenario was run"), "{t}");
    assert!(t.contains("no Docker engine is reachable"), "{t}");
    assert!(!t.contains("panicked"), "{t}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn run_rejects_invalid_input_before_starting_anything() {
    let dir = tmp("bad");
    let o = run(&[
        "run",
        "--out",
        dir.to_str().unwrap(),
        "harness/tests/fixtures/invalid/wrong_type.toml",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!dir.exists(), "nothing was run, no report written");
    let o = run(&[
        "run",
        "--profile",
        "nope",
        "--out",
        dir.to_str().unwrap(),
        "scenarios/dr/hcd_node_loss.toml",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn help_has_examples() {
    for cmd in ["list", "validate", "run", "report", "score"] {
        let o = run(&[cmd, "--help"]);
        assert!(text(&o).contains("Examples:"), "{cmd}: {}", text(&o));
    }
}
