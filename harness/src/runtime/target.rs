//! [`ContainersTarget`]: the runner's [`Target`] over a [`RunningStack`] in local containers.
//!
//! Probes never take the stack lock: they use a [`ProbeContext`] copied at start (endpoints, the
//! CA, credentials) and cached connections, so they keep sampling while a fault, a restart or a
//! restore holds the stack. A probe that reaches the system and gets an error or no answer is
//! `fail` (the system is not serving); `unknown` is kept for observations the harness itself could
//! not make. Workloads run as tasks on an open-model schedule and record every operation.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use scylla::client::session::Session;
use scylla::statement::Consistency;
use serde_json::{Value, json};
use tokio::sync::{
    Mutex, RwLock, RwLockMappedWriteGuard, RwLockReadGuard, RwLockWriteGuard, Semaphore, watch,
};

use super::{Engine, RunningStack};
use crate::fault::{LinkMode, LinkName};
use crate::history::{History, OpKind, Outcome, ProbeStatus};
use crate::images::ImageSet;
use crate::probe::audit;
use crate::probe::prometheus as promql;
use crate::probe::tls::{
    LegacyOutcome, LegacyVersion, PlainProtocol, foreign_ca_outcome, handshake, legacy_outcome,
    plaintext_refused,
};
use crate::recovery::{self, BackupOptions};
use crate::runner::{
    FaultHandle, Measure, ProbeOutcome, RecoveryOutcome, Target, TargetError, WorkloadId,
    WorkloadSummary,
};
use crate::scenario::{
    Component as SC, Credential, Expect, Fault, FaultSpec, Listener, ProbeCheck, ProbeSpec,
    Recovery, RecoverySpec, StackSpec, TlsOffer, TlsVersion, WorkloadKindSpec, WorkloadSpec,
    WriterTarget,
};
use crate::secrets::{Redactor, Secret};
use crate::stack::StackConfig;
use crate::workload::banking::BankingGraph;
use crate::workload::gremlin::{GremlinClient, GremlinOptions};
use crate::workload::ledger::{SequenceWriter, WriteOutcome, cql_schema};
use crate::workload::schedule::{Arrivals, Schedule};

/// What probes need, copied out of the stack once it is up.
#[derive(Debug, Clone)]
struct ProbeContext {
    gremlin: GremlinOptions,
    cql_node: String,
    ca_pem: String,
    admin_password: Secret,
    prometheus: String,
    alertmanager: String,
    /// TLS endpoints by component and listener (every node's).
    endpoints: BTreeMap<(SC, Listener), Vec<SocketAddr>>,
    vault: crate::secrets::VaultClient,
    janusgraph_token: PathBuf,
    consistency: Consistency,
    run_dir: PathBuf,
    /// When the stack was up (audit entries before it are not the scenario's).
    started: time::OffsetDateTime,
    /// JanusGraph's CQL password now, and before the last rotation.
    janusgraph_password: Secret,
    previous_password: Option<Secret>,
}

impl ProbeContext {
    /// A new CQL session as the harness's admin role.
    async fn admin_cql(
        &self,
        timeout: Duration,
    ) -> Result<Session, crate::workload::cql::CqlConnectError> {
        crate::workload::cql::connect(
            &self.cql_node,
            super::HCD_ADMIN_ROLE,
            &self.admin_password,
            &self.ca_pem,
            timeout,
        )
        .await
    }
}

/// What a fault did, to undo it.
#[derive(Debug, Clone)]
enum Applied {
    Killed(String),
    Paused(String),
    Link(LinkName),
    Disk,
    Destroyed(u8),
    /// A service's Vault token was revoked (the service is stopped).
    Revoked(String),
    /// A short-lived certificate was installed on a component: heal rolls it over.
    ShortCert(String),
    /// Vault was sealed: heal unseals it with the run's key.
    Sealed,
    Nothing,
}

/// A Vault path a `revoke_secret` fault names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SecretPath {
    /// `auth/token/<service>`: the token a service renders its configuration with.
    ServiceToken(String),
    /// `<mount>/<name>?version=N`: one version of a KV v2 secret.
    KvVersion {
        mount: String,
        name: String,
        version: u64,
    },
}

fn parse_secret_path(path: &str) -> Option<SecretPath> {
    if let Some(service) = path.strip_prefix("auth/token/") {
        return (service == "janusgraph").then(|| SecretPath::ServiceToken(service.to_owned()));
    }
    let (secret, query) = path.split_once("?version=")?;
    let (mount, name) = secret.split_once('/')?;
    let name = name.strip_prefix("data/").unwrap_or(name);
    Some(SecretPath::KvVersion {
        mount: mount.to_owned(),
        name: name.to_owned(),
        version: query.parse().ok()?,
    })
}

/// The first `n` lines of `text`.
fn first_lines(text: &str, n: usize) -> String {
    text.lines().take(n).collect::<Vec<_>>().join(" / ")
}

struct RunningWorkload {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<u64>,
}

/// A target that starts its own stack in local containers.
pub struct ContainersTarget {
    engine: Engine,
    images: ImageSet,
    work_dir: PathBuf,
    run_id: String,
    data_volume_mb: Option<u64>,
    keep_files: bool,
    stack: RwLock<Option<RunningStack>>,
    ctx: RefCell<Option<ProbeContext>>,
    gremlin: Mutex<Option<GremlinClient>>,
    cql: Mutex<Option<Arc<Session>>>,
    faults: RefCell<BTreeMap<u64, Applied>>,
    workloads: RefCell<BTreeMap<u64, RunningWorkload>>,
    writers: RefCell<BTreeMap<String, String>>,
    next_id: AtomicU64,
    /// The run's history, for notes from faults and procedures.
    history: RefCell<Option<History>>,
}

impl std::fmt::Debug for ContainersTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainersTarget")
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

fn failed(what: impl Into<String>, e: impl std::fmt::Display) -> TargetError {
    TargetError::Failed {
        what: what.into(),
        message: Redactor::global().redact(&e.to_string()),
    }
}

impl ContainersTarget {
    /// A target for one scenario run. `needs_data_volume`: the plan fills a disk, so node 1 gets
    /// a filesystem of its own.
    pub fn new(
        engine: Engine,
        images: ImageSet,
        work_dir: PathBuf,
        run_id: String,
        needs_data_volume: bool,
    ) -> Self {
        Self {
            engine,
            images,
            work_dir,
            run_id,
            data_volume_mb: needs_data_volume.then_some(256),
            keep_files: std::env::var("STACKDRILL_KEEP_FILES").is_ok_and(|v| v == "1"),
            stack: RwLock::new(None),
            ctx: RefCell::new(None),
            gremlin: Mutex::new(None),
            cql: Mutex::new(None),
            faults: RefCell::new(BTreeMap::new()),
            workloads: RefCell::new(BTreeMap::new()),
            writers: RefCell::new(BTreeMap::new()),
            next_id: AtomicU64::new(1),
            history: RefCell::new(None),
        }
    }

