//! Observations that never mutate the system: [`tls`] (plaintext refusal, handshake
//! facts), [`prometheus`] (PromQL and alert state) and [`canary`] (leaked secrets).

pub mod canary;
pub mod prometheus;
pub mod tls;
