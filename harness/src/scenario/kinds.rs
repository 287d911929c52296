//! Closed vocabularies of the scenario language: [`Component`], [`ProbeKind`], [`FaultKind`],
//! [`Procedure`], [`WorkloadKind`], [`CheckerKind`] and friends.
//!
//! Every enum is closed: an unknown name is an error whose message lists the known ones. The
//! strings are the contract with the stack side, which implements each kind.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! closed_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $var),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$var),+];

            /// The name used in scenario files.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$var => $s),+ }
            }

            /// Parses the name used in scenario files.
            pub fn from_name(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$var),)+ _ => None }
            }

            /// The known names, for hints: "`a`, `b`, `c`".
            pub fn known() -> String {
                Self::ALL.iter().map(|v| format!("`{}`", v.as_str())).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_enum! {
    /// A component of the stack under test.
    pub enum Component {
        /// HCD: the Cassandra-compatible store (1 or 3 nodes).
        Hcd = "hcd",
        /// JanusGraph Server with the CQL backend.
        Janusgraph = "janusgraph",
        /// The Vault-API secrets server (OpenBao).
        Vault = "vault",
        /// Prometheus.
        Prometheus = "prometheus",
        /// Alertmanager.
        Alertmanager = "alertmanager",
        /// The JMX exporter agents on both JVMs.
        JmxExporters = "jmx_exporters",
        /// The blackbox exporter (TLS and HTTP probes of every endpoint), with monitoring.
        Blackbox = "blackbox",
        /// The node exporter (filesystems, memory, load), with monitoring.
        NodeExporter = "node_exporter",
    }
}

closed_enum! {
    /// What a scenario needs from its environment before its trial may run.
    pub enum Requirement {
        /// A running stack (Docker engine and images). Trials that need it are listed as ignored
        /// unless `STACKDRILL_STACK=1`.
        Stack = "stack",
        /// A long or heavy run (three HCD nodes, big data): listed as ignored unless
        /// `STACKDRILL_NIGHTLY=1`.
        Nightly = "nightly",
    }
}

closed_enum! {
    /// The kind of a steady-state or one-off probe.
    pub enum ProbeKind {
        /// A Gremlin query, optionally with a numeric expectation on its result.
        Gremlin = "gremlin",
        /// A CQL query, optionally with a numeric expectation on its result.
        Cql = "cql",
        /// Vault is initialised and unsealed.
        VaultHealth = "vault_health",
        /// A client can authenticate to Vault (and read `path`, when given).
        VaultAuth = "vault_auth",
        /// A TLS handshake with a component succeeds with the minimum version and a valid certificate.
        Tls = "tls",
        /// A PromQL expression, with a numeric expectation.
        Promql = "promql",
        /// An alert is in the given state in Alertmanager.
        Alert = "alert",
        /// A digest of the whole graph, optionally equal to an earlier observation of another probe.
        GraphDigest = "graph_digest",
        /// A component's port refuses a plaintext connection.
        PortRefusesPlaintext = "port_refuses_plaintext",
        /// A component's TLS port refuses a legacy protocol or a client trusting another CA
        /// rejects it.
        TlsRefuses = "tls_refuses",
        /// A login to HCD as JanusGraph's role with its current or previous password.
        CqlLogin = "cql_login",
        /// An audit log (HCD's or Vault's) records the run's actions.
        AuditLog = "audit_log",
    }
}

closed_enum! {
    /// Which of a component's listeners a TLS probe targets.
    pub enum Listener {
        /// The client port (CQL, Gremlin, the HTTP APIs).
        Client = "client",
        /// The JMX exporter's metrics port (`hcd`, `janusgraph`).
        Metrics = "metrics",
        /// HCD's internode (storage) port on every node.
        Internode = "internode",
    }
}

closed_enum! {
    /// What a `tls_refuses` probe offers, which the server (or the client) must refuse.
    pub enum TlsOffer {
        /// A ClientHello whose highest version is TLS 1.0.
        Tls10 = "tls1.0",
        /// A ClientHello whose highest version is TLS 1.1.
        Tls11 = "tls1.1",
        /// A client trusting a CA other than the run's: it must reject the server's chain.
        ForeignCa = "foreign_ca",
    }
}

closed_enum! {
    /// Which password of JanusGraph's HCD role a `cql_login` probe tries.
    pub enum Credential {
        /// The password in Vault now: the login must succeed.
        Current = "current",
        /// The password before the last rotation: the login must be rejected.
        Previous = "previous",
    }
}

closed_enum! {
    /// The kind of an injected fault.
    pub enum FaultKind {
        /// SIGKILL a component (or one HCD node).
        Kill = "kill",
        /// Stop and start a component gracefully.
        Restart = "restart",
        /// Freeze a component (SIGSTOP / cgroup freeze); healed by unpausing.
        Pause = "pause",
        /// Cut the network between two components.
        Partition = "partition",
        /// Add network latency to a component.
        Latency = "latency",
        /// Drop a percentage of a component's packets.
        Loss = "loss",
        /// Fill a component's data disk.
        DiskFull = "disk_full",
        /// Replace a component's certificate with an expired one.
        CertExpiry = "cert_expiry",
        /// Revoke a secret (lease or token) in Vault.
        RevokeSecret = "revoke_secret",
        /// Destroy a component, with its data volumes when `volumes = true`.
        Destroy = "destroy",
        /// Seal Vault (`sys/seal` with the root token); healed by unsealing with the run's key.
        Seal = "seal",
    }
}

closed_enum! {
    /// An operator procedure under test.
    pub enum Procedure {
        /// Take a named backup of a component.
        Backup = "backup",
        /// Restore a component from a named backup.
        Restore = "restore",
        /// Rotate a secret in Vault and roll it out.
        RotateSecret = "rotate_secret",
        /// Roll a component over to a new certificate.
        RotateCertificate = "rotate_certificate",
        /// Restart a component as an operator would.
        Restart = "restart",
    }
}

closed_enum! {
    /// The kind of a background workload.
    pub enum WorkloadKind {
        /// Writes numbered records and reads them back afterwards (the RPO ledger).
        SequenceWriter = "sequence_writer",
        /// A read/write mix of Gremlin traversals.
        GremlinMix = "gremlin_mix",
    }
}

closed_enum! {
    /// Where a sequence writer writes.
    pub enum WriterTarget {
        /// Vertices through JanusGraph.
        Graph = "graph",
        /// Rows through CQL, straight into HCD.
        Cql = "cql",
    }
}

closed_enum! {
    /// The state an `alert` probe expects.
    pub enum AlertState {
        /// The alert is firing.
        Firing = "firing",
        /// The alert is not firing (resolved or never fired).
        Resolved = "resolved",
    }
}

closed_enum! {
    /// A minimum TLS version.
    pub enum TlsVersion {
        /// TLS 1.2.
        V1_2 = "1.2",
        /// TLS 1.3.
        V1_3 = "1.3",
    }
}

closed_enum! {
    /// A checker that turns the history into a verdict.
    pub enum CheckerKind {
        /// Acknowledged-write ledger: lost, duplicated, resurrected and indeterminate writes.
        Ledger = "ledger",
        /// Recovery time: fault to steady state holding for the settle window.
        Rto = "rto",
        /// Recovery point: the time span of lost acknowledged writes.
        Rpo = "rpo",
        /// Latency percentiles and error rate of a workload.
        Latency = "latency",
        /// The share of a workload's operations that succeeded.
        Availability = "availability",
        /// Fault to the matching alert firing.
        TimeToDetect = "time_to_detect",
        /// The steady-state hypothesis holds again after the method.
        SteadyState = "steady_state",
        /// Every observation of a named probe in the method passed.
        Probe = "probe",
    }
}
