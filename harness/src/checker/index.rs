//! [`Index`]: one pass over a [`Log`] that pairs invocations with completions and groups faults,
//! probes, steps and read-backs, so each checker is a linear scan at most.

use std::collections::HashMap;

use crate::history::{Event, Log, OpKind, Outcome, ProbeStatus};

/// One operation, invocation and completion paired.
#[derive(Debug, Clone, PartialEq)]
pub struct OpRec {
    /// Index into [`Index::workloads`].
    pub workload: u32,
    pub kind: OpKind,
    pub value: Option<u64>,
    pub invoke_ns: u64,
    pub invoke_seq: u64,
    pub intended_ns: Option<u64>,
    /// `(t_ns, outcome, seq)`; None when it never completed (indeterminate).
    pub complete: Option<(u64, Outcome, u64)>,
}

impl OpRec {
    /// The outcome, counting a missing completion as indeterminate.
    pub fn outcome(&self) -> Outcome {
        self.complete.map(|c| c.1).unwrap_or(Outcome::Indeterminate)
    }
}

/// A fault window.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRec {
    pub step: String,
    pub description: String,
    pub start_ns: u64,
    pub start_seq: u64,
    /// `(t_ns, ok, seq)` of the heal.
    pub end: Option<(u64, bool, u64)>,
}

/// A probe observation.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRec {
    pub t_ns: u64,
    pub seq: u64,
    pub name: String,
    pub status: ProbeStatus,
    pub value: Option<f64>,
}

/// A step's window.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRec {
    pub name: String,
    pub action: String,
    pub rollback: bool,
    pub start_ns: u64,
    pub start_seq: u64,
    /// `(t_ns, ok, detail, seq)`.
    pub end: Option<(u64, bool, Option<String>, u64)>,
}

/// A figure a procedure measured ([`Event::Measure`]).
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureRec {
    pub step: String,
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub at_least: Option<f64>,
    pub at_most: Option<f64>,
}

/// The indexed history.
#[derive(Debug, Clone, Default)]
pub struct Index {
    /// Workload names, by index.
    pub workloads: Vec<String>,
    /// Operations by op id (ids are dense from 0; gaps are None).
    pub ops: Vec<Option<OpRec>>,
    pub faults: Vec<FaultRec>,
    pub probes: Vec<ProbeRec>,
    pub steps: Vec<StepRec>,
    /// `(t_ns, name, seq)`.
    pub phases: Vec<(u64, String, u64)>,
    /// Read-backs by workload name: `(values, seq)`.
    pub readbacks: HashMap<String, (Vec<u64>, u64)>,
    /// Figures procedures measured about themselves, in history order.
    pub measures: Vec<MeasureRec>,
    /// Completions whose invocation is missing (a history bug).
    pub orphan_completions: u64,
    /// The time of the last entry.
    pub end_ns: u64,
}

impl Index {
    /// Indexes a log in one pass.
    pub fn new(log: &Log) -> Self {
        let mut ix = Index {
            end_ns: log.end_ns(),
            ..Index::default()
        };
        let mut wl: HashMap<&str, u32> = HashMap::new();
        // Consecutive invocations mostly come from the same workload: skip the hash then.
        let mut last: Option<(&str, u32)> = None;
        for e in &log.entries {
            match &e.event {
                Event::Invoke {
                    op,
                    workload,
                    kind,
                    value,
                    intended_ns,
                    ..
                } => {
                    let w = match last {
                        Some((name, w)) if name == workload.as_str() => w,
                        _ => {
                            let w = *wl.entry(workload.as_str()).or_insert_with(|| {
                                ix.workloads.push(workload.clone());
                                (ix.workloads.len() - 1) as u32
                            });
                            last = Some((workload.as_str(), w));
                            w
                        }
                    };
                    let i = op.0 as usize;
                    if i >= ix.ops.len() {
                        ix.ops.resize(i + 1, None);
                    }
                    ix.ops[i] = Some(OpRec {
                        workload: w,
                        kind: *kind,
                        value: *value,
                        invoke_ns: e.t_ns,
                        invoke_seq: e.seq,
                        intended_ns: *intended_ns,
                        complete: None,
                    });
                }
                Event::Complete { op, outcome, .. } => {
                    match ix.ops.get_mut(op.0 as usize).and_then(Option::as_mut) {
                        Some(rec) if rec.complete.is_none() => {
                            rec.complete = Some((e.t_ns, *outcome, e.seq))
                        }
                        _ => ix.orphan_completions += 1,
                    }
                }
                Event::FaultStart {
                    step, description, ..
                } => ix.faults.push(FaultRec {
                    step: step.clone(),
                    description: description.clone(),
                    start_ns: e.t_ns,
                    start_seq: e.seq,
                    end: None,
                }),
                Event::FaultEnd { step, ok, .. } => {
                    if let Some(f) = ix
                        .faults
                        .iter_mut()
                        .rev()
                        .find(|f| &f.step == step && f.end.is_none())
                    {
                        f.end = Some((e.t_ns, *ok, e.seq));
                    }
                }
                Event::Probe {
                    name,
                    status,
                    value,
                    ..
                } => ix.probes.push(ProbeRec {
                    t_ns: e.t_ns,
                    seq: e.seq,
                    name: name.clone(),
                    status: *status,
                    value: *value,
                }),
                Event::StepStart {
                    step,
                    action,
                    rollback,
                } => ix.steps.push(StepRec {
                    name: step.clone(),
                    action: action.clone(),
                    rollback: *rollback,
                    start_ns: e.t_ns,
                    start_seq: e.seq,
                    end: None,
                }),
                Event::StepEnd { step, ok, detail } => {
                    if let Some(s) = ix
                        .steps
                        .iter_mut()
                        .rev()
                        .find(|s| &s.name == step && s.end.is_none())
                    {
                        s.end = Some((e.t_ns, *ok, detail.clone(), e.seq));
                    }
                }
                Event::Phase { name } => ix.phases.push((e.t_ns, name.clone(), e.seq)),
                Event::ReadBack { workload, values } => {
                    ix.readbacks
                        .insert(workload.clone(), (values.clone(), e.seq));
                }
                Event::Measure {
                    step,
                    name,
                    value,
                    unit,
                    at_least,
                    at_most,
                } => ix.measures.push(MeasureRec {
                    step: step.clone(),
                    name: name.clone(),
                    value: *value,
                    unit: unit.clone(),
                    at_least: *at_least,
                    at_most: *at_most,
                }),
                Event::Note { .. } => {}
            }
        }
        ix
    }

    /// The index of a workload name.
    pub fn workload(&self, name: &str) -> Option<u32> {
        self.workloads
            .iter()
            .position(|w| w == name)
            .map(|i| i as u32)
    }

    /// The operations of one workload.
    pub fn ops_of(&self, w: u32) -> impl Iterator<Item = &OpRec> {
        self.ops.iter().flatten().filter(move |o| o.workload == w)
    }

    /// The first fault window of the step named `step`.
    pub fn fault(&self, step: &str) -> Option<&FaultRec> {
        self.faults.iter().find(|f| f.step == step)
    }

    /// The time of the first phase mark named `name`.
    pub fn phase(&self, name: &str) -> Option<(u64, u64)> {
        self.phases.iter().find(|p| p.1 == name).map(|p| (p.0, p.2))
    }
}
