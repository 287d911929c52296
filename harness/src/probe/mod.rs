//! Observations that never mutate the system: [`tls`] (plaintext refusal, handshake
//! facts, legacy protocols, foreign CAs), [`prometheus`] (PromQL and alert state), [`canary`]
//! (leaked secrets), [`audit`] (Cassandra's and OpenBao's audit trails) and [`dashboard`]
//! (the PromQL of the shipped dashboards).

pub mod audit;
pub mod canary;
pub mod dashboard;
pub mod prometheus;
pub mod tls;
