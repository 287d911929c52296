//! The stack under test, declared: [`StackConfig`] (topology and sizes), [`Component`] (what each
//! part is, which image it runs, what "ready" means, what it depends on and can suffer), [`Ports`]
//! (per-run loopback ports) and [`render`] (configuration templates). Nothing here spawns, stops or
//! sleeps; `runtime::stack` brings the declaration to life.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use crate::images::ImageName;

pub mod detection;

/// One part of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// OpenBao, the Vault-API secrets server.
    Vault,
    /// Cassandra node `n` (1-based), the HCD stand-in.
    Hcd(u8),
    /// JanusGraph Server.
    Janusgraph,
    /// Alertmanager.
    Alertmanager,
    /// Prometheus.
    Prometheus,
    /// The blackbox exporter: TLS probes of every endpoint, HTTP probe of Vault's health.
    Blackbox,
    /// The node exporter: the filesystems (HCD's data volume among them), memory and load.
    NodeExporter,
}

/// What can be done to a component by a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// SIGKILL and restart.
    pub kill: bool,
    /// Freeze and thaw.
    pub pause: bool,
    /// Snapshot backup and restore.
    pub backup: bool,
}

impl Component {
    /// The component named `name` (`vault`, `hcd-2`, …), as [`Component::name`] spells it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "vault" => Some(Component::Vault),
            "janusgraph" => Some(Component::Janusgraph),
            "alertmanager" => Some(Component::Alertmanager),
            "prometheus" => Some(Component::Prometheus),
            "blackbox" => Some(Component::Blackbox),
            "node-exporter" => Some(Component::NodeExporter),
            _ => name
                .strip_prefix("hcd-")
                .and_then(|n| n.parse().ok())
                .filter(|n| *n >= 1)
                .map(Component::Hcd),
        }
    }

    /// The name used for containers, folders and logs.
    pub fn name(self) -> String {
        match self {
            Component::Vault => "vault".into(),
            Component::Hcd(n) => format!("hcd-{n}"),
            Component::Janusgraph => "janusgraph".into(),
            Component::Alertmanager => "alertmanager".into(),
            Component::Prometheus => "prometheus".into(),
            Component::Blackbox => "blackbox".into(),
            Component::NodeExporter => "node-exporter".into(),
        }
    }

    /// The image it runs.
    pub fn image(self) -> ImageName {
        match self {
            Component::Vault => ImageName::Vault,
            Component::Hcd(_) => ImageName::Hcd,
            Component::Janusgraph => ImageName::Janusgraph,
            Component::Alertmanager => ImageName::Alertmanager,
            Component::Prometheus => ImageName::Prometheus,
            Component::Blackbox => ImageName::Blackbox,
            Component::NodeExporter => ImageName::NodeExporter,
        }
    }

    /// The output line that means the process is up (protocol checks follow it).
    pub fn ready_line(self) -> &'static str {
        match self {
            Component::Vault => "OpenBao server started!",
            Component::Hcd(_) => "Startup complete",
            Component::Janusgraph => "Channel started at port",
            // exporter-toolkit's line, once the TLS listener is open.
            Component::Alertmanager | Component::Blackbox | Component::NodeExporter => {
                "Listening on"
            }
            Component::Prometheus => "Server is ready to receive web requests.",
        }
    }

    /// Output lines that mean start-up failed although the process may linger.
    pub fn fail_lines(self) -> &'static [&'static str] {
        match self {
            Component::Janusgraph => &["JanusGraph Server was unable to start"],
            Component::Hcd(_) => &["Exception encountered during startup"],
            _ => &[],
        }
    }

    /// How many times a failed start is retried (a new container each time). JanusGraph's first
    /// start creates its tables; on a three-node cluster on two cores, a node may not know a new
    /// table yet when JanusGraph reads it, and the next start finds the tables in place.
    pub fn start_attempts(self) -> u32 {
        match self {
            Component::Janusgraph => 3,
            _ => 1,
        }
    }

    /// How long start-up may take on a 2-core machine.
    pub fn startup_timeout(self) -> Duration {
        match self {
            Component::Vault
            | Component::Alertmanager
            | Component::Prometheus
            | Component::Blackbox
            | Component::NodeExporter => Duration::from_secs(60),
            Component::Hcd(_) | Component::Janusgraph => Duration::from_secs(240),
        }
    }

    /// What must be ready before this starts.
    pub fn depends_on(self) -> &'static [&'static str] {
        match self {
            Component::Vault => &[],
            Component::Hcd(_) => &["vault"],
            Component::Janusgraph => &["vault", "hcd"],
            Component::Alertmanager => &[],
            Component::Blackbox => &[],
            // After HCD, whose data volume must be mounted before the exporter's container sees it.
            Component::NodeExporter => &["hcd"],
            Component::Prometheus => &["alertmanager", "blackbox", "node-exporter"],
        }
    }

    /// What faults it supports.
    pub fn capabilities(self) -> Capabilities {
        Capabilities {
            kill: true,
            pause: true,
            backup: matches!(self, Component::Hcd(_) | Component::Vault),
        }
    }

    /// The loopback address it binds to.
    pub fn ip(self) -> Ipv4Addr {
        match self {
            Component::Hcd(n) => Ipv4Addr::new(127, 0, 0, n),
            _ => Ipv4Addr::LOCALHOST,
        }
    }
}

