//! The checked-in JSON Schema of scenario files (`fixtures/scenario.schema.json`) must match the
//! one generated from the types. To regenerate: `STACKDRILL_UPDATE_SCHEMA=1 cargo test --test schema`.

use std::path::Path;

#[test]
fn scenario_schema_has_not_drifted() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenario.schema.json");
    let generated = stackdrill::scenario::json_schema();
    if std::env::var("STACKDRILL_UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "fixtures/scenario.schema.json is out of date with the scenario types \
         (hint: run `STACKDRILL_UPDATE_SCHEMA=1 cargo test -p stackdrill --test schema` and commit the file)"
    );
}

#[test]
fn schema_is_closed_and_lists_the_kinds() {
    let v: serde_json::Value = serde_json::from_str(&stackdrill::scenario::json_schema()).unwrap();
    assert_eq!(
        v["additionalProperties"],
        serde_json::json!(false),
        "unknown top-level keys are rejected"
    );
    let text = v.to_string();
    for kind in [
        "disk_full",
        "port_refuses_plaintext",
        "sequence_writer",
        "time_to_detect",
        "rotate_certificate",
    ] {
        assert!(text.contains(kind), "{kind}");
    }
}