    /// Installs a certificate on one component (see [`RunningStack::install_certificate`]);
    /// JanusGraph restarts, so the cached Gremlin client is dropped.
    async fn install_certificate(
        &self,
        what: &str,
        name: &str,
        validity: crate::pki::Validity,
    ) -> Result<crate::runtime::CertInstalled, TargetError> {
        let mut stack = self.stack_mut(what).await?;
        let installed = stack
            .install_certificate(name, validity)
            .await
            .map_err(|e| failed(what, crate::errors::render_chain(&e)))?;
        drop(stack);
        if name == "janusgraph" {
            *self.gremlin.lock().await = None;
        }
        Ok(installed)
    }

    /// Writes a note into the run's history (redacted).
    fn note(&self, text: impl AsRef<str>) {
        if let Some(h) = self.history.borrow().as_ref() {
            h.note(Redactor::global().redact(text.as_ref()));
        }
    }

    /// The target for `plan`: node 1 gets a data volume of its own when the plan fills a disk.
    pub fn for_plan(
        engine: &Engine,
        images: &ImageSet,
        work_dir: &std::path::Path,
        run_id: String,
        plan: &crate::scenario::Plan,
    ) -> Self {
        let disk = plan
            .faults()
            .any(|f| matches!(f.fault, Fault::DiskFull { .. }));
        Self::new(
            engine.clone(),
            images.clone(),
            work_dir.to_owned(),
            run_id,
            disk,
        )
    }

    fn ctx(&self) -> Option<ProbeContext> {
        self.ctx.borrow().clone()
    }

    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    async fn gremlin_submit(&self, ctx: &ProbeContext, q: &str) -> Result<Vec<Value>, String> {
        let mut g = self.gremlin.lock().await;
        if g.is_none() {
            *g = Some(
                GremlinClient::connect(ctx.gremlin.clone())
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        let res = g
            .as_ref()
            .expect("connected above")
            .submit(q, json!({}))
            .await;
        if res.is_err() {
            *g = None;
        }
        res.map_err(|e| e.to_string())
    }

    async fn cql_session(&self, ctx: &ProbeContext) -> Result<Arc<Session>, String> {
        let mut c = self.cql.lock().await;
        if let Some(s) = c.as_ref() {
            return Ok(Arc::clone(s));
        }
        let s = ctx
            .admin_cql(Duration::from_secs(5))
            .await
            .map_err(|e| e.to_string())?;
        let s = Arc::new(s);
        *c = Some(Arc::clone(&s));
        Ok(s)
    }

    /// The addresses a TLS probe checks: every node's listener, with `port` overriding.
    fn endpoints(
        ctx: &ProbeContext,
        c: SC,
        listener: Listener,
        port: Option<u16>,
    ) -> Result<Vec<SocketAddr>, String> {
        let listener = if c == SC::JmxExporters {
            Listener::Metrics
        } else {
            listener
        };
        let mut addrs = ctx.endpoints.get(&(c, listener)).cloned().ok_or_else(|| {
            if listener == Listener::Internode {
                "a one-node HCD has no internode traffic (internode TLS is on with three nodes)"
                    .to_owned()
            } else {
                format!("{c} ({listener}) is not part of this stack")
            }
        })?;
        if let Some(p) = port {
            addrs.iter_mut().for_each(|a| a.set_port(p));
        }
        Ok(addrs)
    }

    fn component_name(c: SC, node: Option<u8>) -> Result<String, TargetError> {
        Ok(match c {
            SC::Hcd => format!("hcd-{}", node.unwrap_or(1)),
            SC::Janusgraph => "janusgraph".into(),
            SC::Vault => "vault".into(),
            SC::Prometheus => "prometheus".into(),
            SC::Alertmanager => "alertmanager".into(),
            SC::Blackbox => "blackbox".into(),
            SC::NodeExporter => "node-exporter".into(),
            SC::JmxExporters => {
                return Err(TargetError::Unsupported {
                    what: "a fault on the JMX exporters (they live inside the JVMs)".into(),
                });
            }
        })
    }

    fn link_for(c: SC) -> Result<LinkName, TargetError> {
        match c {
            SC::Hcd => Ok(LinkName::janusgraph_to_hcd()),
            SC::Janusgraph => Ok(LinkName::client_to_janusgraph()),
            other => Err(TargetError::Unsupported {
                what: format!(
                    "a link fault on {other} (links: hcd = JanusGraph→HCD, janusgraph = clients→JanusGraph)"
                ),
            }),
        }
    }

    /// Reads an audit log from the run folder and judges it: at least one entry matches, and no
    /// secret of the run appears in clear anywhere in the file.
    fn audit_probe(
        ctx: &ProbeContext,
        component: SC,
        user: Option<&str>,
        keyspace: Option<&str>,
        operation: Option<&str>,
        path: Option<&str>,
    ) -> ProbeOutcome {
        let files: Vec<PathBuf> = match component {
            SC::Vault => vec![ctx.run_dir.join("vault/logs/audit.log")],
            _ => std::fs::read_dir(&ctx.run_dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("hcd-"))
                .map(|e| e.path().join("logs/audit.log"))
                .collect(),
        };
        let mut text = String::new();
        for f in &files {
            match std::fs::read_to_string(f) {
                Ok(t) => text.push_str(&t),
                Err(e) => {
                    return ProbeOutcome::unknown(format!("cannot read {}: {e}", f.display()));
                }
            }
        }
        if files.is_empty() {
            return ProbeOutcome::unknown("no audit log in the run folder");
        }
        let leaked = Redactor::global()
            .values()
            .iter()
            .filter(|v| v.len() >= 8 && text.contains(v.as_str()))
            .count();
        let (matched, observed) = match component {
            SC::Vault => {
                let path = path.unwrap_or("secret/data/janusgraph");
                let since = ctx
                    .started
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
                let t = audit::vault_trail(&text, path, &since);
                if !t.clear.is_empty() {
                    return ProbeOutcome::fail(format!(
                        "{} value(s) of {path} are in clear in the audit log (keys: {})",
                        t.clear.len(),
                        t.clear.join(", ")
                    ));
                }
                (
                    t.reads,
                    format!(
                        "{} entries; {} read(s) of {path}, {} value(s), all HMAC'd",
                        t.entries, t.reads, t.values
                    ),
                )
            }
            _ => {
                let since = (ctx.started.unix_timestamp_nanos() / 1_000_000) as i64;
                let entries: Vec<audit::CassandraEntry> = text
                    .lines()
                    .filter_map(audit::CassandraEntry::parse)
                    .collect();
                let n = entries
                    .iter()
                    .filter(|e| e.matches(since, user, keyspace, operation))
                    .count();
                (
                    n,
                    format!(
                        "{} entries; {n} by {} on {} of {}",
                        entries.len(),
                        user.unwrap_or("anyone"),
                        keyspace.unwrap_or("any keyspace"),
                        operation.unwrap_or("any operation")
                    ),
                )
            }
        };
        if leaked > 0 {
            return ProbeOutcome::fail(format!(
                "{leaked} secret value(s) of the run appear in clear in the audit log"
            ));
        }
        ProbeOutcome {
            status: if matched > 0 {
                ProbeStatus::Pass
            } else {
                ProbeStatus::Fail
            },
            value: Some(matched as f64),
            detail: (matched == 0).then(|| format!("no matching entry: {observed}")),
            observed: Some(observed),
        }
    }

    /// The running stack for a shared operation, or why there is none.
    async fn stack_ref(
        &self,
        what: &str,
    ) -> Result<RwLockReadGuard<'_, RunningStack>, TargetError> {
        RwLockReadGuard::try_map(self.stack.read().await, Option::as_ref)
            .map_err(|_| failed(what, "the stack is not up"))
    }

    /// The running stack for an operation that changes it (restart, destroy, restore).
    async fn stack_mut(
        &self,
        what: &str,
    ) -> Result<RwLockMappedWriteGuard<'_, RunningStack>, TargetError> {
        RwLockWriteGuard::try_map(self.stack.write().await, Option::as_mut)
            .map_err(|_| failed(what, "the stack is not up"))
    }

