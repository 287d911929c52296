//! Every invalid fixture under `tests/fixtures/invalid/` holds exactly one mistake; its rendered
//! diagnostic (what, where, hint) is snapshot-tested. Every scenario under `scenarios/` and the
//! valid base fixture load without error.

use std::path::{Path, PathBuf};

use stackdrill::scenario::{LoadOptions, load_str, render_plain};
use stackdrill::score::Catalog;

fn opts() -> LoadOptions {
    LoadOptions {
        profile: None,
        known_controls: Some(Catalog::builtin().ids()),
    }
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn invalid_fixtures_have_one_mistake_each_and_a_located_hinted_diagnostic() {
    let files = toml_files(&fixtures().join("invalid"));
    assert!(
        files.len() >= 15,
        "at least 15 invalid fixtures, found {}",
        files.len()
    );
    for f in files {
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        let name = format!("fixtures/invalid/{stem}.toml");
        let text = std::fs::read_to_string(&f).unwrap();
        let err = load_str(&name, &text, &opts()).expect_err(&name);
        let errors = err.errors();
        assert_eq!(
            errors.len(),
            1,
            "{name} should hold exactly one mistake, found: {:#?}",
            errors.iter().map(|e| e.one_line()).collect::<Vec<_>>()
        );
        let e = errors[0];
        assert!(e.line_col.is_some(), "{name}: the error has a location");
        assert!(e.hint.is_some(), "{name}: the error has a hint");
        assert!(
            e.one_line().starts_with(&format!("{name}:")),
            "{}",
            e.one_line()
        );
        insta::assert_snapshot!(stem, render_plain(&err));
    }
}

#[test]
fn valid_scenarios_load_with_every_profile() {
    let mut files = toml_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"));
    files.push(fixtures().join("valid_base.toml"));
    assert!(files.len() >= 2);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.display().to_string();
        let plan =
            load_str(&name, &text, &opts()).unwrap_or_else(|e| panic!("{}", render_plain(&e)));
        for p in &plan.profiles {
            let o = LoadOptions {
                profile: Some(p.clone()),
                ..opts()
            };
            load_str(&name, &text, &o).unwrap_or_else(|e| panic!("{}", render_plain(&e)));
        }
    }
}

#[test]
fn a_missing_profile_is_an_error_naming_the_known_ones() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/dr/hcd_node_loss.toml"),
    )
    .unwrap();
    let o = LoadOptions {
        profile: Some("nighty".into()),
        ..opts()
    };
    let err = load_str("s.toml", &text, &o).unwrap_err();
    let e = err.errors()[0].one_line();
    assert!(
        e.contains("no profile `nighty`") && e.contains("did you mean `nightly`"),
        "{e}"
    );
}

#[test]
fn profiles_override_the_base() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/dr/hcd_node_loss.toml"),
    )
    .unwrap();
    let base = load_str("s.toml", &text, &opts()).unwrap();
    let ci = load_str(
        "s.toml",
        &text,
        &LoadOptions {
            profile: Some("ci".into()),
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(base.workloads[0].rate, 50.0);
    assert_eq!(ci.workloads[0].rate, 10.0);
    assert_eq!(ci.steady_state.settle, std::time::Duration::from_secs(10));
    assert_ne!(base.steps, ci.steps, "the warm-up hold is shortened");
    assert_eq!(ci.profile.as_deref(), Some("ci"));
}

#[test]
fn several_mistakes_are_all_reported() {
    let text = std::fs::read_to_string(fixtures().join("valid_base.toml"))
        .unwrap()
        .replace("target = \"hcd\"", "target = \"hcd\", node = 9")
        .replace("workload = \"writer\"", "workload = \"nope\"")
        .replace("dr.rto_within_target", "nope");
    let err = load_str("multi.toml", &text, &opts()).unwrap_err();
    assert_eq!(err.errors().len(), 3, "{}", render_plain(&err));
}
