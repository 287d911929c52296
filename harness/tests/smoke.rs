//! End-to-end smoke test of the real stack (issue #2): every component up in containers with TLS
//! and generated secrets, the banking graph written and read back through Gremlin, JanusGraph's
//! keyspace found through CQL, clear text and wrong credentials refused, every Prometheus target
//! up, every query of the shipped dashboards (fixtures/monitoring/dashboards) answered by the live
//! Prometheus, and nothing left running afterwards.
//!
//! Needs a Docker engine and the images (`stackdrill images build`); without them it fails with
//! the reason, it never skips.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use stackdrill::images::{ImageSet, project_root};
use stackdrill::probe::tls::{PlainProtocol, handshake, plaintext_refused};
use stackdrill::probe::{canary, dashboard, prometheus};
use stackdrill::runtime::{Engine, KV_MOUNT, LABEL_RUN, RunningStack};
use stackdrill::secrets::Secret;
use stackdrill::stack::{StackConfig, new_run_id};
use stackdrill::workload::banking::BankingGraph;
use stackdrill::workload::cql;
use stackdrill::workload::gremlin::{GremlinClient, GremlinError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_stack_end_to_end() {
    let engine = Engine::connect().await.expect("a Docker engine");
    let images = ImageSet::resolve(&project_root()).expect("image recipes");
    let run_id = new_run_id();
    let work = std::env::temp_dir().join("stackdrill-tests");
    let config = StackConfig::new(&run_id, &work);
    let mut progress = |m: &str| eprintln!("[{run_id}] {m}");
    let stack = match RunningStack::up(&engine, &images, config, &mut progress).await {
        Ok(s) => s,
        Err(e) => {
            let _ = engine.remove_run(&run_id).await;
            panic!("the stack did not come up: {:?}", anyhow::Error::from(e));
        }
    };
    eprintln!(
        "startup: {:?}; total {:.1}s",
        stack
            .startup
            .iter()
            .map(|(n, d)| format!("{n}={:.1}s", d.as_secs_f64()))
            .collect::<Vec<_>>(),
        stack.total_startup.as_secs_f64()
    );
    let result = checks(&stack).await;
    stack.down(false).await.expect("teardown");
    let left = engine
        .containers_labelled(&format!("{LABEL_RUN}={run_id}"))
        .await
        .expect("list containers");
    assert!(left.is_empty(), "containers left after teardown: {left:?}");
    if let Err(e) = result {
        panic!("{e:?}");
    }
}

async fn checks(stack: &RunningStack) -> anyhow::Result<()> {
    // Gremlin over wss with SASL: write the banking graph and read it back.
    let client = stack.gremlin_client().await?;
    let graph = BankingGraph::generate(42, "smoke-", 60, 90, 200);
    let t = Instant::now();
    let requests = graph.load(&client, 50).await?;
    eprintln!(
        "loaded {} vertices and {} edges in {requests} requests, {:.1}s",
        60 + 90 + 200,
        90 + 400,
        t.elapsed().as_secs_f64()
    );
    let live = BankingGraph::live_digest(&client).await?;
    anyhow::ensure!(
        live == graph.expected_digest(),
        "the graph read back differs from what was written:\n live {live:?}\n want {:?}",
        graph.expected_digest()
    );
    let edge_ids = client
        .submit("g.E().hasLabel('owns').limit(3).id()", json!({}))
        .await?;
    anyhow::ensure!(
        edge_ids.len() == 3
            && edge_ids
                .iter()
                .all(|v| v.as_str().is_some_and(|s| !s.is_empty())),
        "JanusGraph edge ids did not decode: {edge_ids:?}"
    );

    // CQL over TLS with password auth: JanusGraph's keyspace exists.
    let admin = stack.admin_session().await?;
    let rows = admin
        .query_unpaged("SELECT keyspace_name FROM system_schema.keyspaces", &[])
        .await?
        .into_rows_result()?;
    let names: Vec<String> = rows
        .rows::<(String,)>()?
        .map(|r| r.map(|(n,)| n))
        .collect::<Result<_, _>>()?;
    anyhow::ensure!(
        names.iter().any(|n| n == "janusgraph"),
        "JanusGraph's keyspace not found among {names:?}"
    );
    let tables = admin
        .query_unpaged(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = 'janusgraph'",
            &[],
        )
        .await?
        .into_rows_result()?
        .rows_num();
    anyhow::ensure!(tables >= 5, "janusgraph keyspace has only {tables} tables");

    // Clear text to every TLS port is refused, and a TLS handshake with the run's CA succeeds
    // with at least TLS 1.2.
    for (name, ip, port) in stack.tls_endpoints() {
        let addr: SocketAddr = format!("{ip}:{port}").parse()?;
        let proto = if name.ends_with("cql") {
            PlainProtocol::Cql
        } else if name.ends_with("gremlin") {
            PlainProtocol::WebSocket
        } else {
            PlainProtocol::Http
        };
        let outcome = plaintext_refused(addr, proto).await?;
        anyhow::ensure!(
            outcome.is_refused(),
            "{name} ({addr}) served clear text: {outcome:?}"
        );
        let facts = handshake(addr, &stack.ca_pem)
            .await
            .map_err(|e| anyhow::anyhow!("TLS handshake with {name} ({addr}) failed: {e}"))?;
        anyhow::ensure!(
            facts.protocol == "TLSv1_2" || facts.protocol == "TLSv1_3",
            "{name} negotiated {}",
            facts.protocol
        );
        eprintln!(
            "{name:<20} {addr}: clear text {outcome:?}; TLS {} {}",
            facts.protocol, facts.cipher
        );
    }

    // Wrong credentials are rejected: Gremlin, CQL, Vault.
    let mut opts = stack.gremlin_options();
    opts.password = Secret::generate(24);
    let bad = GremlinClient::connect(opts).await?;
    match bad.submit("g.V().count()", json!({})).await {
        Err(GremlinError::Unauthorized { .. }) => {}
        other => anyhow::bail!("Gremlin accepted a wrong password: {other:?}"),
    }
    let wrong = Secret::generate(24);
    match cql::connect(
        &stack.cql_node(),
        "janusgraph",
        &wrong,
        &stack.ca_pem,
        Duration::from_secs(10),
    )
    .await
    {
        Err(e) => anyhow::ensure!(
            e.reason.to_ascii_lowercase().contains("auth")
                || e.reason.to_ascii_lowercase().contains("password"),
            "CQL refused a wrong password for another reason: {e}"
        ),
        Ok(_) => anyhow::bail!("CQL accepted a wrong password"),
    }
    match stack
        .vault()
        .kv_get(
            &Secret::generate(28),
            KV_MOUNT,
            "janusgraph",
            "cql_password",
        )
        .await
    {
        Err(stackdrill::secrets::VaultError::Status { status: 403, .. }) => {}
        other => anyhow::bail!("Vault did not refuse a bogus token with 403: {other:?}"),
    }

    // Prometheus scrapes every target over TLS: up == 1 for each job.
    let http = stack.https_client();
    let want = [
        "alertmanager",
        "blackbox",
        "hcd",
        "janusgraph",
        "node",
        "prometheus",
        "tls",
        "vault",
        "vault-health",
    ];
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let up = prometheus::query(&http, &stack.prometheus_url(), "up").await?;
        let mut jobs: Vec<(String, f64)> = up
            .iter()
            .map(|s| (s.labels.get("job").cloned().unwrap_or_default(), s.value))
            .collect();
        jobs.sort_by(|a, b| a.0.cmp(&b.0));
        let all_up = want
            .iter()
            .all(|j| jobs.iter().any(|(n, v)| n == j && *v == 1.0))
            && jobs.iter().all(|(_, v)| *v == 1.0);
        if all_up {
            eprintln!("Prometheus targets: {jobs:?}");
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "not every Prometheus target is up after 90 s: {jobs:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    dashboard_queries_answer(stack).await?;

    // No generated secret appears in clear anywhere: rendered configs, service and audit logs,
    // data files, container environments and raw container output.
    let canaries = stackdrill::secrets::Redactor::global().values();
    let scan = canary::scan(stack, &canaries).await;
    eprintln!(
        "canary scan: {} secrets looked for in {} files ({} bytes) and {} containers",
        scan.canaries, scan.files, scan.bytes, scan.containers
    );
    anyhow::ensure!(
        scan.canaries >= 5 && scan.files >= 20 && scan.containers == 7,
        "the canary scan covered too little: {scan:?}"
    );
    anyhow::ensure!(
        scan.findings.is_empty(),
        "generated secrets found in clear: {:?}",
        scan.findings
    );
    Ok(())
}

/// Every PromQL expression of every shipped dashboard returns at least one series from the live
/// Prometheus. Rates need two scrapes inside their window, so this waits (with a deadline) and
/// then names each panel query that still returned nothing.
async fn dashboard_queries_answer(stack: &RunningStack) -> anyhow::Result<()> {
    let queries = dashboard::queries_in(&project_root().join("fixtures/monitoring/dashboards"))?;
    anyhow::ensure!(!queries.is_empty(), "no dashboard queries found");
    let http = stack.https_client();
    let t = Instant::now();
    let deadline = t + Duration::from_secs(120);
    loop {
        let mut empty = Vec::new();
        for q in &queries {
            match prometheus::query(&http, &stack.prometheus_url(), &q.expr).await {
                Ok(samples) if !samples.is_empty() => {}
                Ok(_) => empty.push(format!("{q}: no series")),
                Err(e) => empty.push(format!("{q}: {}", stackdrill::workload::error_chain(&e))),
            }
        }
        if empty.is_empty() {
            eprintln!(
                "dashboards: all {} panel queries answered after {:.1}s",
                queries.len(),
                t.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} of {} dashboard queries returned nothing after {:.0} s:\n  {}",
            empty.len(),
            queries.len(),
            t.elapsed().as_secs_f64(),
            empty.join("\n  ")
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}