    async fn set_link(&self, link: &LinkName, mode: LinkMode) -> Result<(), TargetError> {
        let stack = self.stack_ref("link fault").await?;
        let proxy = stack.proxy(link).ok_or_else(|| TargetError::Unsupported {
            what: format!("a fault on {link}: this stack has no proxy there (three-node HCD)"),
        })?;
        proxy
            .set(mode)
            .map_err(|e| failed(format!("setting {link} to {mode}"), e))?;
        proxy
            .confirm(Duration::from_millis(1500))
            .await
            .map_err(|e| {
                failed(
                    format!("confirming {mode} on {link}"),
                    crate::workload::error_chain(&e),
                )
            })?;
        Ok(())
    }
}

impl Target for ContainersTarget {
    async fn start(&self, spec: &StackSpec, history: &History) -> Result<(), TargetError> {
        if !spec.images.is_empty() || !spec.config.is_empty() {
            return Err(TargetError::Unsupported {
                what: "per-scenario image or configuration overrides (set STACKDRILL_IMAGE_<NAME> instead)".into(),
            });
        }
        let mut config = StackConfig::new(&self.run_id, &self.work_dir);
        config.hcd_nodes = spec.hcd_nodes;
        config.graph = spec.components.contains(&SC::Janusgraph);
        // The exporters come with monitoring: naming any monitoring component brings it all.
        config.monitoring = [
            SC::Prometheus,
            SC::Alertmanager,
            SC::Blackbox,
            SC::NodeExporter,
        ]
        .iter()
        .any(|c| spec.components.contains(c));
        config.hcd_data_volume_mb = self.data_volume_mb;
        let h = history.clone();
        let mut progress = move |m: &str| h.note(m.to_owned());
        let stack = RunningStack::up(&self.engine, &self.images, config, &mut progress)
            .await
            .map_err(|e| failed("bringing the stack up", crate::errors::render_chain(&e)))?;
        for (name, took) in &stack.startup {
            history.note(format!("startup {name} {:.1}s", took.as_secs_f64()));
        }
        let mut endpoints: BTreeMap<(SC, Listener), Vec<SocketAddr>> = BTreeMap::new();
        let lo = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        let nodes: Vec<std::net::Ipv4Addr> = (1..=stack.config.hcd_nodes)
            .map(|n| crate::stack::Component::Hcd(n).ip())
            .collect();
        let per_node = |ports: &mut dyn Iterator<Item = u16>| -> Vec<SocketAddr> {
            nodes
                .iter()
                .zip(ports)
                .map(|(ip, p)| SocketAddr::from((*ip, p)))
                .collect()
        };
        endpoints.insert(
            (SC::Hcd, Listener::Client),
            per_node(&mut std::iter::repeat(stack.ports.cql)),
        );
        let hcd_metrics = per_node(&mut stack.ports.hcd_metrics.iter().copied());
        endpoints.insert((SC::Hcd, Listener::Metrics), hcd_metrics.clone());
        if stack.config.hcd_nodes > 1 {
            endpoints.insert(
                (SC::Hcd, Listener::Internode),
                per_node(&mut std::iter::repeat(stack.ports.storage)),
            );
        }
        let mut exporters = hcd_metrics;
        if stack.config.graph {
            endpoints.insert(
                (SC::Janusgraph, Listener::Client),
                vec![lo(stack.ports.gremlin)],
            );
            endpoints.insert(
                (SC::Janusgraph, Listener::Metrics),
                vec![lo(stack.ports.janusgraph_metrics)],
            );
            exporters.push(lo(stack.ports.janusgraph_metrics));
        }
        endpoints.insert((SC::JmxExporters, Listener::Metrics), exporters);
        endpoints.insert((SC::Vault, Listener::Client), vec![lo(stack.ports.vault)]);
        if stack.config.monitoring {
            endpoints.insert(
                (SC::Prometheus, Listener::Client),
                vec![lo(stack.ports.prometheus)],
            );
            endpoints.insert(
                (SC::Alertmanager, Listener::Client),
                vec![lo(stack.ports.alertmanager)],
            );
            endpoints.insert(
                (SC::Blackbox, Listener::Client),
                vec![lo(stack.ports.blackbox)],
            );
            endpoints.insert(
                (SC::NodeExporter, Listener::Client),
                vec![lo(stack.ports.node_exporter)],
            );
        }
        let (_, consistency) = stack.config.replication();
        *self.ctx.borrow_mut() = Some(ProbeContext {
            gremlin: stack.client_gremlin_options(),
            cql_node: stack.cql_node(),
            ca_pem: stack.ca_pem.clone(),
            admin_password: stack.hcd_admin_password().clone(),
            prometheus: stack.prometheus_url(),
            alertmanager: stack.alertmanager_url(),
            endpoints,
            vault: stack.vault().clone(),
            janusgraph_token: stack.config.run_dir.join("secrets/janusgraph.token"),
            consistency: if consistency == "QUORUM" {
                Consistency::Quorum
            } else {
                Consistency::One
            },
            run_dir: stack.config.run_dir.clone(),
            started: time::OffsetDateTime::now_utc(),
            janusgraph_password: stack.janusgraph_cql_password().clone(),
            previous_password: None,
        });
        *self.history.borrow_mut() = Some(history.clone());
        if let Some((persons, accounts, txns)) = spec.dataset {
            let t = std::time::Instant::now();
            let graph = BankingGraph::generate(
                u64::from(persons) ^ 0x5d_ed,
                "",
                persons as usize,
                accounts as usize,
                txns as usize,
            );
            let client = stack
                .gremlin_client()
                .await
                .map_err(|e| failed("loading the dataset", e))?;
            graph
                .load(&client, 100)
                .await
                .map_err(|e| failed("loading the dataset", e))?;
            history.note(format!(
                "dataset: {persons} persons, {accounts} accounts, {txns} transactions loaded in {:.1}s (digest {})",
                t.elapsed().as_secs_f64(),
                graph.expected_digest().content_sha256
            ));
        }
        *self.stack.write().await = Some(stack);
        Ok(())
    }

