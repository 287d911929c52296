//! [`UnwiredTarget`]: the target `stackdrill run` and the scenario trials use until the stack
//! runtime implements [`Target`]. Every operation fails with [`NOT_WIRED`], so a run against it
//! ends `unknown` with that message and a trial fails loudly; it never passes.

use super::target::*;
use crate::history::History;
use crate::scenario::{FaultSpec, ProbeSpec, RecoverySpec, StackSpec, WorkloadSpec};

/// The message of every operation of [`UnwiredTarget`].
pub const NOT_WIRED: &str = "the stack runtime is not wired yet: no `Target` implementation drives a real stack in this build";

/// A target with no stack behind it.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnwiredTarget;

fn err() -> TargetError {
    TargetError::NotWired(NOT_WIRED.to_owned())
}

impl Target for UnwiredTarget {
    async fn start(&self, _: &StackSpec, _: &History) -> Result<(), TargetError> {
        Err(err())
    }
    async fn probe(&self, _: &ProbeSpec) -> ProbeOutcome {
        ProbeOutcome::unknown(NOT_WIRED)
    }
    async fn inject(&self, _: &FaultSpec) -> Result<FaultHandle, TargetError> {
        Err(err())
    }
    async fn heal(&self, _: FaultHandle, _: &FaultSpec) -> Result<(), TargetError> {
        Err(err())
    }
    async fn recover(&self, _: &RecoverySpec) -> Result<RecoveryOutcome, TargetError> {
        Err(err())
    }
    async fn start_workload(
        &self,
        _: &WorkloadSpec,
        _: History,
    ) -> Result<WorkloadId, TargetError> {
        Err(err())
    }
    async fn stop_workload(&self, _: WorkloadId) -> Result<WorkloadSummary, TargetError> {
        Err(err())
    }
    async fn read_back(&self, _: &WorkloadSpec) -> Result<Vec<u64>, TargetError> {
        Err(err())
    }
    async fn stop(&self) -> Result<(), TargetError> {
        Ok(())
    }
}
