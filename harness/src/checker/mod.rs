//! Checkers: pure functions from a frozen history ([`crate::history::Log`]) to a
//! [`CheckResult`] with a [`Verdict`], figures beside their targets, and evidence pointing at
//! history entries.
//!
//! Verdicts are `pass`, `fail` or `unknown`; the worst wins (`fail` > `unknown` > `pass`). A
//! checker that cannot judge — missing data, an internal error, even a panic — yields `unknown`,
//! never `pass`. [`evaluate`] runs every check of a plan, plus the implicit `method` and
//! `rollback` checks, and [`timeline`] extracts the series the reports chart.

mod evaluate;
mod index;
mod latency;
mod ledger;
mod rto;
mod steps;
mod timeline;
mod verdict;

pub use evaluate::{Evaluation, evaluate};
pub use index::{Index, OpRec};
pub use latency::{LatencyLimits, availability, latency, new_histogram, record};
pub use ledger::{LedgerLimits, ledger, rpo};
pub use rto::{rto, time_to_detect};
pub use steps::{
    PHASE_AFTER, method_steps, probe_steps, rollback_steps, steady_state, steps_phase_after,
};
pub use timeline::{FaultWindow, LatencyPoint, PhaseMark, Timeline, timeline};
pub use verdict::{Bound, CheckError, CheckResult, Evidence, Figure, Target, Thresholds, Verdict};
