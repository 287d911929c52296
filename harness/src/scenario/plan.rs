//! [`Plan`]: a validated scenario, ready for the runner. Every reference in it resolves, every
//! kind has exactly the fields it needs, and the chosen profile is applied.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::kinds::*;
use super::schema::{ConfigValue, ProfileRaw};

/// A validated scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The file it was loaded from, as given.
    pub source: PathBuf,
    /// The scenario's name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Control ids it proves when it passes.
    pub controls: Vec<String>,
    /// Seed of every random choice.
    pub seed: u64,
    /// What its trial needs.
    pub requires: Vec<Requirement>,
    /// The profile applied, if any.
    pub profile: Option<String>,
    /// Names of every profile the file defines.
    pub profiles: Vec<String>,
    /// The stack to start.
    pub stack: StackSpec,
    /// Named probes, in file order.
    pub probes: Vec<ProbeSpec>,
    /// The steady-state hypothesis.
    pub steady_state: SteadyState,
    /// Background workloads.
    pub workloads: Vec<WorkloadSpec>,
    /// The method.
    pub steps: Vec<Step>,
    /// Rollback steps (always run).
    pub rollbacks: Vec<Step>,
    /// Checks, in file order.
    pub checks: Vec<CheckSpec>,
    /// Target overrides; unset ones come from the tier in the controls catalog.
    pub targets: TargetOverrides,
    /// The raw profiles, kept so a plan can be written back out.
    #[serde(skip)]
    pub raw_profiles: BTreeMap<String, ProfileRaw>,
}

impl Plan {
    /// The probe named `name`.
    pub fn probe(&self, name: &str) -> Option<&ProbeSpec> {
        self.probes.iter().find(|p| p.name == name)
    }

    /// The workload named `name`.
    pub fn workload(&self, name: &str) -> Option<&WorkloadSpec> {
        self.workloads.iter().find(|w| w.name == name)
    }

    /// The fault steps of the method, in order.
    pub fn faults(&self) -> impl Iterator<Item = &FaultSpec> {
        self.steps.iter().filter_map(|s| match &s.action {
            Action::Fault(f) => Some(f),
            _ => None,
        })
    }

    /// Whether the trial needs a running stack.
    pub fn needs_stack(&self) -> bool {
        self.requires.contains(&Requirement::Stack)
    }
}

/// The stack a scenario needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackSpec {
    /// Components to start, in dependency-free file order.
    pub components: Vec<Component>,
    /// HCD nodes: 1 or 3.
    pub hcd_nodes: u8,
    /// Image overrides.
    pub images: BTreeMap<Component, String>,
    /// Configuration overrides.
    pub config: BTreeMap<Component, BTreeMap<String, ConfigValue>>,
    /// A banking graph to load once the stack is up: (persons, accounts, transactions).
    pub dataset: Option<(u32, u32, u32)>,
}

impl Default for StackSpec {
    fn default() -> Self {
        Self {
            components: Component::ALL.to_vec(),
            hcd_nodes: 1,
            images: BTreeMap::new(),
            config: BTreeMap::new(),
            dataset: None,
        }
    }
}

/// A named probe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeSpec {
    /// Its name.
    pub name: String,
    /// What it observes.
    pub check: ProbeCheck,
    /// How long one observation may take.
    pub timeout: Duration,
}

