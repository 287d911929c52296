//! [`RunningStack`]: brings a [`StackConfig`] up in dependency order, bootstraps it (Vault init,
//! unseal, secrets, policies; Cassandra roles), and tears it down.
//!
//! Start order: Vault (TLS, raft storage, KV v2, an audit device) → Cassandra node(s) (client TLS,
//! PasswordAuthenticator, audit log) → roles from Vault's secrets → JanusGraph (its config rendered
//! from Vault inside its container) → Alertmanager → the blackbox and node exporters →
//! Prometheus. JVMs start one at a time: the
//! machines have two cores. Readiness is a log line followed by a real protocol request.

use std::collections::BTreeMap;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use scylla::client::session::Session;

use super::{Engine, Service, ServiceError, ServiceSpec};
use crate::fault::{FaultProxy, LinkName, SmallVolume};
use crate::images::ImageSet;
use crate::pki::{PkiError, RunPki, Validity};
use crate::secrets::{Secret, VaultClient, VaultError};
use crate::stack::{Component, Ports, RenderError, StackConfig, render};
use crate::workload::cql::{self, CqlConnectError};
use crate::workload::gremlin::{GremlinClient, GremlinError, GremlinOptions};

mod certs;
mod rotation;
mod seal;
pub use certs::CertInstalled;
pub use rotation::{Revocation, Rotation, login_verdict};

/// The KV v2 mount holding the stack's secrets.
pub const KV_MOUNT: &str = "secret";
/// Cassandra's role for JanusGraph.
pub const JANUSGRAPH_CQL_ROLE: &str = "janusgraph";
/// The Gremlin user JanusGraph's authenticator creates.
pub const GREMLIN_USER: &str = "banking_app";
/// The Cassandra superuser the harness creates (the default `cassandra` role is disabled).
pub const HCD_ADMIN_ROLE: &str = "stackdrill_admin";