/// The shape and sizes of one stack.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// The run id (labels, container names, folders).
    pub run_id: String,
    /// Where the run's configuration, data and logs live on the host.
    pub run_dir: PathBuf,
    /// Cassandra nodes (1 or 3); several nodes use 127.0.0.1, .2, .3, internode TLS and RF 3.
    pub hcd_nodes: u8,
    /// Cassandra heap (`-Xmx`).
    pub hcd_heap: String,
    /// JanusGraph heap.
    pub janusgraph_heap: String,
    /// Start Prometheus, Alertmanager and the blackbox and node exporters.
    pub monitoring: bool,
    /// Start JanusGraph.
    pub graph: bool,
    /// Put the harness's fault proxies on the JanusGraph → HCD and client → JanusGraph links
    /// (single-node HCD only: with several nodes the driver talks to every node directly).
    pub link_proxies: bool,
    /// Give node 1's data folder a filesystem of its own of this size (MiB), so it can be filled.
    pub hcd_data_volume_mb: Option<u64>,
}

impl StackConfig {
    /// The default single-node stack for `run_id` under `work_dir`.
    pub fn new(run_id: &str, work_dir: &std::path::Path) -> Self {
        Self {
            run_id: run_id.to_owned(),
            run_dir: work_dir.join(run_id),
            hcd_nodes: 1,
            hcd_heap: "512m".into(),
            janusgraph_heap: "512m".into(),
            monitoring: true,
            graph: true,
            link_proxies: true,
            hcd_data_volume_mb: None,
        }
    }

    /// The components, in start order (dependencies first; JVMs one at a time).
    pub fn components(&self) -> Vec<Component> {
        let mut v = vec![Component::Vault];
        v.extend((1..=self.hcd_nodes).map(Component::Hcd));
        if self.graph {
            v.push(Component::Janusgraph);
        }
        if self.monitoring {
            v.push(Component::Alertmanager);
            v.push(Component::Blackbox);
            v.push(Component::NodeExporter);
            v.push(Component::Prometheus);
        }
        v
    }

    /// The JanusGraph keyspace's replication factor and consistency level.
    pub fn replication(&self) -> (u8, &'static str) {
        if self.hcd_nodes >= 3 {
            (3, "QUORUM")
        } else {
            (1, "ONE")
        }
    }
}

/// A new run id: UTC time plus random hex, e.g. `20261203-171502-3fa9`.
pub fn new_run_id() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}-{:04x}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        rand::random::<u16>()
    )
}

