//! Steady-state observations that never mutate the system: [`tls`] (plaintext refusal, handshake
//! facts) and [`prometheus`] (PromQL and alert state).

pub mod prometheus;
pub mod tls;