    async fn probe(&self, probe: &ProbeSpec) -> ProbeOutcome {
        let Some(ctx) = self.ctx() else {
            return ProbeOutcome::unknown("the stack is not up");
        };
        let judged = |v: f64, expect: &Option<Expect>, observed: String| -> ProbeOutcome {
            let ok = expect.as_ref().is_none_or(|e| e.accepts(v));
            ProbeOutcome {
                status: if ok {
                    ProbeStatus::Pass
                } else {
                    ProbeStatus::Fail
                },
                value: Some(v),
                observed: Some(observed),
                detail: (!ok).then(|| match expect {
                    Some(e) => format!("observed {v}, expected {e}"),
                    None => format!("observed {v}"),
                }),
            }
        };
        match &probe.check {
            ProbeCheck::Gremlin { query, expect } => match self.gremlin_submit(&ctx, query).await {
                Ok(items) => {
                    let v = items
                        .first()
                        .and_then(Value::as_f64)
                        .unwrap_or(items.len() as f64);
                    judged(v, expect, Value::Array(items).to_string())
                }
                Err(e) => ProbeOutcome::fail(e),
            },
            ProbeCheck::Cql { query, expect } => {
                let session = match self.cql_session(&ctx).await {
                    Ok(s) => s,
                    Err(e) => return ProbeOutcome::fail(e),
                };
                let mut st = scylla::statement::Statement::new(query.as_str());
                st.set_consistency(ctx.consistency);
                st.set_request_timeout(Some(probe.timeout));
                match session.query_unpaged(st, &[]).await {
                    Ok(r) => {
                        let n = r.into_rows_result().map_or(0, |rows| rows.rows_num());
                        judged(n as f64, expect, format!("{n} rows"))
                    }
                    Err(e) => ProbeOutcome::fail(crate::workload::error_chain(&e)),
                }
            }
            ProbeCheck::VaultHealth => match ctx.vault.health().await {
                Ok(h) if h["initialized"] == true && h["sealed"] == false => ProbeOutcome {
                    observed: Some(h.to_string()),
                    ..ProbeOutcome::pass()
                },
                Ok(h) => ProbeOutcome::fail(format!("not serving: {h}")),
                Err(e) => ProbeOutcome::fail(e.to_string()),
            },
            ProbeCheck::VaultAuth { path } => {
                let token = match std::fs::read_to_string(&ctx.janusgraph_token) {
                    Ok(t) => Secret::from_string(t.trim().to_owned()),
                    Err(e) => return ProbeOutcome::unknown(format!("no JanusGraph token: {e}")),
                };
                let path = path.clone().unwrap_or_else(|| "secret/janusgraph".into());
                let Some((mount, name)) = path.split_once('/') else {
                    return ProbeOutcome::unknown(format!("path {path:?} is not MOUNT/NAME"));
                };
                match ctx.vault.kv_field_count(&token, mount, name).await {
                    Ok(n) => ProbeOutcome {
                        observed: Some(format!("{path}: {n} field(s) readable")),
                        ..ProbeOutcome::pass()
                    },
                    Err(e) => ProbeOutcome::fail(e.to_string()),
                }
            }
            ProbeCheck::Tls {
                component,
                listener,
                port,
                min_version,
                valid_for,
                expect,
            } => {
                let addrs = match Self::endpoints(&ctx, *component, *listener, *port) {
                    Ok(a) => a,
                    Err(e) => return ProbeOutcome::unknown(e),
                };
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let mut seen = Vec::new();
                let mut problems = Vec::new();
                let mut least_days = f64::INFINITY;
                for addr in addrs {
                    let f = match handshake(addr, &ctx.ca_pem).await {
                        Ok(f) => f,
                        // With an expectation on days left, an expired certificate is a reading.
                        Err(e) if expect.is_some() && e.expired_at().is_some() => {
                            let days = (e.expired_at().unwrap_or(now) - now) as f64 / 86_400.0;
                            least_days = least_days.min(days);
                            seen.push(format!(
                                "{addr} certificate expired {:.0}s ago",
                                -days * 86_400.0
                            ));
                            continue;
                        }
                        Err(e) => {
                            problems.push(format!("{addr}: {e}"));
                            continue;
                        }
                    };
                    let days = f.days_left(now);
                    least_days = least_days.min(days);
                    seen.push(format!(
                        "{addr} {} {} {} {days:.1}d left",
                        f.protocol, f.cipher, f.subject
                    ));
                    let version_ok = match min_version {
                        TlsVersion::V1_2 => f.protocol == "TLSv1_2" || f.protocol == "TLSv1_3",
                        TlsVersion::V1_3 => f.protocol == "TLSv1_3",
                    };
                    if !version_ok {
                        problems.push(format!("{addr}: negotiated {}", f.protocol));
                    }
                    if let Some(need) = valid_for {
                        let need_days = need.as_secs_f64() / 86_400.0;
                        if days < need_days {
                            problems.push(format!(
                                "{addr}: the certificate ({}) expires in {days:.2} days, less than the {need_days:.2} required",
                                f.subject
                            ));
                        }
                    }
                }
                if let Some(x) = expect
                    && least_days.is_finite()
                    && !x.accepts(least_days)
                {
                    problems.push(format!("{least_days:.4} days left is outside {x}"));
                }
                ProbeOutcome {
                    status: if problems.is_empty() {
                        ProbeStatus::Pass
                    } else {
                        ProbeStatus::Fail
                    },
                    value: least_days.is_finite().then_some(least_days),
                    observed: Some(seen.join("; ")),
                    detail: (!problems.is_empty()).then(|| problems.join("; ")),
                }
            }
            ProbeCheck::PortRefusesPlaintext {
                component,
                listener,
                port,
            } => {
                let addrs = match Self::endpoints(&ctx, *component, *listener, *port) {
                    Ok(a) => a,
                    Err(e) => return ProbeOutcome::unknown(e),
                };
                let proto = match (component, listener) {
                    (SC::Hcd, Listener::Client) => PlainProtocol::Cql,
                    (SC::Janusgraph, Listener::Client) => PlainProtocol::WebSocket,
                    _ => PlainProtocol::Http,
                };
                let mut seen = Vec::new();
                for addr in addrs {
                    match plaintext_refused(addr, proto).await {
                        Ok(o) if o.is_refused() => seen.push(format!("{addr}: {o:?}")),
                        Ok(o) => {
                            return ProbeOutcome::fail(format!("{addr} served clear text: {o:?}"));
                        }
                        Err(e) => {
                            return ProbeOutcome::unknown(format!(
                                "could not connect to {addr}: {e}"
                            ));
                        }
                    }
                }
                ProbeOutcome {
                    observed: Some(seen.join("; ")),
                    ..ProbeOutcome::pass()
                }
            }
            ProbeCheck::TlsRefuses {
                component,
                listener,
                port,
                offer,
            } => {
                let addrs = match Self::endpoints(&ctx, *component, *listener, *port) {
                    Ok(a) => a,
                    Err(e) => return ProbeOutcome::unknown(e),
                };
                let mut seen = Vec::new();
                for addr in addrs {
                    let verdict = match offer {
                        TlsOffer::Tls10 | TlsOffer::Tls11 => {
                            let v = if *offer == TlsOffer::Tls10 {
                                LegacyVersion::Tls10
                            } else {
                                LegacyVersion::Tls11
                            };
                            match legacy_outcome(addr, v).await {
                                Ok(LegacyOutcome::Refused(how)) => Ok(Ok(how)),
                                Ok(LegacyOutcome::Accepted) => {
                                    Ok(Err(format!("{addr} accepted {offer}")))
                                }
                                Err(e) => Err(format!("{addr}: {e}")),
                            }
                        }
                        TlsOffer::ForeignCa => foreign_ca_outcome(addr)
                            .await
                            .map_err(|e| format!("{addr}: {e}")),
                    };
                    match verdict {
                        Ok(Ok(how)) => seen.push(format!("{addr}: {how}")),
                        Ok(Err(defect)) => return ProbeOutcome::fail(defect),
                        Err(e) => return ProbeOutcome::unknown(e),
                    }
                }
                ProbeOutcome {
                    observed: Some(seen.join("; ")),
                    ..ProbeOutcome::pass()
                }
            }
            ProbeCheck::CqlLogin { credential } => {
                let password = match credential {
                    Credential::Current => ctx.janusgraph_password.clone(),
                    Credential::Previous => match &ctx.previous_password {
                        Some(p) => p.clone(),
                        None => {
                            return ProbeOutcome::unknown(
                                "no rotation happened yet: there is no previous password",
                            );
                        }
                    },
                };
                let verdict = crate::runtime::login_verdict(
                    crate::workload::cql::connect(
                        &ctx.cql_node,
                        crate::runtime::JANUSGRAPH_CQL_ROLE,
                        &password,
                        &ctx.ca_pem,
                        Duration::from_secs(5),
                    )
                    .await
                    .map(drop),
                );
                let want = *credential == Credential::Current;
                match verdict {
                    Ok(logged_in) if logged_in == want => ProbeOutcome {
                        observed: Some(if logged_in { "logged in" } else { "rejected" }.into()),
                        ..ProbeOutcome::pass()
                    },
                    Ok(logged_in) => ProbeOutcome::fail(format!(
                        "the {credential} password was {}",
                        if logged_in { "accepted" } else { "rejected" }
                    )),
                    Err(e) => ProbeOutcome::unknown(e),
                }
            }
            ProbeCheck::AuditLog {
                component,
                user,
                keyspace,
                operation,
                path,
            } => Self::audit_probe(
                &ctx,
                *component,
                user.as_deref(),
                keyspace.as_deref(),
                operation.as_deref(),
                path.as_deref(),
            ),
            ProbeCheck::Promql { expression, expect } => {
                let http = https_client(&ctx.ca_pem);
                match promql::query(&http, &ctx.prometheus, expression).await {
                    Ok(samples) if samples.is_empty() => ProbeOutcome::fail("no data"),
                    Ok(samples) => judged(
                        samples[0].value,
                        expect,
                        format!("{} series, first {}", samples.len(), samples[0].value),
                    ),
                    Err(e) => ProbeOutcome::fail(crate::workload::error_chain(&e)),
                }
            }
            ProbeCheck::Alert { alert, state } => {
                let http = https_client(&ctx.ca_pem);
                match promql::firing_alerts(&http, &ctx.alertmanager).await {
                    Ok(firing) => {
                        let is_firing = firing.iter().any(|a| a == alert);
                        let want_firing = matches!(state, crate::scenario::AlertState::Firing);
                        ProbeOutcome {
                            status: if is_firing == want_firing {
                                ProbeStatus::Pass
                            } else {
                                ProbeStatus::Fail
                            },
                            value: None,
                            observed: Some(if is_firing { "firing" } else { "not firing" }.into()),
                            detail: None,
                        }
                    }
                    Err(e) => ProbeOutcome::fail(crate::workload::error_chain(&e)),
                }
            }
            ProbeCheck::GraphDigest { .. } => {
                let client = match GremlinClient::connect(ctx.gremlin.clone()).await {
                    Ok(c) => c,
                    Err(e) => return ProbeOutcome::fail(e.to_string()),
                };
                match BankingGraph::live_digest(&client).await {
                    Ok(d) => ProbeOutcome {
                        observed: Some(format!(
                            "{} v={:?} e={:?}",
                            d.content_sha256, d.vertices, d.edges
                        )),
                        ..ProbeOutcome::pass()
                    },
                    Err(e) => ProbeOutcome::fail(e.to_string()),
                }
            }
        }
    }

