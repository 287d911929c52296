//! [`ScenarioFile`]: serde types that mirror the scenario TOML syntax, one struct per table.
//!
//! These types only describe the *shape* of a file: every table rejects unknown keys, and the
//! closed vocabularies in [`super::kinds`] reject unknown names. Which fields a given kind needs,
//! references between sections and value ranges are checked by the loader, which turns a
//! `ScenarioFile` into a [`super::Plan`] and reports every such mistake at once.
//!
//! Many fields that a given kind requires are `Option` here on purpose: the loader reports a
//! missing field with the kind that needs it ("a `restore` needs `from`"), which serde cannot.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::duration::HumanDuration;
use super::kinds::*;

/// A whole scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "stackdrill scenario")]
pub struct ScenarioFile {
    /// What the scenario is and which controls it proves.
    pub scenario: ScenarioMeta,
    /// The stack it needs (default: every component, one HCD node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<StackRaw>,
    /// Named probes, referenced by the steady state, `wait_until`, `probe` steps and checks.
    #[serde(default, rename = "probe", skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeRaw>,
    /// The steady-state hypothesis: probes that must hold before and after the method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_state: Option<SteadyStateRaw>,
    /// Background load that runs through the method.
    #[serde(default, rename = "workload", skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<WorkloadRaw>,
    /// The method: faults, recovery procedures, waits and probes, in order.
    #[serde(default, rename = "step", skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepRaw>,
    /// Steps that always run after the method, whatever happened; their success is verified.
    #[serde(default, rename = "rollback", skip_serializing_if = "Vec::is_empty")]
    pub rollbacks: Vec<StepRaw>,
    /// Checkers and their thresholds.
    #[serde(default, rename = "check", skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckRaw>,
    /// Targets (RTO, RPO, latency, availability, time to detect); defaults from the tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<TargetsRaw>,
    /// Named overrides, e.g. `[profile.ci]` for short CI runs and `[profile.nightly]` for drills.
    #[serde(
        default,
        rename = "profile",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub profiles: BTreeMap<String, ProfileRaw>,
}

/// `[scenario]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioMeta {
    /// Identifier: lowercase letters, digits, `-` and `_`.
    pub name: String,
    /// One or two sentences: what is broken and what must hold.
    pub description: String,
    /// Free-form tags for selection.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Ids of the controls (fixtures/controls.toml) this scenario proves when it passes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<String>,
    /// Seed of every random choice (workload schedules, target selection). Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// What the trial needs to run; `stack` trials are ignored unless `STACKDRILL_STACK=1`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Requirement>,
}

/// `[stack]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackRaw {
    /// Components to start (default: all of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    /// Topology.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<TopologyRaw>,
    /// A seeded banking graph loaded once the stack is up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetRaw>,
    /// Image overrides by component name, e.g. `hcd = "registry.example/hcd:1.2"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,
    /// Configuration overrides by component name, then key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, BTreeMap<String, ConfigValue>>,
}

/// `[stack.dataset]`: a seeded banking graph (people, accounts, transactions).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetRaw {
    /// People.
    pub persons: u32,
    /// Accounts (each owned by one person).
    pub accounts: u32,
    /// Transactions between accounts.
    pub transactions: u32,
}

/// `[stack.topology]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopologyRaw {
    /// HCD nodes: 1 or 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hcd_nodes: Option<u8>,
}

/// A configuration override value: a string, an integer, a float or a boolean.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    /// A string.
    String(String),
    /// An integer.
    Integer(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => f.write_str(s),
            Self::Integer(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl Serialize for ConfigValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::String(v) => s.serialize_str(v),
            Self::Integer(v) => s.serialize_i64(*v),
            Self::Float(v) => s.serialize_f64(*v),
            Self::Bool(v) => s.serialize_bool(*v),
        }
    }
}

struct ConfigValueVisitor;