/// Per-run ports, all on loopback, chosen free at allocation time.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Ports {
    /// Vault API.
    pub vault: u16,
    /// Vault cluster (raft) port.
    pub vault_cluster: u16,
    /// CQL (TLS only) on every node's address.
    pub cql: u16,
    /// Cassandra internode port on every node's address.
    pub storage: u16,
    /// Cassandra JMX per node (local JMX binds 127.0.0.1, so one port per node).
    pub hcd_jmx: Vec<u16>,
    /// JMX exporter per Cassandra node.
    pub hcd_metrics: Vec<u16>,
    /// Gremlin Server.
    pub gremlin: u16,
    /// JanusGraph's JMX exporter.
    pub janusgraph_metrics: u16,
    /// Prometheus web.
    pub prometheus: u16,
    /// Alertmanager web.
    pub alertmanager: u16,
    /// Blackbox exporter web.
    pub blackbox: u16,
    /// Node exporter web.
    pub node_exporter: u16,
}

impl Ports {
    /// Picks free ports (the kernel's choice for port 0, held until all are chosen so none repeat).
    pub fn allocate(hcd_nodes: u8) -> std::io::Result<Self> {
        let mut held = Vec::new();
        let mut next = || -> std::io::Result<u16> {
            let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
            let p = l.local_addr()?.port();
            held.push(l);
            Ok(p)
        };
        let n = usize::from(hcd_nodes);
        Ok(Self {
            vault: next()?,
            vault_cluster: next()?,
            cql: next()?,
            storage: next()?,
            hcd_jmx: (0..n).map(|_| next()).collect::<Result<_, _>>()?,
            hcd_metrics: (0..n).map(|_| next()).collect::<Result<_, _>>()?,
            gremlin: next()?,
            janusgraph_metrics: next()?,
            prometheus: next()?,
            alertmanager: next()?,
            blackbox: next()?,
            node_exporter: next()?,
        })
    }
}

/// A template referring to a variable that was not supplied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("template {template} uses {{{{{name}}}}} but no value was supplied")]
pub struct RenderError {
    /// The template's name.
    pub template: String,
    /// The missing variable.
    pub name: String,
}

/// Replaces every `{{name}}` in `text` with `vars[name]`. Unknown names are errors, so a typo in a
/// template fails the run instead of reaching a service. `@@name@@` placeholders (secrets rendered
/// inside the container) pass through untouched.
pub fn render(
    template_name: &str,
    text: &str,
    vars: &BTreeMap<&str, String>,
) -> Result<String, RenderError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = after[..end].trim();
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None => {
                return Err(RenderError {
                    template: template_name.to_owned(),
                    name: name.to_owned(),
                });
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_rejects_unknown_names() {
        let vars = BTreeMap::from([("a", "1".to_string()), ("b", "two".to_string())]);
        assert_eq!(
            render("t", "x={{a}} y={{ b }} s=@@secret@@", &vars).unwrap(),
            "x=1 y=two s=@@secret@@"
        );
        assert_eq!(
            render("t", "{{c}}", &vars).unwrap_err(),
            RenderError {
                template: "t".into(),
                name: "c".into()
            }
        );
    }

    #[test]
    fn ports_are_distinct() {
        let p = Ports::allocate(3).unwrap();
        let mut all = vec![
            p.vault,
            p.vault_cluster,
            p.cql,
            p.storage,
            p.gremlin,
            p.janusgraph_metrics,
            p.prometheus,
            p.alertmanager,
            p.blackbox,
            p.node_exporter,
        ];
        all.extend(&p.hcd_jmx);
        all.extend(&p.hcd_metrics);
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn components_start_in_dependency_order() {
        let mut c = StackConfig::new("r", std::path::Path::new("/tmp"));
        c.hcd_nodes = 3;
        let names: Vec<String> = c.components().into_iter().map(Component::name).collect();
        assert_eq!(
            names,
            [
                "vault",
                "hcd-1",
                "hcd-2",
                "hcd-3",
                "janusgraph",
                "alertmanager",
                "blackbox",
                "node-exporter",
                "prometheus"
            ]
        );
        assert_eq!(c.replication(), (3, "QUORUM"));
    }
}