    async fn inject(&self, fault: &FaultSpec) -> Result<FaultHandle, TargetError> {
        let what = fault.fault.describe();
        let applied = match &fault.fault {
            Fault::Kill { target, node } => {
                let name = Self::component_name(*target, *node)?;
                let stack = self.stack_ref(&what).await?;
                stack
                    .kill(&name)
                    .await
                    .map_err(|e| failed(&what, crate::errors::render_chain(&e)))?;
                Applied::Killed(name)
            }
            Fault::Restart { target, node } => {
                let name = Self::component_name(*target, *node)?;
                let mut stack = self.stack_mut(&what).await?;
                stack
                    .restart(&name)
                    .await
                    .map_err(|e| failed(&what, crate::errors::render_chain(&e)))?;
                Applied::Nothing
            }
            Fault::Pause { target, node } => {
                let name = Self::component_name(*target, *node)?;
                let stack = self.stack_ref(&what).await?;
                stack
                    .pause(&name)
                    .await
                    .map_err(|e| failed(&what, crate::errors::render_chain(&e)))?;
                Applied::Paused(name)
            }
            Fault::Partition { between } => {
                let link = match between {
                    [SC::Janusgraph, SC::Hcd] | [SC::Hcd, SC::Janusgraph] => {
                        LinkName::janusgraph_to_hcd()
                    }
                    [a, b] => {
                        return Err(TargetError::Unsupported {
                            what: format!(
                                "a partition between {a} and {b} (supported: janusgraph|hcd; clients→JanusGraph via `loss`/`latency` on janusgraph)"
                            ),
                        });
                    }
                };
                self.set_link(&link, LinkMode::Partition).await?;
                Applied::Link(link)
            }
            Fault::Latency {
                target,
                delay,
                jitter,
            } => {
                let link = Self::link_for(*target)?;
                self.set_link(
                    &link,
                    LinkMode::Latency {
                        delay: *delay,
                        jitter: jitter.unwrap_or_default(),
                    },
                )
                .await?;
                Applied::Link(link)
            }
            Fault::Loss { target, percent } => {
                let link = Self::link_for(*target)?;
                self.set_link(&link, LinkMode::Loss { percent: *percent })
                    .await?;
                Applied::Link(link)
            }
            Fault::DiskFull { target, node } => {
                if *target != SC::Hcd || node.is_some_and(|n| n != 1) {
                    return Err(TargetError::Unsupported {
                        what: "disk_full on anything but HCD node 1".into(),
                    });
                }
                let stack = self.stack_ref(&what).await?;
                let vol = stack
                    .data_volume()
                    .ok_or_else(|| failed(&what, "node 1 has no data volume of its own"))?;
                drop(stack);
                tokio::task::spawn_blocking(move || {
                    vol.fill(256 * 1024)?;
                    vol.confirm_full()
                })
                .await
                .map_err(|e| failed(&what, e))?
                .map_err(|e| failed(&what, crate::workload::error_chain(&e)))?;
                Applied::Disk
            }
            Fault::Destroy { target, volumes } => {
                if *target != SC::Hcd {
                    return Err(TargetError::Unsupported {
                        what: format!("destroy of {target} (supported: hcd)"),
                    });
                }
                let mut stack = self.stack_mut(&what).await?;
                stack
                    .destroy_hcd(1, *volumes)
                    .await
                    .map_err(|e| failed(&what, crate::errors::render_chain(&e)))?;
                *self.cql.lock().await = None;
                Applied::Destroyed(1)
            }
            Fault::RevokeSecret { path } => match parse_secret_path(path) {
                Some(SecretPath::ServiceToken(service)) => {
                    let mut stack = self.stack_mut(&what).await?;
                    let r = stack
                        .revoke_service_token(&service)
                        .await
                        .map_err(|e| failed(&what, crate::errors::render_chain(&e)))?;
                    drop(stack);
                    *self.gremlin.lock().await = None;
                    self.note(format!(
                        "revoke_secret {path}: Vault now answers the token with: {}",
                        r.vault_answer
                    ));
                    self.note(format!(
                        "revoke_secret {path}: {service} restarted and failed as expected: {}",
                        first_lines(&r.service_error, 6)
                    ));
                    Applied::Revoked(service)
                }
                Some(SecretPath::KvVersion {
                    mount,
                    name,
                    version,
                }) => {
                    let stack = self.stack_ref(&what).await?;
                    stack
                        .destroy_secret_versions(&mount, &name, &[version])
                        .await
                        .map_err(|e| failed(&what, crate::errors::render_chain(&e)))?;
                    self.note(format!(
                        "revoke_secret {path}: version {version} destroyed and confirmed unreadable"
                    ));
                    // Destruction is final: there is nothing to heal.
                    Applied::Nothing
                }
                None => {
                    return Err(TargetError::Unsupported {
                        what: format!(
                            "revoke_secret of {path:?} (supported: `auth/token/janusgraph`, JanusGraph's Vault token; `secret/<name>?version=N`, a KV v2 version)"
                        ),
                    });
                }
            },
            Fault::CertExpiry {
                target,
                node,
                expires_in,
            } => {
                let name = Self::component_name(*target, *node)?;
                let validity = crate::pki::Validity {
                    not_before: time::Duration::minutes(-5),
                    not_after: time::Duration::try_from(*expires_in)
                        .map_err(|e| failed(&what, e.to_string()))?,
                };
                let installed = self.install_certificate(&what, &name, validity).await?;
                self.note(format!(
                    "cert_expiry {name}: serial {} now served ({}), expiring at {} (unix)",
                    installed.serial, installed.how, installed.not_after
                ));
                Applied::ShortCert(name)
            }
            Fault::Seal { .. } => {
                let stack = self.stack_ref(&what).await?;
                stack
                    .seal_vault()
                    .await
                    .map_err(|e| failed(&what, crate::errors::render_chain(&e)))?;
                Applied::Sealed
            }
        };
        let id = self.id();
        self.faults.borrow_mut().insert(id, applied);
        Ok(FaultHandle(id))
    }

