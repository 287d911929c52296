//! Bringing containers up and down: [`Engine`] (the Docker engine connection, image checks,
//! orphan sweeps) and [`Service`] (one running container with its log file, readiness wait, kill,
//! pause and restart). Decides nothing about when faults happen and judges nothing.

mod engine;
mod service;
mod stack;
mod target;

pub use engine::{Engine, EngineError, LABEL_RUN, OrphanSweep};
pub use service::{Service, ServiceError, ServiceSpec};
pub use stack::{
    CertInstalled, GREMLIN_USER, HCD_ADMIN_ROLE, JANUSGRAPH_CQL_ROLE, KV_MOUNT, Revocation,
    Rotation, RunningStack, StackError, login_verdict, wait_for,
};
pub use target::{ContainersTarget, prepare, work_dir};
