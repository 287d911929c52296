//! Faults of the environment (issue #2, item 6): no engine, a component that never gets ready,
//! and a harness that died without cleaning up.

use std::process::Command;
use std::time::Duration;

use stackdrill::images::{ImageName, ImageSet, project_root};
use stackdrill::runtime::{Engine, LABEL_RUN, Service, ServiceError, ServiceSpec};
use testcontainers::bollard::models::ContainerCreateBody;
use testcontainers::bollard::query_parameters::{
    CreateContainerOptionsBuilder, StartContainerOptions,
};

#[test]
fn no_engine_gives_one_clear_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_stackdrill"))
        .args(["images", "list"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("run stackdrill");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "stderr: {stderr}");
    assert!(
        stderr.contains("no Docker engine is reachable at unix:///nonexistent/docker.sock")
            && stderr.contains("dockerd --storage-driver=overlay2"),
        "unexpected message: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn vault_spec(run_id: &str, ready_line: &str, timeout: Duration) -> ServiceSpec {
    let images = ImageSet::resolve(&project_root()).expect("recipes");
    let dir = std::env::temp_dir().join(format!("sd-env-{run_id}"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    ServiceSpec {
        run_id: run_id.to_owned(),
        component: "vault".into(),
        image: images.get(ImageName::Vault).clone(),
        env: vec![],
        cmd: vec![
            "server".into(),
            "-dev".into(),
            format!("-dev-listen-address=127.0.0.1:{port}"),
        ],
        mounts: vec![],
        ready_line: ready_line.to_owned(),
        fail_lines: vec![],
        startup_timeout: timeout,
        log_path: dir.join("vault.log"),
        memory_limit: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_that_never_gets_ready_fails_with_its_last_log_lines() {
    let engine = Engine::connect().await.expect("a Docker engine");
    let run_id = stackdrill::stack::new_run_id();
    let spec = vault_spec(
        &run_id,
        "a line OpenBao never prints",
        Duration::from_secs(4),
    );
    let err = Service::start(&engine, spec)
        .await
        .expect_err("readiness cannot come");
    let text = err.to_string();
    assert!(matches!(err, ServiceError::NotReady { .. }), "{text}");
    assert!(text.contains("vault was not ready after"), "{text}");
    assert!(
        text.contains("OpenBao server started"),
        "the error should carry the log tail: {text}"
    );
    // The failed start left nothing behind.
    let left = engine
        .containers_labelled(&format!("{LABEL_RUN}={run_id}"))
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_of_a_dead_harness_are_swept_and_live_ones_kept() {
    let engine = Engine::connect().await.expect("a Docker engine");
    let images = ImageSet::resolve(&project_root()).expect("recipes");
    let image = images.get(ImageName::Vault).reference.clone();
    // A process that existed and is gone: its pid is a dead owner.
    let mut child = Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    let mut created = Vec::new();
    for (run, pid) in [
        (stackdrill::stack::new_run_id(), dead_pid),
        (stackdrill::stack::new_run_id(), std::process::id()),
    ] {
        let labels = std::collections::HashMap::from([
            (LABEL_RUN.to_owned(), run.clone()),
            ("stackdrill.pid".to_owned(), pid.to_string()),
            ("stackdrill.host".to_owned(), host.clone()),
        ]);
        let body = ContainerCreateBody {
            image: Some(image.clone()),
            cmd: Some(vec!["version".into()]),
            labels: Some(labels),
            ..Default::default()
        };
        let id = engine
            .docker()
            .create_container(
                Some(
                    CreateContainerOptionsBuilder::default()
                        .name(&format!("sd-{run}-x"))
                        .build(),
                ),
                body,
            )
            .await
            .unwrap()
            .id;
        engine
            .docker()
            .start_container(&id, None::<StartContainerOptions>)
            .await
            .unwrap();
        created.push((run, id));
    }
    let sweep = engine.sweep_orphans().await.unwrap();
    let dead_run = &created[0].0;
    let live_run = &created[1].0;
    assert_eq!(sweep.removed.get(dead_run), Some(&1), "{sweep:?}");
    assert!(!sweep.removed.contains_key(live_run), "{sweep:?}");
    assert!(
        engine
            .containers_labelled(&format!("{LABEL_RUN}={dead_run}"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(engine.remove_run(live_run).await.unwrap(), 1);
}