impl Visitor<'_> for ConfigValueVisitor {
    type Value = ConfigValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, an integer, a float or a boolean")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<ConfigValue, E> {
        Ok(ConfigValue::String(v.to_owned()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ConfigValue, E> {
        Ok(ConfigValue::Integer(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ConfigValue, E> {
        i64::try_from(v)
            .map(ConfigValue::Integer)
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ConfigValue, E> {
        Ok(ConfigValue::Float(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ConfigValue, E> {
        Ok(ConfigValue::Bool(v))
    }
}

impl<'de> Deserialize<'de> for ConfigValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ConfigValueVisitor)
    }
}

impl JsonSchema for ConfigValue {
    fn schema_name() -> Cow<'static, str> {
        "ConfigValue".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": ["string", "integer", "number", "boolean"] })
    }
}

/// `[[probe]]`: a named observation. Which fields apply depends on `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeRaw {
    /// Name, referenced elsewhere in the file.
    pub name: String,
    /// What to observe.
    pub kind: ProbeKind,
    /// `gremlin`, `cql`: the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// `promql`: the expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// `alert`: the alert name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// `alert`: the expected state (default `firing`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AlertState>,
    /// `tls`, `port_refuses_plaintext`: the component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<Component>,
    /// `tls`, `port_refuses_plaintext`: the port (default: the component's client port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `tls`, `tls_refuses`, `port_refuses_plaintext`: which listener (default `client`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener: Option<Listener>,
    /// `tls_refuses`: what is offered and must be refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<TlsOffer>,
    /// `cql_login`: which password to try.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<Credential>,
    /// `audit_log` on `hcd`: the role whose actions must be recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `audit_log` on `hcd`: the keyspace the actions touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyspace: Option<String>,
    /// `audit_log` on `hcd`: the audited operation's category or statement type, e.g. `DML`,
    /// `UPDATE` (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// `tls`: the minimum TLS version (default `1.2`). With `equals`, `min` or `max`, a `tls`
    /// probe's value is the days left on the certificate with the fewest (negative: expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<TlsVersion>,
    /// `tls`: the certificate must stay valid at least this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<HumanDuration>,
    /// `vault_auth`: a secret path the authenticated client must be able to read; `audit_log` on
    /// `vault`: the path whose reads must be recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `graph_digest`: the name of another `graph_digest` probe whose last observation must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
    /// `gremlin`, `cql`, `promql`: the result must equal this (within `tolerance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<f64>,
    /// Absolute tolerance around `equals`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    /// `gremlin`, `cql`, `promql`: the result must be at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// `gremlin`, `cql`, `promql`: the result must be at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// How long one observation may take (default 10s; 3m for `graph_digest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
}

/// `[steady_state]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SteadyStateRaw {
    /// Names of the probes that make up the hypothesis.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<String>,
    /// How long the probes must pass continuously to call the system recovered (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<HumanDuration>,
    /// How often the probes are sampled during the method (default 2s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<HumanDuration>,
    /// How long to wait for the hypothesis to hold before and after the method (default 2m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<HumanDuration>,
}

/// `[[workload]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadRaw {
    /// Name, referenced by checks and profiles.
    pub name: String,
    /// What load to generate.
    pub kind: WorkloadKind,
    /// `sequence_writer`: where to write (default `graph`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<WriterTarget>,
    /// Arrival rate in operations per second (open model).
    pub rate: f64,
    /// How long to run (default: until the method ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<HumanDuration>,
    /// Maximum operations in flight (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Seed of the schedule (default: the scenario's seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// `gremlin_mix`: the share of reads, 0 to 1 (default 0.8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_ratio: Option<f64>,
    /// Per-operation timeout; a timed-out write is indeterminate (default 5s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_timeout: Option<HumanDuration>,
}

/// `[[step]]` and `[[rollback]]`: exactly one action per step.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepRaw {
    /// Name, referenced by `heal`, checks and profiles (default `step-N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Inject a fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultRaw>,
    /// Heal the fault injected by the named step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heal: Option<String>,
    /// Run an operator procedure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover: Option<RecoverRaw>,
    /// Wait until probes pass, with a deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_until: Option<WaitRaw>,
    /// Let the workloads run for this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<HumanDuration>,
    /// Observe the named probe once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    /// Mark a phase in the history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// `fault = { kind = ..., ... }`. Which fields apply depends on `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultRaw {
    /// What to break.
    pub kind: FaultKind,
    /// The component to break (every kind but `partition` and `revoke_secret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Component>,
    /// `kill`, `restart`, `pause`, `disk_full` on `hcd`: the node, 1-based (default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<u8>,
    /// `partition`: the two components to cut apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub between: Option<Vec<Component>>,
    /// `latency`: the added delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<HumanDuration>,
    /// `latency`: jitter around the delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<HumanDuration>,
    /// `loss`: the percentage of packets dropped, 0 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// `revoke_secret`: the Vault path of the secret or lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `cert_expiry`: how long after it is installed the certificate expires (default 1m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<HumanDuration>,
    /// `destroy`: also destroy the data volumes (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<bool>,
    /// Heal automatically after this long (default: at a `heal` step or in rollback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<HumanDuration>,
}