/// What a probe observes, by kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProbeCheck {
    /// A Gremlin query.
    Gremlin {
        query: String,
        expect: Option<Expect>,
    },
    /// A CQL query.
    Cql {
        query: String,
        expect: Option<Expect>,
    },
    /// Vault initialised and unsealed.
    VaultHealth,
    /// Vault authentication (and a read of `path`).
    VaultAuth { path: Option<String> },
    /// A TLS handshake.
    Tls {
        component: Component,
        listener: Listener,
        port: Option<u16>,
        min_version: TlsVersion,
        valid_for: Option<Duration>,
        /// On the days left of the certificate with the fewest; an expired certificate is then
        /// an observation (negative days), not a failed handshake.
        expect: Option<Expect>,
    },
    /// A PromQL expression.
    Promql {
        expression: String,
        expect: Option<Expect>,
    },
    /// An alert's state.
    Alert { alert: String, state: AlertState },
    /// A digest of the graph.
    GraphDigest { same_as: Option<String> },
    /// A port refuses plaintext.
    PortRefusesPlaintext {
        component: Component,
        listener: Listener,
        port: Option<u16>,
    },
    /// A TLS port refuses a legacy version, or a client trusting another CA rejects it.
    TlsRefuses {
        component: Component,
        listener: Listener,
        port: Option<u16>,
        offer: TlsOffer,
    },
    /// A login as JanusGraph's HCD role.
    CqlLogin { credential: Credential },
    /// An audit log records the run's actions.
    AuditLog {
        component: Component,
        user: Option<String>,
        keyspace: Option<String>,
        operation: Option<String>,
        path: Option<String>,
    },
}

impl ProbeCheck {
    /// The probe's kind.
    pub fn kind(&self) -> ProbeKind {
        match self {
            Self::Gremlin { .. } => ProbeKind::Gremlin,
            Self::Cql { .. } => ProbeKind::Cql,
            Self::VaultHealth => ProbeKind::VaultHealth,
            Self::VaultAuth { .. } => ProbeKind::VaultAuth,
            Self::Tls { .. } => ProbeKind::Tls,
            Self::Promql { .. } => ProbeKind::Promql,
            Self::Alert { .. } => ProbeKind::Alert,
            Self::GraphDigest { .. } => ProbeKind::GraphDigest,
            Self::PortRefusesPlaintext { .. } => ProbeKind::PortRefusesPlaintext,
            Self::TlsRefuses { .. } => ProbeKind::TlsRefuses,
            Self::CqlLogin { .. } => ProbeKind::CqlLogin,
            Self::AuditLog { .. } => ProbeKind::AuditLog,
        }
    }

    /// The numeric expectation, for kinds that have one.
    pub fn expect(&self) -> Option<&Expect> {
        match self {
            Self::Gremlin { expect, .. }
            | Self::Cql { expect, .. }
            | Self::Promql { expect, .. } => expect.as_ref(),
            _ => None,
        }
    }
}

/// A numeric expectation on an observed value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// `|value - equals| <= tolerance`.
    Equals { value: f64, tolerance: f64 },
    /// `min <= value <= max`.
    Range { min: Option<f64>, max: Option<f64> },
}

impl std::fmt::Display for Expect {
    /// `= 3`, `= 3 ± 0.5`, `>= 1`, `<= 7`, `in [1, 7]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::Equals { value, tolerance } => {
                if tolerance == 0.0 {
                    write!(f, "= {value}")
                } else {
                    write!(f, "= {value} ± {tolerance}")
                }
            }
            Self::Range {
                min: Some(a),
                max: Some(b),
            } => write!(f, "in [{a}, {b}]"),
            Self::Range { min: Some(a), .. } => write!(f, ">= {a}"),
            Self::Range { max: Some(b), .. } => write!(f, "<= {b}"),
            Self::Range { .. } => f.write_str("any value"),
        }
    }
}

impl Expect {
    /// Whether `v` meets the expectation.
    pub fn accepts(&self, v: f64) -> bool {
        match *self {
            Self::Equals { value, tolerance } => (v - value).abs() <= tolerance,
            Self::Range { min, max } => min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m),
        }
    }
}

/// The steady-state hypothesis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SteadyState {
    /// Probe names.
    pub probes: Vec<String>,
    /// Continuous-pass window that defines "recovered".
    pub settle: Duration,
    /// Sampling interval during the method.
    pub interval: Duration,
    /// Deadline for the hypothesis to hold before and after the method.
    pub deadline: Duration,
}