/// A failure to bring the stack up or operate it.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A component's container failed.
    #[error(transparent)]
    Service(Box<ServiceError>),
    /// Vault refused or failed.
    #[error("the Vault bootstrap failed")]
    Vault(#[source] VaultError),
    /// TLS material could not be made.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// A template is wrong.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// CQL bootstrap failed.
    #[error("{what}")]
    Cql {
        what: String,
        #[source]
        source: anyhow::Error,
    },
    /// Gremlin check failed.
    #[error("{component} started but did not answer a Gremlin request")]
    Gremlin {
        component: String,
        #[source]
        source: GremlinError,
    },
    /// A readiness probe never passed.
    #[error("{component} started but its {probe} never succeeded within {waited:?}: {last}")]
    Probe {
        component: String,
        probe: &'static str,
        waited: Duration,
        last: String,
    },
    /// An operator procedure or a fault on a running stack did not do what it must.
    #[error("{procedure} on {component} failed: {reason}")]
    Procedure {
        component: String,
        procedure: &'static str,
        reason: String,
    },
    /// Files of the run could not be written.
    #[error("failed to write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An image is missing or unbuildable.
    #[error(transparent)]
    Image(#[from] crate::images::ImageError),
}

impl From<ServiceError> for StackError {
    fn from(e: ServiceError) -> Self {
        StackError::Service(Box::new(e))
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StackError + '_ {
    move |source| StackError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Secrets the harness holds for the run (all also stored in Vault).
#[derive(Debug)]
struct RunSecrets {
    root_token: Secret,
    unseal_key: Secret,
    keystore_password: Secret,
    hcd_admin_password: Secret,
    janusgraph_cql_password: Secret,
    gremlin_password: Secret,
}

/// A stack that is up.
#[derive(Debug)]
pub struct RunningStack {
    /// What was asked for.
    pub config: StackConfig,
    /// The chosen ports.
    pub ports: Ports,
    /// The run CA (PEM).
    pub ca_pem: String,
    /// Start-up time of each component, create to ready, in start order.
    pub startup: Vec<(String, Duration)>,
    /// The whole `up`, first container to last readiness.
    pub total_startup: Duration,
    engine: Engine,
    images: ImageSet,
    pki: RunPki,
    vault: VaultClient,
    secrets: RunSecrets,
    services: BTreeMap<String, Service>,
    proxies: BTreeMap<String, FaultProxy>,
    volumes: Vec<std::sync::Arc<SmallVolume>>,
}

/// Text progress during `up`.
pub type Progress<'a> = &'a mut (dyn FnMut(&str) + Send);

impl RunningStack {
    /// Brings the stack up. On any error, every container already started is removed before the
    /// error returns (dropping a [`Service`] removes its container).
    pub async fn up(
        engine: &Engine,
        images: &ImageSet,
        config: StackConfig,
        progress: Progress<'_>,
    ) -> Result<Self, StackError> {
        let t0 = Instant::now();
        let components = config.components();
        let needed: Vec<_> = components.iter().map(|c| c.image()).collect();
        images.require(engine, &needed).await?;
        fs::create_dir_all(&config.run_dir).map_err(io_err(&config.run_dir))?;
        let ports = Ports::allocate(config.hcd_nodes).map_err(io_err(&config.run_dir))?;
        let pki = RunPki::new(&config.run_id)?;
        let keystore_password = Secret::generate(32);
        let ips = certs::certificate_ips(config.hcd_nodes);
        for c in &components {
            pki.issue(
                &c.name(),
                &ips,
                Validity::default(),
                &config.run_dir.join("tls").join(c.name()),
                keystore_password.expose(),
            )?;
        }
        let ca_pem = pki.ca_pem().to_owned();
        let vault_addr = format!("https://127.0.0.1:{}", ports.vault);
        let vault = VaultClient::new(&vault_addr, &ca_pem).map_err(StackError::Vault)?;

        let mut stack = Self {
            ports,
            ca_pem,
            startup: Vec::new(),
            total_startup: Duration::ZERO,
            engine: engine.clone(),
            images: images.clone(),
            pki,
            vault,
            secrets: RunSecrets {
                root_token: Secret::from_string(String::new()),
                unseal_key: Secret::from_string(String::new()),
                keystore_password,
                hcd_admin_password: Secret::generate(32),
                janusgraph_cql_password: Secret::generate(32),
                gremlin_password: Secret::generate(32),
            },
            services: BTreeMap::new(),
            proxies: BTreeMap::new(),
            volumes: Vec::new(),
            config,
        };
        for c in components {
            progress(&format!("starting {}", c.name()));
            let t = Instant::now();
            match c {
                Component::Vault => stack.start_vault().await?,
                Component::Hcd(n) => {
                    if n == 1
                        && let Some(mb) = stack.config.hcd_data_volume_mb
                    {
                        stack.mount_data_volume(mb).await?;
                    }
                    stack.start_hcd(n).await?;
                    // Roles (and system_auth's replication) once every node is up: with RF 3 and
                    // one node, QUORUM auth reads would fail.
                    if n == stack.config.hcd_nodes {
                        stack.bootstrap_roles().await?;
                    }
                }
                Component::Janusgraph => {
                    if stack.proxies_enabled() {
                        stack
                            .start_proxy(LinkName::janusgraph_to_hcd(), stack.ports.cql)
                            .await?;
                    }
                    stack.start_janusgraph().await?;
                    if stack.proxies_enabled() {
                        stack
                            .start_proxy(LinkName::client_to_janusgraph(), stack.ports.gremlin)
                            .await?;
                    }
                }
                Component::Alertmanager => stack.start_alertmanager().await?,
                Component::Prometheus => stack.start_prometheus().await?,
                Component::Blackbox => stack.start_blackbox().await?,
                Component::NodeExporter => stack.start_node_exporter().await?,
            }
            let took = t.elapsed();
            progress(&format!("{} ready in {:.1}s", c.name(), took.as_secs_f64()));
            stack.startup.push((c.name(), took));
        }
        stack.total_startup = t0.elapsed();
        Ok(stack)
    }

    fn dir(&self, c: Component) -> PathBuf {
        self.config.run_dir.join(c.name())
    }

    fn tls_dir(&self, c: Component) -> PathBuf {
        self.config.run_dir.join("tls").join(c.name())
    }

    fn log_path(&self, c: Component) -> PathBuf {
        self.config
            .run_dir
            .join("logs")
            .join(format!("{}.log", c.name()))
    }

    fn spec(&self, c: Component, env: Vec<(String, String)>, cmd: Vec<String>) -> ServiceSpec {
        ServiceSpec {
            run_id: self.config.run_id.clone(),
            component: c.name(),
            image: self.images.get(c.image()).clone(),
            env,
            cmd,
            mounts: vec![self.config.run_dir.clone()],
            ready_line: c.ready_line().to_owned(),
            fail_lines: c.fail_lines().iter().map(|l| (*l).to_owned()).collect(),
            startup_timeout: c.startup_timeout(),
            log_path: self.log_path(c),
            memory_limit: None,
        }
    }

    /// Renders `fixtures/config/<src>/*` into `dst` (`.tmpl` files keep their suffix: their
    /// `@@secret@@` placeholders are filled inside the container).
    fn render_dir(
        &self,
        src: &str,
        dst: &Path,
        vars: &BTreeMap<&str, String>,
    ) -> Result<(), StackError> {
        let src_dir = crate::images::project_root()
            .join("fixtures/config")
            .join(src);
        fs::create_dir_all(dst).map_err(io_err(dst))?;
        let entries = fs::read_dir(&src_dir).map_err(io_err(&src_dir))?;
        for e in entries {
            let path = e.map_err(io_err(&src_dir))?.path();
            let text = fs::read_to_string(&path).map_err(io_err(&path))?;
            let name = path
                .file_name()
                .expect("read_dir yields names")
                .to_string_lossy()
                .into_owned();
            let out = render(&format!("{src}/{name}"), &text, vars)?;
            let target = dst.join(&name);
            fs::write(&target, out).map_err(io_err(&target))?;
        }
        Ok(())
    }

    async fn start_service(
        &mut self,
        c: Component,
        env: Vec<(String, String)>,
        cmd: Vec<String>,
    ) -> Result<(), StackError> {
        let spec = self.spec(c, env, cmd);
        let mut attempt = 1;
        loop {
            match Service::start(&self.engine, spec.clone()).await {
                Ok(svc) => {
                    self.services.insert(c.name(), svc);
                    return Ok(());
                }
                Err(e @ (ServiceError::Fatal { .. } | ServiceError::Exited { .. }))
                    if attempt < c.start_attempts() =>
                {
                    let reason = e.to_string();
                    let reason = reason.lines().next().unwrap_or_default();
                    tracing::warn!(component = %c.name(), attempt, "start failed, retrying: {reason}");
                    // The failed container is still there (it may linger): remove it by label.
                    let _ = self.remove_component_containers(&c.name()).await;
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn remove_component_containers(&self, component: &str) -> Result<(), StackError> {
        let label = format!("{}={component}", super::engine::LABEL_COMPONENT);
        for (id, labels) in self
            .engine
            .containers_labelled(&label)
            .await
            .map_err(|e| StackError::Service(Box::new(e.into())))?
        {
            if labels.get(super::LABEL_RUN) == Some(&self.config.run_id) {
                self.engine
                    .remove(&id)
                    .await
                    .map_err(|e| StackError::Service(Box::new(e.into())))?;
            }
        }
        Ok(())
    }

    async fn start_vault(&mut self) -> Result<(), StackError> {
        let c = Component::Vault;
        let dir = self.dir(c);
        for sub in ["data", "logs", "conf"] {
            fs::create_dir_all(dir.join(sub)).map_err(io_err(&dir))?;
        }
        let vars = BTreeMap::from([
            ("ip", "127.0.0.1".to_owned()),
            ("port", self.ports.vault.to_string()),
            ("cluster_port", self.ports.vault_cluster.to_string()),
            ("dir", dir.display().to_string()),
            ("tls_dir", self.tls_dir(c).display().to_string()),
        ]);
        self.render_dir("vault", &dir.join("conf"), &vars)?;
        let conf = dir.join("conf/bao.hcl").display().to_string();
        self.start_service(c, vec![], vec!["server".into(), format!("-config={conf}")])
            .await?;
        self.bootstrap_vault().await
    }

    async fn bootstrap_vault(&mut self) -> Result<(), StackError> {
        let v = self.vault.clone();
        wait_for("vault", "health check", Duration::from_secs(30), || async {
            v.health().await.map(drop).map_err(|e| e.to_string())
        })
        .await?;
        let keys = v.init().await.map_err(StackError::Vault)?;
        if v.unseal(&keys.unseal_key)
            .await
            .map_err(StackError::Vault)?
        {
            return Err(StackError::Probe {
                component: "vault".into(),
                probe: "unseal",
                waited: Duration::ZERO,
                last: "still sealed after the unseal key was given".into(),
            });
        }
        self.secrets.root_token = keys.root_token;
        self.secrets.unseal_key = keys.unseal_key;
        let root = &self.secrets.root_token;
        // Raft elects itself leader shortly after unseal; writes fail until then.
        wait_for_vault_leader(&v).await?;
        wait_for("vault", "KV v2 mount", Duration::from_secs(30), || async {
            v.mount_kv2(root, KV_MOUNT).await.map_err(|e| e.to_string())
        })
        .await?;
        let s = &self.secrets;
        let admin_user = Secret::public(HCD_ADMIN_ROLE);
        // A new KV v2 mount upgrades itself in the background and answers 400 until done.
        wait_for(
            "vault",
            "first KV v2 write",
            Duration::from_secs(30),
            || async {
                v.kv_put(
                    root,
                    KV_MOUNT,
                    "hcd",
                    &[
                        ("admin_username", &admin_user),
                        ("admin_password", &s.hcd_admin_password),
                        ("keystore_password", &s.keystore_password),
                    ],
                )
                .await
                .map(drop)
                .map_err(|e| e.to_string())
            },
        )
        .await?;
        self.put_janusgraph_secret()
            .await
            .map_err(StackError::Vault)?;
        // Each service's token reads only its own secret.
        for svc in ["hcd", "janusgraph"] {
            let policy =
                format!("path \"{KV_MOUNT}/data/{svc}\" {{ capabilities = [\"read\"] }}\n");
            v.put_policy(root, &format!("{svc}-read"), &policy)
                .await
                .map_err(StackError::Vault)?;
            let token = v
                .create_token(root, &[&format!("{svc}-read")], "720h")
                .await
                .map_err(StackError::Vault)?;
            self.write_token(svc, &token)?;
        }
        Ok(())
    }

    /// Writes the root token to `secrets/root.token` (mode 0600) for a person using `stackdrill up`.
    pub fn write_root_token(&self) -> Result<(), StackError> {
        self.write_token("root", &self.secrets.root_token)
    }

    /// Writes a service's Vault token where its container reads it (mode 0600; the token, not a
    /// password, is what a service holds, as with Vault Agent's sink file).
    fn write_token(&self, service: &str, token: &Secret) -> Result<(), StackError> {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.config.run_dir.join("secrets");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io_err(&dir))?;
        let path = dir.join(format!("{service}.token"));
        fs::write(&path, token.expose()).map_err(io_err(&path))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(io_err(&path))?;
        Ok(())
    }

    fn vault_env(&self, service: &str, c: Component) -> Vec<(String, String)> {
        vec![
            (
                "VAULT_ADDR".into(),
                format!("https://127.0.0.1:{}", self.ports.vault),
            ),
            (
                "VAULT_CACERT".into(),
                self.tls_dir(c).join("ca.crt").display().to_string(),
            ),
            (
                "VAULT_TOKEN_FILE".into(),
                self.config
                    .run_dir
                    .join("secrets")
                    .join(format!("{service}.token"))
                    .display()
                    .to_string(),
            ),
            (
                "VAULT_SECRET_PATH".into(),
                format!("{KV_MOUNT}/data/{service}"),
            ),
        ]
    }

    fn hcd_seeds(&self) -> String {
        format!("127.0.0.1:{}", self.ports.storage)
    }

    /// Starts node `n` and waits for it to serve CQL.
    async fn start_hcd(&mut self, n: u8) -> Result<(), StackError> {
        let c = Component::Hcd(n);
        let dir = self.dir(c);
        let idx = usize::from(n - 1);
        let nodes = i128::from(self.config.hcd_nodes);
        // Evenly spaced single tokens over the Murmur3 range.
        let token = i128::from(i64::MIN) + (i128::from(n - 1) * (1_i128 << 64)) / nodes;
        let vars = BTreeMap::from([
            ("run_id", self.config.run_id.clone()),
            ("initial_token", token.to_string()),
            ("dir", dir.display().to_string()),
            ("node_ip", c.ip().to_string()),
            ("storage_port", self.ports.storage.to_string()),
            ("seeds", self.hcd_seeds()),
            ("cql_port", self.ports.cql.to_string()),
            ("tls_dir", self.tls_dir(c).display().to_string()),
            (
                "internode_encryption",
                if self.config.hcd_nodes > 1 {
                    "all"
                } else {
                    "none"
                }
                .to_owned(),
            ),
        ]);
        self.render_dir("hcd", &dir.join("conf"), &vars)?;
        let mut env = vec![
            ("SD_DIR".into(), dir.display().to_string()),
            ("HEAP".into(), self.config.hcd_heap.clone()),
            ("JMX_PORT".into(), self.ports.hcd_jmx[idx].to_string()),
            (
                "METRICS_ADDR".into(),
                format!("{}:{}", c.ip(), self.ports.hcd_metrics[idx]),
            ),
        ];
        env.extend(self.vault_env("hcd", c));
        self.start_service(c, env, vec![]).await
    }

    /// The CQL endpoint of node 1.
    pub fn cql_node(&self) -> String {
        format!("127.0.0.1:{}", self.ports.cql)
    }

    /// A superuser CQL session (the harness's admin role, password from Vault).
    pub async fn admin_session(&self) -> Result<Session, StackError> {
        let pw = &self.secrets.hcd_admin_password;
        let node = self.cql_node();
        let ca = self.ca_pem.clone();
        let mut last = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match cql::connect(&node, HCD_ADMIN_ROLE, pw, &ca, Duration::from_secs(10)).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StackError::Cql {
            what: format!("could not log in to Cassandra at {node} as the admin role"),
            source: last.map_or_else(|| anyhow::anyhow!("timed out"), Into::into),
        })
    }

    async fn bootstrap_roles(&mut self) -> Result<(), StackError> {
        // The default superuser appears superuser_setup_delay_ms after first start.
        let node = self.cql_node();
        let default_pw = Secret::public("cassandra");
        let ca = self.ca_pem.clone();
        let mut last: Option<CqlConnectError> = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        let session = loop {
            match cql::connect(
                &node,
                "cassandra",
                &default_pw,
                &ca,
                Duration::from_secs(10),
            )
            .await
            {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => last = Some(e),
                Err(e) => {
                    return Err(StackError::Cql {
                        what: "the default Cassandra superuser never became usable".into(),
                        source: last.unwrap_or(e).into(),
                    });
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let cql_err = |what: &str| {
            let what = what.to_owned();
            move |e: scylla::errors::ExecutionError| StackError::Cql {
                what: what.clone(),
                source: anyhow::anyhow!(crate::secrets::Redactor::global().redact(&e.to_string())),
            }
        };
        let (rf, _) = self.config.replication();
        if rf > 1 {
            // A node that answers CQL may still be joining ("Cannot alter RF while some
            // endpoints are not in normal state"): retry until every node is NORMAL.
            let deadline = Instant::now() + Duration::from_secs(180);
            loop {
                match session
                    .query_unpaged(
                        format!("ALTER KEYSPACE system_auth WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': {rf}}}"),
                        &[],
                    )
                    .await
                {
                    Ok(_) => break,
                    Err(e)
                        if Instant::now() < deadline
                            && e.to_string().contains("not in normal state") =>
                    {
                        tracing::debug!(error = %e, "a node is still joining; retrying");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                    Err(e) => return Err(cql_err("failed to replicate system_auth")(e)),
                }
            }
        }
        session
            .query_unpaged(
                format!(
                    "CREATE ROLE IF NOT EXISTS {HCD_ADMIN_ROLE} WITH PASSWORD = '{}' AND SUPERUSER = true AND LOGIN = true",
                    self.secrets.hcd_admin_password.expose()
                ),
                &[],
            )
            .await
            .map_err(cql_err("failed to create the admin role"))?;
        drop(session);
        let admin = self.admin_session().await?;
        // The well-known default credentials must not work on a production-like stack.
        let disabled = Secret::generate(32);
        admin
            .query_unpaged(
                format!(
                    "ALTER ROLE cassandra WITH PASSWORD = '{}' AND SUPERUSER = false AND LOGIN = false",
                    disabled.expose()
                ),
                &[],
            )
            .await
            .map_err(cql_err("failed to disable the default cassandra role"))?;
        admin
            .query_unpaged(
                format!(
                    "CREATE ROLE IF NOT EXISTS {JANUSGRAPH_CQL_ROLE} WITH PASSWORD = '{}' AND LOGIN = true",
                    self.secrets.janusgraph_cql_password.expose()
                ),
                &[],
            )
            .await
            .map_err(cql_err("failed to create JanusGraph's role"))?;
        // JanusGraph creates its keyspaces; a creator is granted ALL on what it creates.
        admin
            .query_unpaged(
                format!("GRANT CREATE ON ALL KEYSPACES TO {JANUSGRAPH_CQL_ROLE}"),
                &[],
            )
            .await
            .map_err(cql_err("failed to grant CREATE to JanusGraph's role"))?;
        Ok(())
    }

    async fn start_janusgraph(&mut self) -> Result<(), StackError> {
        let c = Component::Janusgraph;
        let dir = self.dir(c);
        let (rf, consistency) = self.config.replication();
        let (hosts, cql_port): (Vec<String>, u16) =
            match self.proxies.get(&LinkName::janusgraph_to_hcd().to_string()) {
                Some(p) => (vec![p.local_addr().ip().to_string()], p.local_addr().port()),
                None => (
                    (1..=self.config.hcd_nodes)
                        .map(|n| Component::Hcd(n).ip().to_string())
                        .collect(),
                    self.ports.cql,
                ),
            };
        let vars = BTreeMap::from([
            ("ip", "127.0.0.1".to_owned()),
            ("gremlin_port", self.ports.gremlin.to_string()),
            ("tls_dir", self.tls_dir(c).display().to_string()),
            ("cql_hosts", hosts.join(",")),
            // The credentials graph is opened by Gremlin Server's SimpleAuthenticator from its
            // properties file, where a comma list is not split ("invalid contact point
            // 127.0.0.1,127.0.0.2,..."): it gets one contact point; the driver finds the others.
            ("cql_first_host", hosts[0].clone()),
            ("cql_port", cql_port.to_string()),
            ("keyspace", "janusgraph".to_owned()),
            ("replication_factor", rf.to_string()),
            ("consistency", consistency.to_owned()),
            // JanusGraph 1.1 creates its tables one by one and prepares statements on every node
            // at once; with several nodes on two cores a node could still miss a table created
            // an instant before ("table ... does not exist", JanusGraph issue 4011). Its own
            // remedy is a pause after each creation (only on the first start: existing tables
            // are not created again).
            (
                "init_wait_ms",
                if self.config.hcd_nodes > 1 {
                    "3000"
                } else {
                    "0"
                }
                .to_owned(),
            ),
        ]);
        self.render_dir("janusgraph", &dir.join("conf"), &vars)?;
        let mut env = vec![
            ("SD_DIR".into(), dir.display().to_string()),
            ("HEAP".into(), self.config.janusgraph_heap.clone()),
            (
                "METRICS_ADDR".into(),
                format!("127.0.0.1:{}", self.ports.janusgraph_metrics),
            ),
        ];
        env.extend(self.vault_env("janusgraph", c));
        self.start_service(c, env, vec![]).await?;
        let client = self
            .gremlin_client()
            .await
            .map_err(|source| StackError::Gremlin {
                component: c.name(),
                source,
            })?;
        client
            .submit("g.V().limit(1).count()", serde_json::json!({}))
            .await
            .map_err(|source| StackError::Gremlin {
                component: c.name(),
                source,
            })?;
        Ok(())
    }

    /// Gremlin connection options for the application user.
    pub fn gremlin_options(&self) -> GremlinOptions {
        GremlinOptions {
            url: format!("wss://127.0.0.1:{}/gremlin", self.ports.gremlin),
            ca_pem: self.ca_pem.clone(),
            username: GREMLIN_USER.to_owned(),
            password: self.secrets.gremlin_password.clone(),
            timeout: Duration::from_secs(30),
        }
    }

    /// Gremlin options for clients of the application: through the client → JanusGraph fault
    /// proxy when there is one, so link faults reach them.
    pub fn client_gremlin_options(&self) -> GremlinOptions {
        let mut o = self.gremlin_options();
        if let Some(p) = self
            .proxies
            .get(&LinkName::client_to_janusgraph().to_string())
        {
            o.url = format!("wss://{}/gremlin", p.local_addr());
        }
        o
    }

    fn proxies_enabled(&self) -> bool {
        self.config.link_proxies && self.config.hcd_nodes == 1
    }

    async fn start_proxy(&mut self, link: LinkName, upstream_port: u16) -> Result<(), StackError> {
        let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let upstream = std::net::SocketAddr::from(([127, 0, 0, 1], upstream_port));
        let proxy = FaultProxy::start(link.clone(), listen, upstream)
            .await
            .map_err(|e| StackError::Probe {
                component: link.to_string(),
                probe: "fault proxy start",
                waited: Duration::ZERO,
                last: e.to_string(),
            })?;
        self.proxies.insert(link.to_string(), proxy);
        Ok(())
    }

    /// The fault proxy on `link` (`janusgraph->hcd`, `client->janusgraph`), if any.
    pub fn proxy(&self, link: &LinkName) -> Option<&FaultProxy> {
        self.proxies.get(&link.to_string())
    }

    async fn mount_data_volume(&mut self, mb: u64) -> Result<(), StackError> {
        let dir = self.dir(Component::Hcd(1));
        let image = self.config.run_dir.join("hcd-1-data.img");
        let mount = dir.join("data");
        let vol = tokio::task::spawn_blocking(move || SmallVolume::create(&image, &mount, mb))
            .await
            .expect("the volume task does not panic")
            .map_err(|e| StackError::Probe {
                component: "hcd-1".into(),
                probe: "data volume",
                waited: Duration::ZERO,
                last: crate::workload::error_chain(&e),
            })?;
        self.volumes.push(std::sync::Arc::new(vol));
        Ok(())
    }

    /// Node 1's own data filesystem, when the stack was given one.
    pub fn data_volume(&self) -> Option<std::sync::Arc<SmallVolume>> {
        self.volumes.first().cloned()
    }

    /// The Cassandra admin role's password (for the harness's own CQL probes; never logged).
    pub fn hcd_admin_password(&self) -> &Secret {
        &self.secrets.hcd_admin_password
    }

    /// Destroys node `n`: removes its container and, when `volumes`, every file of its data
    /// (the disaster a restore recovers from). Confirmed: the container is gone and the CQL port
    /// refuses connections.
    pub async fn destroy_hcd(&mut self, n: u8, volumes: bool) -> Result<(), StackError> {
        let c = Component::Hcd(n);
        if let Some(svc) = self.services.remove(&c.name()) {
            svc.remove().await?;
        }
        if volumes {
            self.wipe_hcd(n)?;
        }
        let addr = (c.ip(), self.ports.cql);
        wait_for(
            &c.name(),
            "destroy confirmation",
            Duration::from_secs(15),
            || async move {
                match tokio::net::TcpStream::connect(addr).await {
                    Ok(_) => Err(format!("{}:{} still accepts connections", addr.0, addr.1)),
                    Err(_) => Ok(()),
                }
            },
        )
        .await
    }

    fn wipe_hcd(&self, n: u8) -> Result<(), StackError> {
        let dir = self.dir(Component::Hcd(n));
        // Contents only: `data` may be a mount point of its own.
        for sub in ["data", "commitlog", "saved_caches", "hints", "cdc_raw"] {
            let p = dir.join(sub);
            let Ok(entries) = fs::read_dir(&p) else {
                continue;
            };
            for e in entries {
                let e = e.map_err(io_err(&p))?.path();
                if e.file_name().is_some_and(|f| f == "lost+found") {
                    continue;
                }
                if e.is_dir() {
                    fs::remove_dir_all(&e).map_err(io_err(&e))?;
                } else {
                    fs::remove_file(&e).map_err(io_err(&e))?;
                }
            }
        }
        Ok(())
    }

    /// A new Gremlin connection as the application user.
    pub async fn gremlin_client(&self) -> Result<GremlinClient, GremlinError> {
        GremlinClient::connect(self.gremlin_options()).await
    }

    async fn start_alertmanager(&mut self) -> Result<(), StackError> {
        let c = Component::Alertmanager;
        let dir = self.dir(c);
        let vars = BTreeMap::from([("tls_dir", self.tls_dir(c).display().to_string())]);
        self.render_dir("alertmanager", &dir.join("conf"), &vars)?;
        fs::create_dir_all(dir.join("data")).map_err(io_err(&dir))?;
        let cmd = vec![
            format!(
                "--config.file={}",
                dir.join("conf/alertmanager.yml").display()
            ),
            format!("--web.config.file={}", dir.join("conf/web.yml").display()),
            format!("--web.listen-address=127.0.0.1:{}", self.ports.alertmanager),
            format!("--storage.path={}", dir.join("data").display()),
            // A single instance: no gossip port.
            "--cluster.listen-address=".into(),
        ];
        self.start_service(c, vec![], cmd).await?;
        self.wait_http_ready(c, self.ports.alertmanager).await
    }

    async fn start_prometheus(&mut self) -> Result<(), StackError> {
        let c = Component::Prometheus;
        let dir = self.dir(c);
        let rules = dir.join("conf/alerts.yml");
        let hcd_targets: Vec<String> = (1..=self.config.hcd_nodes)
            .map(|n| {
                format!(
                    "\"{}:{}\"",
                    Component::Hcd(n).ip(),
                    self.ports.hcd_metrics[usize::from(n - 1)]
                )
            })
            .collect();
        let jg_targets = if self.config.graph {
            format!("\"127.0.0.1:{}\"", self.ports.janusgraph_metrics)
        } else {
            String::new()
        };
        let tls_probe_targets: Vec<String> = self
            .tls_endpoints()
            .into_iter()
            .map(|(name, ip, port)| {
                format!("{{targets: [\"{ip}:{port}\"], labels: {{endpoint: \"{name}\"}}}}")
            })
            .collect();
        let hcd_data = match self.data_volume() {
            Some(_) => self.dir(Component::Hcd(1)).join("data"),
            None => self.config.run_dir.clone(),
        };
        let vars = BTreeMap::from([
            ("run_id", self.config.run_id.clone()),
            ("tls_dir", self.tls_dir(c).display().to_string()),
            ("blackbox_port", self.ports.blackbox.to_string()),
            ("node_exporter_port", self.ports.node_exporter.to_string()),
            ("tls_probe_targets", tls_probe_targets.join(", ")),
            (
                "hcd_data_mountpoint",
                regex_escape(&hcd_data.display().to_string()),
            ),
            ("alertmanager_port", self.ports.alertmanager.to_string()),
            ("prometheus_port", self.ports.prometheus.to_string()),
            ("vault_port", self.ports.vault.to_string()),
            ("rules_file", rules.display().to_string()),
            ("hcd_targets", hcd_targets.join(", ")),
            ("janusgraph_targets", jg_targets),
        ]);
        self.render_dir("prometheus", &dir.join("conf"), &vars)?;
        let src = crate::images::project_root().join("fixtures/monitoring/alerts.yml");
        fs::copy(&src, &rules).map_err(io_err(&src))?;
        fs::create_dir_all(dir.join("data")).map_err(io_err(&dir))?;
        let cmd = vec![
            format!(
                "--config.file={}",
                dir.join("conf/prometheus.yml").display()
            ),
            format!("--web.config.file={}", dir.join("conf/web.yml").display()),
            format!("--web.listen-address=127.0.0.1:{}", self.ports.prometheus),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            "--web.enable-lifecycle".into(),
        ];
        self.start_service(c, vec![], cmd).await?;
        self.wait_http_ready(c, self.ports.prometheus).await
    }

    async fn start_blackbox(&mut self) -> Result<(), StackError> {
        let c = Component::Blackbox;
        let dir = self.dir(c);
        let vars = BTreeMap::from([("tls_dir", self.tls_dir(c).display().to_string())]);
        self.render_dir("blackbox", &dir.join("conf"), &vars)?;
        let cmd = vec![
            format!("--config.file={}", dir.join("conf/blackbox.yml").display()),
            format!("--web.config.file={}", dir.join("conf/web.yml").display()),
            format!("--web.listen-address=127.0.0.1:{}", self.ports.blackbox),
        ];
        self.start_service(c, vec![], cmd).await?;
        self.wait_http_ok(c, self.ports.blackbox, "/-/healthy")
            .await
    }

    /// The node exporter sees the run folder through its bind mount, and HCD's data volume with
    /// it: a bind mount carries the mounts below it that exist when the container is made, so
    /// this starts after the volume is mounted (after HCD).
    async fn start_node_exporter(&mut self) -> Result<(), StackError> {
        let c = Component::NodeExporter;
        let dir = self.dir(c);
        let vars = BTreeMap::from([("tls_dir", self.tls_dir(c).display().to_string())]);
        self.render_dir("node-exporter", &dir.join("conf"), &vars)?;
        let cmd = vec![
            format!("--web.config.file={}", dir.join("conf/web.yml").display()),
            format!(
                "--web.listen-address=127.0.0.1:{}",
                self.ports.node_exporter
            ),
            // The host's figures a dashboard shows, and the filesystems; nothing else.
            "--collector.disable-defaults".into(),
            "--collector.filesystem".into(),
            "--collector.meminfo".into(),
            "--collector.loadavg".into(),
            "--collector.cpu".into(),
            // The container's own files (/etc/hosts, …) are bind mounts of the engine's disk.
            "--collector.filesystem.mount-points-exclude=^/(dev|proc|run|sys|etc)($|/)".into(),
        ];
        self.start_service(c, vec![], cmd).await?;
        self.wait_http_ok(c, self.ports.node_exporter, "/metrics")
            .await
    }

    async fn wait_http_ready(&self, c: Component, port: u16) -> Result<(), StackError> {
        self.wait_http_ok(c, port, "/-/ready").await
    }

    async fn wait_http_ok(&self, c: Component, port: u16, path: &str) -> Result<(), StackError> {
        let http = self.https_client();
        let url = format!("https://127.0.0.1:{port}{path}");
        wait_for(
            &c.name(),
            "HTTPS readiness",
            Duration::from_secs(30),
            || async {
                let r = http.get(&url).send().await.map_err(|e| e.to_string())?;
                if r.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("HTTP {}", r.status()))
                }
            },
        )
        .await
    }

    /// An HTTPS client trusting only the run's CA.
    pub fn https_client(&self) -> reqwest::Client {
        crate::tls::install_provider();
        let ca = reqwest::Certificate::from_pem(self.ca_pem.as_bytes())
            .expect("the run CA is valid PEM");
        reqwest::Client::builder()
            .tls_certs_only([ca])
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a rustls client with one root builds")
    }

    /// Prometheus's base URL.
    pub fn prometheus_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.ports.prometheus)
    }

    /// Alertmanager's base URL.
    pub fn alertmanager_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.ports.alertmanager)
    }

    /// The run's certificate authority (certificate rollover issues from it).
    pub fn pki(&self) -> &RunPki {
        &self.pki
    }

    /// The Vault client.
    pub fn vault(&self) -> &VaultClient {
        &self.vault
    }

    /// The root token (for recovery procedures under test; never logged).
    pub fn vault_root_token(&self) -> &Secret {
        &self.secrets.root_token
    }

    /// The running component named `name`.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.get(name)
    }

    /// The running component named `name`, mutably (restart).
    pub fn service_mut(&mut self, name: &str) -> Option<&mut Service> {
        self.services.get_mut(name)
    }

    /// The names of the running components.
    pub fn service_names(&self) -> Vec<String> {
        self.services.keys().cloned().collect()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn require_service(&self, name: &str) -> Result<&Service, StackError> {
        self.services.get(name).ok_or_else(|| StackError::Probe {
            component: name.to_owned(),
            probe: "lookup",
            waited: Duration::ZERO,
            last: format!(
                "no such component; running: {}",
                self.service_names().join(", ")
            ),
        })
    }

    /// The (ip, port) that answers for a component's main protocol.
    pub fn main_endpoint(&self, name: &str) -> Option<(IpAddr, u16)> {
        let local = IpAddr::from([127, 0, 0, 1]);
        match name {
            "vault" => Some((local, self.ports.vault)),
            "janusgraph" => Some((local, self.ports.gremlin)),
            "prometheus" => Some((local, self.ports.prometheus)),
            "alertmanager" => Some((local, self.ports.alertmanager)),
            "blackbox" => Some((local, self.ports.blackbox)),
            "node-exporter" => Some((local, self.ports.node_exporter)),
            _ => name
                .strip_prefix("hcd-")
                .and_then(|n| n.parse::<u8>().ok())
                .map(|n| (IpAddr::from(Component::Hcd(n).ip()), self.ports.cql)),
        }
    }

    /// Kills a component with SIGKILL and confirms it: the container is no longer running and its
    /// port refuses connections.
    pub async fn kill(&self, name: &str) -> Result<(), StackError> {
        let svc = self.require_service(name)?;
        svc.kill().await?;
        let endpoint = self.main_endpoint(name);
        wait_for(
            name,
            "kill confirmation",
            Duration::from_secs(15),
            || async {
                if svc.is_running().await {
                    return Err("the container still runs".into());
                }
                if let Some((ip, port)) = endpoint
                    && tokio::net::TcpStream::connect((ip, port)).await.is_ok()
                {
                    return Err(format!("{ip}:{port} still accepts connections"));
                }
                Ok(())
            },
        )
        .await
    }

    /// Freezes a component and confirms the engine reports it paused.
    pub async fn pause(&self, name: &str) -> Result<(), StackError> {
        let svc = self.require_service(name)?;
        svc.pause().await?;
        self.confirm_paused(name, true).await
    }

    /// Thaws a component and confirms it.
    pub async fn unpause(&self, name: &str) -> Result<(), StackError> {
        let svc = self.require_service(name)?;
        svc.unpause().await?;
        self.confirm_paused(name, false).await
    }

    async fn confirm_paused(&self, name: &str, want: bool) -> Result<(), StackError> {
        let id = self.require_service(name)?.id().to_owned();
        let docker = self.engine.docker().clone();
        wait_for(name, "pause state", Duration::from_secs(10), || async {
            let info = docker
                .inspect_container(&id, None)
                .await
                .map_err(|e| e.to_string())?;
            let paused = info.state.and_then(|s| s.paused).unwrap_or(false);
            if paused == want {
                Ok(())
            } else {
                Err(format!("paused={paused}, want {want}"))
            }
        })
        .await
    }

    /// Starts a stopped or killed component again and waits until it is ready, including its
    /// protocol check (Vault is unsealed with the run's key, as an operator would).
    pub async fn restart(&mut self, name: &str) -> Result<Duration, StackError> {
        let t = Instant::now();
        let svc = self
            .services
            .get_mut(name)
            .ok_or_else(|| StackError::Probe {
                component: name.to_owned(),
                probe: "lookup",
                waited: Duration::ZERO,
                last: "no such component".into(),
            })?;
        svc.restart().await?;
        self.after_ready(name).await?;
        Ok(t.elapsed())
    }

    /// The protocol check that follows a component's ready line.
    async fn after_ready(&self, name: &str) -> Result<(), StackError> {
        match name {
            "vault" => {
                let v = self.vault.clone();
                wait_for(name, "health check", Duration::from_secs(30), || async {
                    v.health().await.map(drop).map_err(|e| e.to_string())
                })
                .await?;
                if v.unseal(&self.secrets.unseal_key)
                    .await
                    .map_err(StackError::Vault)?
                {
                    return Err(StackError::Probe {
                        component: name.into(),
                        probe: "unseal",
                        waited: Duration::ZERO,
                        last: "still sealed after the unseal key was given".into(),
                    });
                }
                wait_for(name, "leadership", Duration::from_secs(30), || async {
                    let h = v.health().await.map_err(|e| e.to_string())?;
                    if h["sealed"] == false && h["standby"] == false {
                        Ok(())
                    } else {
                        Err(format!("health: {h}"))
                    }
                })
                .await
            }
            "janusgraph" => {
                let client = self
                    .gremlin_client()
                    .await
                    .map_err(|source| StackError::Gremlin {
                        component: name.into(),
                        source,
                    })?;
                client
                    .submit("g.V().limit(1).count()", serde_json::json!({}))
                    .await
                    .map(drop)
                    .map_err(|source| StackError::Gremlin {
                        component: name.into(),
                        source,
                    })
            }
            "prometheus" => {
                self.wait_http_ready(Component::Prometheus, self.ports.prometheus)
                    .await
            }
            "alertmanager" => {
                self.wait_http_ready(Component::Alertmanager, self.ports.alertmanager)
                    .await
            }
            "blackbox" => {
                self.wait_http_ok(Component::Blackbox, self.ports.blackbox, "/-/healthy")
                    .await
            }
            "node-exporter" => {
                self.wait_http_ok(
                    Component::NodeExporter,
                    self.ports.node_exporter,
                    "/metrics",
                )
                .await
            }
            _ if name.starts_with("hcd-") => self.admin_session().await.map(drop),
            _ => Ok(()),
        }
    }

    /// Removes a Cassandra node's container and, when `wipe`, its data (a destroyed node and its
    /// volume), then starts a fresh node in its place with the same address, ports and secrets.
    /// On a wiped node the roles are created again from Vault's secrets, as an operator would.
    pub async fn recreate_hcd(&mut self, n: u8, wipe: bool) -> Result<Duration, StackError> {
        let t = Instant::now();
        let c = Component::Hcd(n);
        if let Some(svc) = self.services.remove(&c.name()) {
            svc.remove().await?;
        }
        if wipe {
            self.wipe_hcd(n)?;
        }
        self.start_hcd(n).await?;
        if wipe && self.config.hcd_nodes == 1 {
            self.bootstrap_roles().await?;
        } else {
            self.admin_session().await?;
        }
        Ok(t.elapsed())
    }

    /// The host folder holding a component's files (`<run>/<component>`).
    pub fn component_dir(&self, name: &str) -> PathBuf {
        self.config.run_dir.join(name)
    }

    /// Every TLS endpoint of the stack: (name, ip, port).
    pub fn tls_endpoints(&self) -> Vec<(String, String, u16)> {
        let mut v = vec![("vault".to_owned(), "127.0.0.1".to_owned(), self.ports.vault)];
        for n in 1..=self.config.hcd_nodes {
            let ip = Component::Hcd(n).ip().to_string();
            let i = usize::from(n - 1);
            v.push((format!("hcd-{n} cql"), ip.clone(), self.ports.cql));
            v.push((format!("hcd-{n} metrics"), ip, self.ports.hcd_metrics[i]));
        }
        if self.config.graph {
            v.push((
                "janusgraph gremlin".into(),
                "127.0.0.1".into(),
                self.ports.gremlin,
            ));
            v.push((
                "janusgraph metrics".into(),
                "127.0.0.1".into(),
                self.ports.janusgraph_metrics,
            ));
        }
        if self.config.monitoring {
            v.push((
                "prometheus".into(),
                "127.0.0.1".into(),
                self.ports.prometheus,
            ));
            v.push((
                "alertmanager".into(),
                "127.0.0.1".into(),
                self.ports.alertmanager,
            ));
            v.push(("blackbox".into(), "127.0.0.1".into(), self.ports.blackbox));
            v.push((
                "node-exporter".into(),
                "127.0.0.1".into(),
                self.ports.node_exporter,
            ));
        }
        v
    }

    /// Stops and removes every container (reverse start order). The run folder is kept when
    /// `keep_files`, else removed.
    pub async fn down(mut self, keep_files: bool) -> Result<(), StackError> {
        let mut names = self.service_names();
        names.reverse();
        let mut first_err = None;
        for name in names {
            if let Some(svc) = self.services.remove(&name)
                && let Err(e) = svc.remove().await
            {
                first_err.get_or_insert(e);
            }
        }
        // Belt and braces: anything else carrying the run label.
        let _ = self.engine.remove_run(&self.config.run_id).await;
        for (_, p) in std::mem::take(&mut self.proxies) {
            p.shutdown().await;
        }
        for v in std::mem::take(&mut self.volumes) {
            if let Ok(mut v) = std::sync::Arc::try_unwrap(v) {
                let _ = tokio::task::spawn_blocking(move || v.unmount()).await;
            }
        }
        if !keep_files {
            let _ = fs::remove_dir_all(&self.config.run_dir);
        }
        first_err.map_or(Ok(()), |e| Err(e.into()))
    }
}

/// `text` with every regular-expression metacharacter escaped (RE2 syntax, as Prometheus's
/// relabelling reads it).
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if "\\.+*?()|[]{}^$".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Polls `f` until it succeeds or `limit` passes (a condition wait, not a fixed sleep); returns
/// what the successful call gave.
pub async fn wait_for<T, F, Fut>(
    component: &str,
    probe: &'static str,
    limit: Duration,
    mut f: F,
) -> Result<T, StackError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(last) if start.elapsed() >= limit => {
                return Err(StackError::Probe {
                    component: component.to_owned(),
                    probe,
                    waited: start.elapsed(),
                    last,
                });
            }
            Err(_) => {}
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

/// Waits until Vault is unsealed and active: raft elects itself leader shortly after unseal, and
/// writes fail until then.
pub(super) async fn wait_for_vault_leader(
    v: &crate::secrets::VaultClient,
) -> Result<(), StackError> {
    wait_for("vault", "leadership", Duration::from_secs(30), || async {
        let h = v.health().await.map_err(|e| e.to_string())?;
        if h["sealed"] == false && h["standby"] == false {
            Ok(())
        } else {
            Err(format!("health: {h}"))
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::regex_escape;

    #[test]
    fn escapes_paths_for_relabelling() {
        assert_eq!(
            regex_escape("/tmp/stackdrill/2026.x-1/hcd-1/data"),
            r"/tmp/stackdrill/2026\.x-1/hcd-1/data"
        );
        assert_eq!(regex_escape("a+b(c)[d]"), r"a\+b\(c\)\[d\]");
    }
}
