//! The runner: [`run`] interprets a [`crate::scenario::Plan`] against a live stack through the
//! [`Target`] trait, recording everything in a [`crate::history::History`].
//!
//! Phases: `start` → `steady_state_before` (the hypothesis must hold, or the experiment is not
//! run) → `method` (workloads run, steady-state probes are sampled every interval while the steps
//! execute) → `read_back` → `steady_state_after` → `rollback` (always: heal every fault still
//! active, then the declared rollback steps) → `teardown` ([`Target::stop`], always). The runner
//! neither formats output nor decides pass/fail: the checkers judge the history.

mod interpreter;
mod target;
mod unwired;

#[cfg(test)]
mod fake;

pub use interpreter::{RunOptions, RunRecord, run};
pub use target::{
    FaultHandle, Measure, ProbeOutcome, RecoveryOutcome, Target, TargetError, WorkloadId,
    WorkloadSummary,
};
pub use unwired::{NOT_WIRED, UnwiredTarget};