/// `recover = { procedure = ..., ... }`. Which fields apply depends on `procedure`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverRaw {
    /// The procedure.
    pub procedure: Procedure,
    /// `backup`, `restore`, `rotate_certificate`, `restart`: the component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<Component>,
    /// `backup`: the name of the backup it produces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// `restore`: the name of the backup to restore (produced by an earlier `backup` step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `rotate_secret`: the Vault path of the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// How long the procedure may take (default 30m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
}

/// `wait_until = { probes = [...], deadline = "5m" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitRaw {
    /// Probes that must pass (default: the steady-state probes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<String>,
    /// Give up after this long; the step then fails and the method stops.
    pub deadline: HumanDuration,
    /// The probes must pass continuously this long (default: pass once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<HumanDuration>,
    /// Sampling interval (default: the steady state's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<HumanDuration>,
}

/// `[[check]]`. Which fields apply depends on `checker`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRaw {
    /// Name in reports (default: the checker's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Which checker.
    pub checker: CheckerKind,
    /// `ledger`, `rpo`, `latency`, `availability`: the workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// `rto`, `time_to_detect`: the fault step (default: the first fault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// `time_to_detect`: the `alert` probe that detects the fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// `probe`: the probe whose observations must pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    /// `rto`: the probes that define "recovered" (default: the steady-state probes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<String>,
    /// `rto`: the settle window (default: the steady state's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<HumanDuration>,
    /// `ledger`: acknowledged writes allowed to be lost (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lost: Option<u64>,
    /// `ledger`: writes allowed to appear twice (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duplicated: Option<u64>,
    /// `ledger`: failed or never-sent writes allowed to appear (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_resurrected: Option<u64>,
    /// `latency`: judge only operations meant to be sent from the start of this step on
    /// (default: the whole run), e.g. from the fault, leaving the warm-up out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// `[targets]`: what the figures are judged against. Unset values come from the tier.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetsRaw {
    /// The service tier (1, 2 or 3) whose RTO/RPO apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<u8>,
    /// Recovery time objective.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto: Option<HumanDuration>,
    /// Recovery point objective.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo: Option<HumanDuration>,
    /// Latency percentile bounds (response time, corrected for coordinated omission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_latency: Option<HumanDuration>,
    /// 95th percentile bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_latency: Option<HumanDuration>,
    /// 99th percentile bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_latency: Option<HumanDuration>,
    /// Maximum error rate, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// Minimum availability, 0 to 1 (e.g. 0.999).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<f64>,
    /// Maximum time from fault to alert firing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_detect: Option<HumanDuration>,
}

/// `[profile.<name>]`: overrides applied with `--profile <name>`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRaw {
    /// What the profile is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Target overrides, field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<TargetsRaw>,
    /// Steady-state overrides (`settle`, `interval`, `deadline`; not `probes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_state: Option<SteadyStateOverride>,
    /// Workload overrides by workload name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub workload: BTreeMap<String, WorkloadOverride>,
    /// Step overrides by step name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub step: BTreeMap<String, StepOverride>,
    /// Replaces `[stack] dataset` (e.g. a bigger graph for the nightly drill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetRaw>,
}

/// `[profile.<name>.steady_state]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SteadyStateOverride {
    /// Settle window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<HumanDuration>,
    /// Sampling interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<HumanDuration>,
    /// Deadline before and after the method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<HumanDuration>,
}

/// `[profile.<name>.workload.<workload>]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadOverride {
    /// Arrival rate (ops/s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<HumanDuration>,
    /// Concurrency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
}

/// `[profile.<name>.step.<step>]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepOverride {
    /// For a `hold` step: how long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<HumanDuration>,
    /// For a `wait_until` step: its deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<HumanDuration>,
    /// For a `fault` step: heal automatically after this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<HumanDuration>,
}

/// The JSON Schema of scenario files, as checked in at `fixtures/scenario.schema.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ScenarioFile);
    let mut s = serde_json::to_string_pretty(&schema).expect("a schema always serializes");
    s.push('\n');
    s
}
