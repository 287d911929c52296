//! The alert rules in fixtures/monitoring pass `promtool check rules` and their unit tests
//! (`promtool test rules`), run with the promtool of the stack's own Prometheus image.

use std::process::Command;

use stackdrill::images::{ImageName, ImageSet, project_root};

fn promtool(args: &[&str]) -> (bool, String) {
    let images = ImageSet::resolve(&project_root()).expect("image recipes");
    let image = images.get(ImageName::Prometheus).reference.clone();
    let dir = project_root().join("fixtures/monitoring");
    let out = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "/usr/bin/promtool",
        ])
        .arg("-v")
        .arg(format!("{}:/rules:ro", dir.display()))
        .args(["-w", "/rules", &image])
        .args(args)
        .output()
        .expect("the docker CLI runs (ci/provision.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn alert_rules_are_valid() {
    let (ok, text) = promtool(&["check", "rules", "alerts.yml"]);
    assert!(ok, "promtool check rules failed:\n{text}");
    assert!(text.contains("SUCCESS: 10 rules found"), "{text}");
}

#[test]
fn alert_rules_pass_their_unit_tests() {
    let (ok, text) = promtool(&["test", "rules", "alerts.test.yml"]);
    assert!(ok, "promtool test rules failed:\n{text}");
    assert!(text.contains("SUCCESS"), "{text}");
}