    async fn heal(&self, handle: FaultHandle, fault: &FaultSpec) -> Result<(), TargetError> {
        let what = format!("heal of {}", fault.fault.describe());
        let applied = self.faults.borrow_mut().remove(&handle.0);
        match applied {
            None | Some(Applied::Nothing) => Ok(()),
            Some(Applied::Killed(name)) => {
                let mut stack = self.stack_mut(&what).await?;
                stack
                    .restart(&name)
                    .await
                    .map(drop)
                    .map_err(|e| failed(&what, crate::errors::render_chain(&e)))
            }
            Some(Applied::Paused(name)) => {
                let stack = self.stack_ref(&what).await?;
                stack
                    .unpause(&name)
                    .await
                    .map_err(|e| failed(&what, crate::errors::render_chain(&e)))
            }
            Some(Applied::Link(link)) => self.set_link(&link, LinkMode::Pass).await,
            Some(Applied::Disk) => {
                let stack = self.stack_ref(&what).await?;
                let vol = stack
                    .data_volume()
                    .ok_or_else(|| failed(&what, "no data volume"))?;
                drop(stack);
                tokio::task::spawn_blocking(move || vol.free())
                    .await
                    .map_err(|e| failed(&what, e))?
                    .map(drop)
                    .map_err(|e| failed(&what, crate::workload::error_chain(&e)))
            }
            Some(Applied::ShortCert(name)) => {
                let installed = self
                    .install_certificate(&what, &name, crate::pki::Validity::default())
                    .await?;
                self.note(format!(
                    "{name} rolled over to serial {} ({}) in {:.1}s",
                    installed.serial,
                    installed.how,
                    installed.took.as_secs_f64()
                ));
                Ok(())
            }
            Some(Applied::Sealed) => {
                let stack = self.stack_ref(&what).await?;
                let took = stack
                    .unseal_vault()
                    .await
                    .map_err(|e| failed(&what, crate::errors::render_chain(&e)))?;
                drop(stack);
                self.note(format!(
                    "vault unsealed with the run's key; active again in {:.1}s",
                    took.as_secs_f64()
                ));
                Ok(())
            }
            Some(Applied::Revoked(service)) => {
                let mut stack = self.stack_mut(&what).await?;
                let took = stack
                    .reissue_service_token(&service)
                    .await
                    .map_err(|e| failed(&what, crate::errors::render_chain(&e)))?;
                drop(stack);
                self.note(format!(
                    "new Vault token issued for {service}; it started in {:.1}s",
                    took.as_secs_f64()
                ));
                Ok(())
            }
            Some(Applied::Destroyed(n)) => {
                // A destroyed node that no restore brought back comes back empty.
                let mut stack = self.stack_mut(&what).await?;
                if stack.service(&format!("hcd-{n}")).is_none() {
                    stack
                        .recreate_hcd(n, true)
                        .await
                        .map_err(|e| failed(&what, crate::errors::render_chain(&e)))?;
                }
                Ok(())
            }
        }
    }

