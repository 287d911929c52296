//! Disaster-recovery primitives against the real stack (issue #4): kill and restart Cassandra
//! under sequence writes with no acknowledged write lost; an encrypted backup (Cassandra snapshot
//! plus Vault raft snapshot), destroy of the node and its data, restore into a fresh node, and the
//! graph digest equal to the backup's.

use std::time::{Duration, Instant};

use stackdrill::images::{ImageSet, project_root};
use stackdrill::recovery::{self, BackupOptions};
use stackdrill::runtime::{Engine, LABEL_RUN, RunningStack};
use stackdrill::stack::{StackConfig, new_run_id};
use stackdrill::workload::banking::BankingGraph;
use stackdrill::workload::ledger::{SequenceWriter, WriteOutcome, cql_schema};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dr_kill_backup_destroy_restore() {
    let engine = Engine::connect().await.expect("a Docker engine");
    let images = ImageSet::resolve(&project_root()).expect("image recipes");
    let run_id = new_run_id();
    let mut config = StackConfig::new(&run_id, &std::env::temp_dir().join("stackdrill-tests"));
    config.monitoring = false;
    let mut progress = |m: &str| eprintln!("[{run_id}] {m}");
    let mut stack = match RunningStack::up(&engine, &images, config, &mut progress).await {
        Ok(s) => s,
        Err(e) => {
            let _ = engine.remove_run(&run_id).await;
            panic!("the stack did not come up: {:?}", anyhow::Error::from(e));
        }
    };
    let result = drill(&mut stack).await;
    stack.down(false).await.expect("teardown");
    assert!(
        engine
            .containers_labelled(&format!("{LABEL_RUN}={run_id}"))
            .await
            .unwrap()
            .is_empty()
    );
    if let Err(e) = result {
        panic!("{e:?}");
    }
}

async fn drill(stack: &mut RunningStack) -> anyhow::Result<()> {
    // Kill Cassandra between acknowledged writes; after restart every acknowledged write is there.
    let admin = stack.admin_session().await?;
    for stmt in cql_schema(1) {
        admin.query_unpaged(stmt, &[]).await?;
    }
    let writer = SequenceWriter::Cql {
        session: Box::new(admin),
        writer: "kill-test".into(),
        consistency: scylla::statement::Consistency::One,
    };
    let mut acked = Vec::new();
    for seq in 0..200 {
        if writer.write(seq, Duration::from_secs(5)).await == WriteOutcome::Ok {
            acked.push(seq);
        }
    }
    anyhow::ensure!(
        acked.len() == 200,
        "writes failed before any fault: {}",
        acked.len()
    );
    let t = Instant::now();
    stack.kill("hcd-1").await?;
    let killed = t.elapsed();
    let during = writer.write(10_000, Duration::from_secs(2)).await;
    anyhow::ensure!(
        during != WriteOutcome::Ok,
        "a write was acknowledged by a killed node"
    );
    let restart = stack.restart("hcd-1").await?;
    eprintln!(
        "kill confirmed in {killed:?}; restart to ready {restart:?}; write during: {during:?}"
    );
    // The driver reconnects by itself; give it a bounded time.
    let deadline = Instant::now() + Duration::from_secs(30);
    let back = loop {
        match writer.read_back().await {
            Ok(v) => break v,
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    };
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|s| !back.contains(s))
        .collect();
    anyhow::ensure!(
        lost.is_empty(),
        "acknowledged writes lost after kill: {lost:?}"
    );

    // Backup → more writes → destroy → restore → digest equals the backup's.
    let client = stack.gremlin_client().await?;
    let graph = BankingGraph::generate(11, "dr-", 40, 60, 120);
    graph.load(&client, 60).await?;
    let before = BankingGraph::live_digest(&client).await?;
    anyhow::ensure!(
        before == graph.expected_digest(),
        "load mismatch: {before:?}"
    );
    let dest = stack.component_dir("backups").join("b1");
    let report = recovery::backup(
        stack,
        &BackupOptions {
            tag: "b1".into(),
            encrypt: true,
            include_vault: true,
        },
        &dest,
    )
    .await?;
    eprintln!(
        "backup: {} bytes of SSTables, vault snapshot {:?} bytes, {:?}",
        report.manifest.hcd_bytes(),
        report.manifest.vault.as_ref().map(|v| v.bytes),
        report.took
    );
    anyhow::ensure!(report.manifest.hcd_bytes() > 0, "empty backup");
    anyhow::ensure!(report.manifest.vault.is_some(), "no Vault snapshot");
    let after_backup = BankingGraph::generate(12, "late-", 3, 3, 3);
    after_backup.load(&client, 10).await?;
    drop(client);

    let t = Instant::now();
    let restored = recovery::restore_hcd(stack, &dest).await?;
    eprintln!(
        "restore: node {:?}, load {:?} ({} bytes), reconnect {:?}; total {:?}",
        restored.node,
        restored.load,
        restored.bytes,
        restored.reconnect,
        t.elapsed()
    );
    let client = stack.gremlin_client().await?;
    let after = BankingGraph::live_digest(&client).await?;
    anyhow::ensure!(
        after == before,
        "restored graph differs from the backup:\n after {after:?}\n before {before:?}"
    );
    Ok(())
}
