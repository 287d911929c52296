//! Observations that never mutate the system: [`tls`] (plaintext refusal, handshake
//! facts, legacy protocols, foreign CAs), [`prometheus`] (PromQL and alert state), [`canary`]
//! (leaked secrets) and [`audit`] (Cassandra's and OpenBao's audit trails).

pub mod audit;
pub mod canary;
pub mod prometheus;
pub mod tls;