    async fn recover(&self, p: &RecoverySpec) -> Result<RecoveryOutcome, TargetError> {
        let what = format!("{} ({})", p.name, p.procedure.kind());
        match &p.procedure {
            Recovery::Backup { component, backup } => {
                if *component != SC::Hcd {
                    return Err(TargetError::Unsupported {
                        what: format!(
                            "backup of {component} (supported: hcd, with Vault alongside)"
                        ),
                    });
                }
                let stack = self.stack_ref(&what).await?;
                let dest = stack.component_dir("backups").join(backup);
                let r = recovery::backup(
                    &stack,
                    &BackupOptions {
                        tag: backup.clone(),
                        encrypt: true,
                        include_vault: true,
                    },
                    &dest,
                )
                .await
                .map_err(|e| failed(&what, crate::errors::render_chain(&e)))?;
                Ok(RecoveryOutcome {
                    detail: Some(format!(
                        "{} bytes of SSTables in {} tables, Vault snapshot {} bytes, encrypted, in {:.1}s",
                        r.manifest.hcd_bytes(),
                        r.manifest
                            .keyspaces
                            .values()
                            .map(|k| k.tables.len())
                            .sum::<usize>(),
                        r.manifest.vault.as_ref().map_or(0, |v| v.bytes),
                        r.took.as_secs_f64()
                    )),
                    ..RecoveryOutcome::default()
                })
            }
            Recovery::Restore { component, from } => {
                if *component != SC::Hcd {
                    return Err(TargetError::Unsupported {
                        what: format!("restore of {component} (supported: hcd)"),
                    });
                }
                let mut stack = self.stack_mut(&what).await?;
                let dir = stack.component_dir("backups").join(from);
                let r = recovery::restore_hcd(&mut stack, &dir)
                    .await
                    .map_err(|e| failed(&what, crate::errors::render_chain(&e)))?;
                *self.cql.lock().await = None;
                *self.gremlin.lock().await = None;
                let mib = r.bytes as f64 / (1024.0 * 1024.0);
                let rate = |d: std::time::Duration| mib / d.as_secs_f64().max(1e-9);
                Ok(RecoveryOutcome {
                    detail: Some(format!(
                        "fresh node {:.1}s; data {:.2}s for {} bytes ({} table(s) placed, {} imported; files {:.3}s, a plain copy of the same files {:.3}s); JanusGraph reconnect {:.1}s",
                        r.node.as_secs_f64(),
                        r.load.as_secs_f64(),
                        r.bytes,
                        r.placed_tables,
                        r.imported_tables,
                        r.files.as_secs_f64(),
                        r.plain_copy.as_secs_f64(),
                        r.reconnect.as_secs_f64()
                    )),
                    measures: vec![
                        Measure::new("restore_bytes", r.bytes as f64, "bytes"),
                        Measure::new("restore_node_seconds", r.node.as_secs_f64(), "seconds"),
                        Measure::new("restore_data_seconds", r.load.as_secs_f64(), "seconds"),
                        Measure::new(
                            "restore_files_mib_per_second",
                            rate(r.files),
                            "mib_per_second",
                        ),
                        Measure::new(
                            "plain_copy_mib_per_second",
                            rate(r.plain_copy),
                            "mib_per_second",
                        ),
                        // The target of issue #4: the restore moves files at least half as fast
                        // as a plain copy of the same files.
                        Measure::new("restore_files_vs_plain_copy", r.files_vs_copy(), "ratio")
                            .at_least(0.5),
                        Measure::new("restore_data_vs_plain_copy", r.load_vs_copy(), "ratio"),
                        Measure::new(
                            "restore_reconnect_seconds",
                            r.reconnect.as_secs_f64(),
                            "seconds",
                        ),
                    ],
                })
            }
            Recovery::Restart { component } => {
                let name = Self::component_name(*component, None)?;
                let mut stack = self.stack_mut(&what).await?;
                let took = stack
                    .restart(&name)
                    .await
                    .map_err(|e| failed(&what, crate::errors::render_chain(&e)))?;
                Ok(RecoveryOutcome {
                    detail: Some(format!("{name} ready in {:.1}s", took.as_secs_f64())),
                    ..RecoveryOutcome::default()
                })
            }
            Recovery::RotateSecret { path } => {
                let name = path
                    .strip_prefix("secret/")
                    .map(|n| n.strip_prefix("data/").unwrap_or(n));
                if name != Some("janusgraph") {
                    return Err(TargetError::Unsupported {
                        what: format!(
                            "rotate_secret of {path:?} (supported: `secret/janusgraph`, the Cassandra password JanusGraph uses)"
                        ),
                    });
                }
                let mut stack = self.stack_mut(&what).await?;
                let r = stack
                    .rotate_janusgraph_cql_password()
                    .await
                    .map_err(|e| failed(&what, crate::errors::render_chain(&e)))?;
                let current = stack.janusgraph_cql_password().clone();
                drop(stack);
                *self.gremlin.lock().await = None;
                if let Some(ctx) = self.ctx.borrow_mut().as_mut() {
                    ctx.janusgraph_password = current;
                    ctx.previous_password = Some(r.previous.clone());
                }
                Ok(RecoveryOutcome {
                    detail: Some(format!(
                        "{path} version {} written and the role's password changed in {:.1}s; JanusGraph restarted on it in {:.1}s",
                        r.version,
                        r.change.as_secs_f64(),
                        r.restart.as_secs_f64()
                    )),
                    ..RecoveryOutcome::default()
                })
            }
            Recovery::RotateCertificate { component } => {
                let names = match component {
                    SC::Hcd => {
                        let nodes = self.stack_ref(&what).await?.config.hcd_nodes;
                        (1..=nodes).map(|n| format!("hcd-{n}")).collect()
                    }
                    c => vec![Self::component_name(*c, None)?],
                };
                let mut done = Vec::new();
                for name in names {
                    let c = self
                        .install_certificate(&what, &name, crate::pki::Validity::default())
                        .await?;
                    done.push(format!(
                        "{name}: serial {} -> {} by {} in {:.1}s{}",
                        c.old_serial.as_deref().unwrap_or("?"),
                        c.serial,
                        c.how,
                        c.took.as_secs_f64(),
                        if c.metrics_reloaded {
                            ""
                        } else {
                            " (its JMX exporter keeps the old certificate until the JVM restarts)"
                        }
                    ));
                }
                Ok(RecoveryOutcome {
                    detail: Some(done.join("; ")),
                    ..RecoveryOutcome::default()
                })
            }
        }
    }

