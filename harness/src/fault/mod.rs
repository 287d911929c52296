//! Nemeses: [`FaultProxy`] (partition, latency and loss on one TCP link) and [`SmallVolume`]
//! (a real, small filesystem that can be filled to make "disk full" happen), each with its heal
//! and a way to confirm that the fault is in effect. They never assert outcomes: whether the
//! system under test coped is the checkers' business.
//!
//! A fault the runner cannot confirm makes the run `unknown`, so every nemesis here offers a
//! confirmation that observes the fault on the real data path rather than trusting that the
//! switch was flipped.

mod disk;
mod link;
mod proxy;

pub use disk::{CONFIRM_PROBE_BYTES, DiskError, SmallVolume};
pub use link::{LinkName, LinkNameError};
pub use proxy::{
    CHUNK_BYTES, Confirmation, DEFAULT_CONNECT_TIMEOUT, Evidence, FaultProxy, LinkMode, LinkStats,
    MAX_DELAY, ProxyError, ProxyOptions, QUEUE_CHUNKS, RTO_INITIAL, RTO_MAX, Unconfirmed,
};
