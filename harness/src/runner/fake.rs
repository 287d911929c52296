//! A scripted [`Target`] test double for the interpreter's tests: never used by `stackdrill run`.
//! Probes fail for `outage` after a fault is injected; the `alert` probe fires `detect_after`
//! into the fault; a sequence writer acknowledges every write except during the outage, and the
//! read-back drops the values listed in `lose`.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::target::*;
use crate::history::{History, OpKind, Outcome};
use crate::scenario::{FaultSpec, ProbeCheck, ProbeSpec, RecoverySpec, StackSpec, WorkloadSpec};

#[derive(Default)]
pub(crate) struct Script {
    pub fail_start: bool,
    pub fail_inject: bool,
    pub fail_recover: bool,
    pub outage: Duration,
    pub detect_after: Duration,
    pub lose: Vec<u64>,
}

struct Workload {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<u64>>>,
    task: tokio::task::JoinHandle<u64>,
}

#[derive(Default)]
struct FakeState {
    fault_at: Option<Instant>,
    healed: bool,
    calls: Vec<String>,
    workloads: Vec<Workload>,
}

pub(crate) struct FakeTarget {
    pub script: Script,
    state: RefCell<FakeState>,
    outage_until: Arc<Mutex<Option<Instant>>>,
}

impl FakeTarget {
    pub fn new(script: Script) -> Self {
        Self {
            script,
            state: RefCell::default(),
            outage_until: Arc::default(),
        }
    }
    pub fn calls(&self) -> Vec<String> {
        self.state.borrow().calls.clone()
    }
    fn call(&self, c: impl Into<String>) {
        self.state.borrow_mut().calls.push(c.into());
    }
}

impl Target for FakeTarget {
    async fn start(&self, _: &StackSpec, _: &History) -> Result<(), TargetError> {
        self.call("start");
        if self.script.fail_start {
            return Err(TargetError::Failed {
                what: "starting hcd".into(),
                message: "image missing".into(),
            });
        }
        Ok(())
    }
    async fn probe(&self, p: &ProbeSpec) -> ProbeOutcome {
        let st = self.state.borrow();
        let now = Instant::now();
        match &p.check {
            ProbeCheck::Alert { .. } => match st.fault_at {
                Some(t) if !st.healed && now >= t + self.script.detect_after => {
                    ProbeOutcome::pass()
                }
                _ => ProbeOutcome::fail("not firing"),
            },
            _ => match st.fault_at {
                Some(t) if now < t + self.script.outage => ProbeOutcome::fail("connection refused"),
                _ => ProbeOutcome::pass(),
            },
        }
    }
    async fn inject(&self, f: &FaultSpec) -> Result<FaultHandle, TargetError> {
        self.call(format!("inject {}", f.name));
        if self.script.fail_inject {
            return Err(TargetError::Failed {
                what: "kill".into(),
                message: "process still running".into(),
            });
        }
        let now = Instant::now();
        self.state.borrow_mut().fault_at = Some(now);
        *self.outage_until.lock().unwrap() = Some(now + self.script.outage);
        Ok(FaultHandle(1))
    }
    async fn heal(&self, _: FaultHandle, f: &FaultSpec) -> Result<(), TargetError> {
        self.call(format!("heal {}", f.name));
        self.state.borrow_mut().healed = true;
        Ok(())
    }
    async fn recover(&self, r: &RecoverySpec) -> Result<RecoveryOutcome, TargetError> {
        self.call(format!("recover {}", r.name));
        if self.script.fail_recover {
            return Err(TargetError::Failed {
                what: "restore".into(),
                message: "backup corrupt".into(),
            });
        }
        Ok(RecoveryOutcome {
            detail: Some("restored".into()),
            ..RecoveryOutcome::default()
        })
    }
    async fn start_workload(
        &self,
        w: &WorkloadSpec,
        history: History,
    ) -> Result<WorkloadId, TargetError> {
        self.call(format!("workload {}", w.name));
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let interval = Duration::from_secs_f64(1.0 / w.rate);
        let (name, s2, a2, outage) = (
            w.name.clone(),
            stop.clone(),
            acked.clone(),
            self.outage_until.clone(),
        );
        let task = tokio::spawn(async move {
            let mut seq = 0u64;
            let mut next = Instant::now();
            while !s2.load(Ordering::Relaxed) {
                let intended = history.now_ns();
                let op =
                    history.invoke_at(&name, 0, OpKind::Write, None, Some(seq), Some(intended));
                tokio::time::sleep(Duration::from_millis(5)).await;
                let down = outage.lock().unwrap().is_some_and(|t| Instant::now() < t);
                if down {
                    history.complete(op, Outcome::Fail, Some("unavailable".into()));
                } else {
                    history.complete(op, Outcome::Ok, None);
                    a2.lock().unwrap().push(seq);
                }
                seq += 1;
                next += interval;
                tokio::time::sleep_until(next).await;
            }
            seq
        });
        let mut st = self.state.borrow_mut();
        st.workloads.push(Workload { stop, acked, task });
        Ok(WorkloadId(st.workloads.len() as u64 - 1))
    }
    async fn stop_workload(&self, id: WorkloadId) -> Result<WorkloadSummary, TargetError> {
        let w = self.state.borrow_mut().workloads.remove(id.0 as usize);
        w.stop.store(true, Ordering::Relaxed);
        let invoked = w.task.await.unwrap_or(0);
        self.state.borrow_mut().workloads.insert(
            id.0 as usize,
            Workload {
                stop: w.stop,
                acked: w.acked,
                task: tokio::spawn(async { 0 }),
            },
        );
        Ok(WorkloadSummary {
            invoked,
            detail: None,
        })
    }
    async fn read_back(&self, _: &WorkloadSpec) -> Result<Vec<u64>, TargetError> {
        let st = self.state.borrow();
        let acked = st
            .workloads
            .first()
            .map(|w| w.acked.lock().unwrap().clone())
            .unwrap_or_default();
        Ok(acked
            .into_iter()
            .filter(|v| !self.script.lose.contains(v))
            .collect())
    }
    async fn stop(&self) -> Result<(), TargetError> {
        self.call("stop");
        Ok(())
    }
}