    async fn start_workload(
        &self,
        w: &WorkloadSpec,
        history: History,
    ) -> Result<WorkloadId, TargetError> {
        let what = format!("workload {}", w.name);
        let ctx = self
            .ctx()
            .ok_or_else(|| failed(&what, "the stack is not up"))?;
        let writer_id = format!("{}-{}", w.name, self.run_id);
        let concurrency = w.concurrency.max(1) as usize;
        // One writer per worker: a Gremlin connection runs one request at a time.
        let mut writers: Vec<Arc<SequenceWriter>> = Vec::with_capacity(concurrency);
        match &w.kind {
            WorkloadKindSpec::SequenceWriter {
                target: WriterTarget::Cql,
            } => {
                let session = self.cql_session(&ctx).await.map_err(|e| failed(&what, e))?;
                for stmt in cql_schema(if ctx.consistency == Consistency::Quorum {
                    3
                } else {
                    1
                }) {
                    session
                        .query_unpaged(stmt, &[])
                        .await
                        .map_err(|e| failed(&what, e))?;
                }
                let s = ctx
                    .admin_cql(Duration::from_secs(5))
                    .await
                    .map_err(|e| failed(&what, e))?;
                let shared = Arc::new(SequenceWriter::Cql {
                    session: Box::new(s),
                    writer: writer_id.clone(),
                    consistency: ctx.consistency,
                });
                writers.extend(std::iter::repeat_n(shared, concurrency));
            }
            WorkloadKindSpec::SequenceWriter {
                target: WriterTarget::Graph,
            } => {
                for _ in 0..concurrency {
                    let c = GremlinClient::connect(ctx.gremlin.clone())
                        .await
                        .map_err(|e| failed(&what, e))?;
                    writers.push(Arc::new(SequenceWriter::Graph {
                        client: Box::new(c),
                        writer: writer_id.clone(),
                    }));
                }
            }
            WorkloadKindSpec::GremlinMix { .. } => {
                return Err(TargetError::Unsupported {
                    what: "the gremlin_mix workload (use sequence_writer)".into(),
                });
            }
        }
        self.writers
            .borrow_mut()
            .insert(w.name.clone(), writer_id.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let schedule = Schedule::new(w.rate, w.duration, Arrivals::Constant, w.seed);
        let name = w.name.clone();
        let op_timeout = w.op_timeout;
        let task = tokio::spawn(drive(
            name, writer_id, writers, schedule, history, op_timeout, stop_rx,
        ));
        let id = self.id();
        self.workloads.borrow_mut().insert(
            id,
            RunningWorkload {
                stop: stop_tx,
                task,
            },
        );
        Ok(WorkloadId(id))
    }

    async fn stop_workload(&self, id: WorkloadId) -> Result<WorkloadSummary, TargetError> {
        let w = self.workloads.borrow_mut().remove(&id.0);
        let Some(w) = w else {
            return Err(failed("stopping a workload", "no such workload"));
        };
        let _ = w.stop.send(true);
        let invoked = w.task.await.map_err(|e| failed("stopping a workload", e))?;
        Ok(WorkloadSummary {
            invoked,
            detail: None,
        })
    }

    async fn read_back(&self, w: &WorkloadSpec) -> Result<Vec<u64>, TargetError> {
        let what = format!("reading back {}", w.name);
        let ctx = self
            .ctx()
            .ok_or_else(|| failed(&what, "the stack is not up"))?;
        let writer = self
            .writers
            .borrow()
            .get(&w.name)
            .cloned()
            .ok_or_else(|| failed(&what, "the workload never started"))?;
        let reader = match &w.kind {
            WorkloadKindSpec::SequenceWriter {
                target: WriterTarget::Cql,
            } => {
                let s = ctx
                    .admin_cql(Duration::from_secs(10))
                    .await
                    .map_err(|e| failed(&what, e))?;
                SequenceWriter::Cql {
                    session: Box::new(s),
                    writer,
                    consistency: ctx.consistency,
                }
            }
            _ => SequenceWriter::Graph {
                client: Box::new(
                    GremlinClient::connect(ctx.gremlin.clone())
                        .await
                        .map_err(|e| failed(&what, e))?,
                ),
                writer,
            },
        };
        reader.read_back().await.map_err(|e| failed(&what, e))
    }

    async fn stop(&self) -> Result<(), TargetError> {
        let ids: Vec<u64> = self.workloads.borrow().keys().copied().collect();
        for id in ids {
            let _ = self.stop_workload(WorkloadId(id)).await;
        }
        *self.gremlin.lock().await = None;
        *self.cql.lock().await = None;
        let stack = self.stack.write().await.take();
        let res = match stack {
            Some(s) => s
                .down(self.keep_files)
                .await
                .map_err(|e| failed("tearing the stack down", crate::errors::render_chain(&e))),
            None => Ok(()),
        };
        // Whatever happened above, nothing of this run may stay.
        let _ = self.engine.remove_run(&self.run_id).await;
        res
    }

    fn secrets(&self) -> Vec<String> {
        Redactor::global().values()
    }
}

/// Drives one workload on its open-model schedule until the schedule ends or `stop` is set,
/// then waits for in-flight operations. Returns how many operations were sent.
async fn drive(
    name: String,
    writer_id: String,
    writers: Vec<Arc<SequenceWriter>>,
    schedule: Schedule,
    history: History,
    op_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> u64 {
    let start_ns = history.now_ns();
    let start = tokio::time::Instant::now();
    let permits = Arc::new(Semaphore::new(writers.len()));
    let free: Arc<std::sync::Mutex<Vec<usize>>> =
        Arc::new(std::sync::Mutex::new((0..writers.len()).collect()));
    let mut sent = 0;
    let mut tasks = tokio::task::JoinSet::new();
    for (seq, offset) in schedule {
        tokio::select! {
            _ = tokio::time::sleep_until(start + offset) => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
        // Open model: when every worker is busy the operation waits here, but its intended time
        // stays the schedule's, so the wait counts in its response time.
        let permit = tokio::select! {
            p = Arc::clone(&permits).acquire_owned() => p.expect("the semaphore is never closed"),
            _ = stop.changed() => break,
        };
        let worker = free.lock().expect("worker list lock").pop().unwrap_or(0);
        let w = Arc::clone(&writers[worker]);
        let h = history.clone();
        let free2 = Arc::clone(&free);
        let intended = start_ns + offset.as_nanos() as u64;
        let name2 = name.clone();
        let key = writer_id.clone();
        sent += 1;
        tasks.spawn(async move {
            let op = h.invoke_at(
                &name2,
                worker as u32,
                OpKind::Write,
                Some(key),
                Some(seq),
                Some(intended),
            );
            let outcome = match tokio::time::timeout(
                op_timeout + Duration::from_secs(1),
                w.write(seq, op_timeout),
            )
            .await
            {
                Ok(o) => o,
                Err(_) => {
                    WriteOutcome::Indeterminate("no answer within the operation timeout".into())
                }
            };
            match outcome {
                WriteOutcome::Ok => h.complete(op, Outcome::Ok, None),
                WriteOutcome::Fail(d) => {
                    h.complete(op, Outcome::Fail, Some(Redactor::global().redact(&d)))
                }
                WriteOutcome::Indeterminate(d) => h.complete(
                    op,
                    Outcome::Indeterminate,
                    Some(Redactor::global().redact(&d)),
                ),
            }
            free2.lock().expect("worker list lock").push(worker);
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    sent
}

fn https_client(ca_pem: &str) -> reqwest::Client {
    crate::tls::install_provider();
    let builder = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5));
    match reqwest::Certificate::from_pem(ca_pem.as_bytes()) {
        Ok(ca) => builder.tls_certs_only([ca]),
        Err(_) => builder,
    }
    .build()
    .expect("a rustls client with one root builds")
}

/// Connects to the engine (sweeping containers of dead runs), resolves the images and builds the
/// missing ones: what must hold before any scenario can start a stack.
pub async fn prepare(out: &mut dyn std::io::Write) -> Result<(Engine, ImageSet), String> {
    let engine = Engine::connect()
        .await
        .map_err(|e| crate::errors::render_chain(&e))?;
    if let Ok(sweep) = engine.sweep_orphans().await {
        for (run, n) in &sweep.removed {
            let _ = writeln!(
                out,
                "removed {n} container(s) left by run {run}, whose stackdrill process is gone"
            );
        }
    }
    let images = ImageSet::resolve(&crate::images::project_root())
        .map_err(|e| crate::errors::render_chain(&e))?;
    images
        .build_missing(&engine, out)
        .await
        .map_err(|e| crate::errors::render_chain(&e))?;
    Ok((engine, images))
}

/// Where stack run folders go: `STACKDRILL_WORK`, else `/tmp/stackdrill`.
pub fn work_dir() -> PathBuf {
    std::env::var_os("STACKDRILL_WORK")
        .map_or_else(|| PathBuf::from("/tmp/stackdrill"), PathBuf::from)
}