/// A background workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadSpec {
    /// Its name.
    pub name: String,
    /// What it does.
    pub kind: WorkloadKindSpec,
    /// Arrival rate, ops/s.
    pub rate: f64,
    /// How long it runs (None: until the method ends).
    pub duration: Option<Duration>,
    /// Maximum operations in flight.
    pub concurrency: u32,
    /// Seed of its schedule.
    pub seed: u64,
    /// Per-operation timeout.
    pub op_timeout: Duration,
}

/// A workload's kind and kind-specific settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkloadKindSpec {
    /// Numbered writes, read back for the ledger.
    SequenceWriter { target: WriterTarget },
    /// A read/write mix.
    GremlinMix { read_ratio: f64 },
}

impl WorkloadKindSpec {
    /// The kind.
    pub fn kind(&self) -> WorkloadKind {
        match self {
            Self::SequenceWriter { .. } => WorkloadKind::SequenceWriter,
            Self::GremlinMix { .. } => WorkloadKind::GremlinMix,
        }
    }
}

/// One step of the method or of the rollback.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Its name (given, or `step-N` / `rollback-N`).
    pub name: String,
    /// What it does.
    pub action: Action,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Inject a fault.
    Fault(FaultSpec),
    /// Heal the fault of the named step.
    Heal { fault: String },
    /// Run an operator procedure.
    Recover(RecoverySpec),
    /// Wait until probes pass.
    WaitUntil(WaitSpec),
    /// Let the workloads run.
    Hold(Duration),
    /// Observe a probe once.
    Probe(String),
    /// Mark a phase.
    Phase(String),
}

impl Action {
    /// The action's name in scenario files.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Fault(_) => "fault",
            Self::Heal { .. } => "heal",
            Self::Recover(_) => "recover",
            Self::WaitUntil(_) => "wait_until",
            Self::Hold(_) => "hold",
            Self::Probe(_) => "probe",
            Self::Phase(_) => "phase",
        }
    }
}

/// A fault to inject.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultSpec {
    /// The step's name.
    pub name: String,
    /// What to break.
    pub fault: Fault,
    /// Heal automatically after this long.
    pub heal_after: Option<Duration>,
}

/// A fault, by kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    Kill {
        target: Component,
        node: Option<u8>,
    },
    Restart {
        target: Component,
        node: Option<u8>,
    },
    Pause {
        target: Component,
        node: Option<u8>,
    },
    Partition {
        between: [Component; 2],
    },
    Latency {
        target: Component,
        delay: Duration,
        jitter: Option<Duration>,
    },
    Loss {
        target: Component,
        percent: f64,
    },
    DiskFull {
        target: Component,
        node: Option<u8>,
    },
    CertExpiry {
        target: Component,
        node: Option<u8>,
        /// How long after installation the certificate expires.
        expires_in: Duration,
    },
    RevokeSecret {
        path: String,
    },
    Destroy {
        target: Component,
        volumes: bool,
    },
    Seal {
        target: Component,
    },
}

impl Fault {
    /// The kind.
    pub fn kind(&self) -> FaultKind {
        match self {
            Self::Kill { .. } => FaultKind::Kill,
            Self::Restart { .. } => FaultKind::Restart,
            Self::Pause { .. } => FaultKind::Pause,
            Self::Partition { .. } => FaultKind::Partition,
            Self::Latency { .. } => FaultKind::Latency,
            Self::Loss { .. } => FaultKind::Loss,
            Self::DiskFull { .. } => FaultKind::DiskFull,
            Self::CertExpiry { .. } => FaultKind::CertExpiry,
            Self::RevokeSecret { .. } => FaultKind::RevokeSecret,
            Self::Destroy { .. } => FaultKind::Destroy,
            Self::Seal { .. } => FaultKind::Seal,
        }
    }

