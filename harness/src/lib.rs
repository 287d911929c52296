//! stackdrill: a test harness and chaos / disaster-recovery verification framework for a
//! JanusGraph Server on HCD (Cassandra) stack with a Vault-API secrets server and
//! Prometheus/Alertmanager monitoring.
//!
//! The pipeline (see `README.md` for the module map):
//! scenario file → [`scenario`] (load, validate) → `Plan` → runner against a [`runtime`] stack →
//! [`history`] → [`checker`] / [`score`] → [`report`].

pub mod checker;
pub mod cli;
pub mod errors;
pub mod fault;
pub mod history;
pub mod images;
pub mod pki;
pub mod probe;
pub mod recovery;
pub mod report;
pub mod runner;
pub mod runtime;
pub mod scenario;
pub mod score;
pub mod secrets;
pub mod stack;
pub mod tls;
pub mod workload;
