//! [`Target`]: what the runner needs from a live stack. The stack side implements it (the
//! containers runtime today; a processes or attach runtime later).

use crate::history::{History, ProbeStatus};
use crate::scenario::{FaultSpec, ProbeSpec, RecoverySpec, StackSpec, WorkloadSpec};

/// A target's handle on an injected fault, passed back to [`Target::heal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaultHandle(pub u64);

/// A target's handle on a running workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkloadId(pub u64);

/// One probe observation.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOutcome {
    /// Whether the observation met the probe's expectation. Use [`ProbeStatus::Unknown`] when
    /// the probe could not observe (connection error, timeout), never `Pass`.
    pub status: ProbeStatus,
    /// The observed number, for probes with a numeric expectation.
    pub value: Option<f64>,
    /// The observed value as text (a graph digest, a TLS version, an alert state).
    pub observed: Option<String>,
    /// Why it failed or could not observe.
    pub detail: Option<String>,
}

impl ProbeOutcome {
    /// A passing observation.
    pub fn pass() -> Self {
        Self {
            status: ProbeStatus::Pass,
            value: None,
            observed: None,
            detail: None,
        }
    }
    /// A failing observation.
    pub fn fail(detail: impl Into<String>) -> Self {
        Self {
            status: ProbeStatus::Fail,
            value: None,
            observed: None,
            detail: Some(detail.into()),
        }
    }
    /// An observation that could not be made.
    pub fn unknown(detail: impl Into<String>) -> Self {
        Self {
            status: ProbeStatus::Unknown,
            value: None,
            observed: None,
            detail: Some(detail.into()),
        }
    }
}

/// What a recovery procedure reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecoveryOutcome {
    /// What it did, for the history.
    pub detail: Option<String>,
    /// Figures it measured about itself; each becomes a figure of the scenario's report.
    pub measures: Vec<Measure>,
}

/// A figure measured by a procedure.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// snake_case, ending in its unit where there is one (`restore_throughput_mib_per_second`).
    pub name: String,
    pub value: f64,
    /// `ratio`, `seconds`, `bytes`, `mib_per_second`, …
    pub unit: String,
    /// The figure passes only at or above this.
    pub at_least: Option<f64>,
    /// The figure passes only at or below this.
    pub at_most: Option<f64>,
}

impl Measure {
    /// A figure without a target.
    pub fn new(name: &str, value: f64, unit: &str) -> Self {
        Self {
            name: name.into(),
            value,
            unit: unit.into(),
            at_least: None,
            at_most: None,
        }
    }

    /// The same, passing only at or above `min`.
    pub fn at_least(mut self, min: f64) -> Self {
        self.at_least = Some(min);
        self
    }
}

/// What a workload reports when stopped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkloadSummary {
    /// Operations it sent.
    pub invoked: u64,
    /// Anything worth noting.
    pub detail: Option<String>,
}

/// Why a target operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TargetError {
    /// No runtime is wired into this build (see [`super::UnwiredTarget`]).
    #[error("{0}")]
    NotWired(String),
    /// The target cannot do this (e.g. `disk_full` on a runtime without it).
    #[error("{what} is not supported by this target")]
    Unsupported {
        /// What was asked.
        what: String,
    },
    /// The operation was attempted and failed.
    #[error("{what} failed: {message}")]
    Failed {
        /// What was attempted.
        what: String,
        /// Why it failed.
        message: String,
    },
}

/// A live stack the runner drives.
///
/// Contract (the runner relies on each point):
/// - Every method takes `&self`: the runner samples probes *while* a fault, a recovery or a
///   wait is in progress, so implementations use interior mutability. Calls come from one task;
///   nothing needs to be `Send`.
/// - [`Target::start`] returns once every component of `stack` is ready, or an error; it may
///   record phases and notes in `history`. The runner calls [`Target::stop`] afterwards in every
///   case, even when `start` failed, so `stop` must tolerate a half-started stack.
/// - [`Target::probe`] never mutates the system and never panics; an observation it could not
///   make is `Unknown`, never `Pass`. The runner applies the probe's timeout.
/// - [`Target::inject`] returns only once the fault is *confirmed* to have taken effect (the
///   process is gone, the port refuses, the rule is in place); otherwise an error, and the run's
///   verdict becomes `unknown`. [`Target::heal`] undoes it and returns once confirmed.
/// - [`Target::start_workload`] starts the load in the background and returns at once; the
///   workload records every operation through `history` ([`History::invoke_at`] with the
///   schedule's intended time, then [`History::complete`]) and never retries an indeterminate
///   write silently. It stops by itself after `w.duration`, or at [`Target::stop_workload`].
/// - [`Target::read_back`] returns the sequence numbers a `sequence_writer` workload finds in
///   the store after recovery, duplicates included, in any order.
/// - [`Target::stop`] tears everything down and is idempotent.
#[allow(async_fn_in_trait)]
pub trait Target {
    /// Brings up the stack.
    async fn start(&self, stack: &StackSpec, history: &History) -> Result<(), TargetError>;
    /// Observes one probe.
    async fn probe(&self, probe: &ProbeSpec) -> ProbeOutcome;
    /// Injects a fault and confirms it took effect.
    async fn inject(&self, fault: &FaultSpec) -> Result<FaultHandle, TargetError>;
    /// Heals a fault.
    async fn heal(&self, handle: FaultHandle, fault: &FaultSpec) -> Result<(), TargetError>;
    /// Runs an operator procedure.
    async fn recover(&self, procedure: &RecoverySpec) -> Result<RecoveryOutcome, TargetError>;
    /// Starts a background workload recording into `history`.
    async fn start_workload(
        &self,
        w: &WorkloadSpec,
        history: History,
    ) -> Result<WorkloadId, TargetError>;
    /// Stops a workload and waits for its in-flight operations to complete or time out.
    async fn stop_workload(&self, id: WorkloadId) -> Result<WorkloadSummary, TargetError>;
    /// Reads back a sequence writer's values.
    async fn read_back(&self, w: &WorkloadSpec) -> Result<Vec<u64>, TargetError>;
    /// Tears the stack down.
    async fn stop(&self) -> Result<(), TargetError>;
    /// Secrets this target generated or read (passwords, tokens, keys): the report writer
    /// replaces each with «redacted». Called after [`Target::stop`].
    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }
}