    /// A short description for the history: "kill hcd node 2", "partition janusgraph|hcd".
    pub fn describe(&self) -> String {
        let node = |n: &Option<u8>| n.map(|n| format!(" node {n}")).unwrap_or_default();
        match self {
            Self::Kill { target, node: n }
            | Self::Restart { target, node: n }
            | Self::Pause { target, node: n }
            | Self::DiskFull { target, node: n } => format!("{} {target}{}", self.kind(), node(n)),
            Self::Partition { between: [a, b] } => format!("partition {a}|{b}"),
            Self::Latency { target, delay, .. } => {
                format!("latency {target} +{}", humantime::format_duration(*delay))
            }
            Self::Loss { target, percent } => format!("loss {target} {percent}%"),
            Self::CertExpiry {
                target,
                node: n,
                expires_in,
            } => format!(
                "cert_expiry {target}{} in {}",
                node(n),
                humantime::format_duration(*expires_in)
            ),
            Self::RevokeSecret { path } => format!("revoke_secret {path}"),
            Self::Seal { target } => format!("seal {target}"),
            Self::Destroy { target, volumes } => {
                format!(
                    "destroy {target}{}",
                    if *volumes { " with volumes" } else { "" }
                )
            }
        }
    }
}

/// An operator procedure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecoverySpec {
    /// The step's name.
    pub name: String,
    /// The procedure.
    pub procedure: Recovery,
    /// How long it may take.
    pub timeout: Duration,
}

/// A procedure, by kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "procedure", rename_all = "snake_case")]
pub enum Recovery {
    Backup {
        component: Component,
        backup: String,
    },
    Restore {
        component: Component,
        from: String,
    },
    RotateSecret {
        path: String,
    },
    RotateCertificate {
        component: Component,
    },
    Restart {
        component: Component,
    },
}

impl Recovery {
    /// The kind.
    pub fn kind(&self) -> Procedure {
        match self {
            Self::Backup { .. } => Procedure::Backup,
            Self::Restore { .. } => Procedure::Restore,
            Self::RotateSecret { .. } => Procedure::RotateSecret,
            Self::RotateCertificate { .. } => Procedure::RotateCertificate,
            Self::Restart { .. } => Procedure::Restart,
        }
    }
}

/// A `wait_until` step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitSpec {
    /// Probe names (resolved: never empty).
    pub probes: Vec<String>,
    /// Deadline.
    pub deadline: Duration,
    /// Continuous-pass window (zero: pass once).
    pub settle: Duration,
    /// Sampling interval.
    pub interval: Duration,
}

/// A check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckSpec {
    /// Its name in reports.
    pub name: String,
    /// What it checks.
    pub check: Check,
}

/// A check, by checker, with its references resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "checker", rename_all = "snake_case")]
pub enum Check {
    Ledger {
        workload: String,
        max_lost: u64,
        max_duplicated: u64,
        max_resurrected: u64,
    },
    Rto {
        fault: String,
        probes: Vec<String>,
        settle: Duration,
    },
    Rpo {
        workload: String,
    },
    Latency {
        workload: String,
    },
    Availability {
        workload: String,
    },
    TimeToDetect {
        fault: String,
        alert: String,
    },
    SteadyState,
    Probe {
        probe: String,
    },
}

impl Check {
    /// The checker.
    pub fn kind(&self) -> CheckerKind {
        match self {
            Self::Ledger { .. } => CheckerKind::Ledger,
            Self::Rto { .. } => CheckerKind::Rto,
            Self::Rpo { .. } => CheckerKind::Rpo,
            Self::Latency { .. } => CheckerKind::Latency,
            Self::Availability { .. } => CheckerKind::Availability,
            Self::TimeToDetect { .. } => CheckerKind::TimeToDetect,
            Self::SteadyState => CheckerKind::SteadyState,
            Self::Probe { .. } => CheckerKind::Probe,
        }
    }
}

/// Target overrides from `[targets]` (and the profile).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TargetOverrides {
    /// The tier; None: the tier of the first fault's target, else tier 1.
    pub tier: Option<u8>,
    pub rto: Option<Duration>,
    pub rpo: Option<Duration>,
    pub p50_latency: Option<Duration>,
    pub p95_latency: Option<Duration>,
    pub p99_latency: Option<Duration>,
    pub error_rate: Option<f64>,
    pub availability: Option<f64>,
    pub time_to_detect: Option<Duration>,
}
