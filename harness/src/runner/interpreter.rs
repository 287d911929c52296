//! [`run`]: the interpreter.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, sleep, timeout};

use super::target::*;
use crate::checker::steps_phase_after;
use crate::history::{Event, FaultId, History, ProbeStatus};
use crate::scenario::{Action, FaultSpec, Plan, ProbeCheck, Step, WaitSpec, WorkloadKindSpec};

/// Runner settings that are not part of a scenario.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How long the stack may take to start.
    pub start_timeout: Duration,
    /// How long injecting or healing one fault may take.
    pub fault_timeout: Duration,
    /// How long stopping a workload or reading it back may take.
    pub workload_timeout: Duration,
    /// Set to `true` to interrupt the run (Ctrl-C): the method stops, rollbacks and teardown
    /// still run.
    pub cancel: Option<watch::Receiver<bool>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            start_timeout: Duration::from_secs(600),
            fault_timeout: Duration::from_secs(120),
            workload_timeout: Duration::from_secs(120),
            cancel: None,
        }
    }
}

/// What the runner reports besides the history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunRecord {
    /// Why the run did not complete (stack did not start, steady state never held, interrupted,
    /// teardown failed). None when every phase ran.
    pub error: Option<String>,
    /// Whether the method was cut short by a failing step.
    pub method_aborted: bool,
}

struct ActiveFault {
    step: String,
    handle: FaultHandle,
    spec: FaultSpec,
    id: FaultId,
    heal_at: Option<Instant>,
}

#[derive(Default)]
struct State {
    active: Vec<ActiveFault>,
    /// Last textual observation per probe, for `same_as` comparisons.
    observed: HashMap<String, String>,
}

struct Runner<'a, T: Target> {
    plan: &'a Plan,
    target: &'a T,
    history: &'a History,
    opts: &'a RunOptions,
    state: RefCell<State>,
}

/// Interprets `plan` against `target`, recording into `history`. Always calls
/// [`Target::stop`]; always runs the rollbacks once the stack started.
pub async fn run<T: Target>(
    plan: &Plan,
    target: &T,
    history: &History,
    opts: &RunOptions,
) -> RunRecord {
    let r = Runner {
        plan,
        target,
        history,
        opts,
        state: RefCell::new(State::default()),
    };
    let mut rec = RunRecord::default();
    history.phase("start");
    let started = match timeout(opts.start_timeout, target.start(&plan.stack, history)).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            rec.error = Some(format!("the stack did not start: {e}"));
            false
        }
        Err(_) => {
            rec.error = Some(format!(
                "the stack did not start within {}",
                humantime::format_duration(opts.start_timeout)
            ));
            false
        }
    };
    if started {
        let body = r.body(&mut rec);
        let outcome = match opts.cancel.clone() {
            Some(mut c) => tokio::select! {
                res = body => res,
                _ = c.wait_for(|v| *v) => Err("interrupted".to_owned()),
            },
            None => body.await,
        };
        if let Err(e) = outcome {
            rec.error.get_or_insert(e);
        }
        r.rollback().await;
    }
    if let Some(e) = &rec.error {
        history.note(e.clone());
    }
    history.phase("teardown");
    if let Err(e) = target.stop().await {
        let msg = format!("teardown failed: {e}");
        history.note(msg.clone());
        rec.error.get_or_insert(msg);
    }
    history.phase("end");
    rec
}

impl<T: Target> Runner<'_, T> {
    async fn body(&self, rec: &mut RunRecord) -> Result<(), String> {
        let plan = self.plan;
        let h = self.history;
        h.phase("steady_state_before");
        let ss = &plan.steady_state;
        if !ss.probes.is_empty() {
            let wait = WaitSpec {
                probes: ss.probes.clone(),
                deadline: ss.deadline,
                settle: Duration::ZERO,
                interval: ss.interval,
            };
            if !self.wait_until(&wait).await {
                return Err(format!(
                    "the steady-state hypothesis did not hold within {} before the method, so the experiment was not run",
                    humantime::format_duration(ss.deadline)
                ));
            }
        }
        h.phase("method");
        let mut workloads = Vec::new();
        for w in &plan.workloads {
            match self.target.start_workload(w, h.clone()).await {
                Ok(id) => workloads.push((w, id)),
                Err(e) => {
                    self.stop_workloads(&workloads).await;
                    return Err(format!("workload `{}` did not start: {e}", w.name));
                }
            }
        }
        let steps = async {
            for step in &plan.steps {
                self.exec(step, false).await?;
            }
            Ok::<(), String>(())
        };
        let method = tokio::select! {
            res = steps => res,
            _ = self.sample_forever() => unreachable!("sampling never ends"),
        };
        if let Err(e) = &method {
            rec.method_aborted = true;
            h.note(format!("method stopped: {e}"));
        }
        self.stop_workloads(&workloads).await;
        h.phase("read_back");
        for (w, _) in &workloads {
            if matches!(w.kind, WorkloadKindSpec::SequenceWriter { .. }) {
                match timeout(self.opts.workload_timeout, self.target.read_back(w)).await {
                    Ok(Ok(values)) => {
                        h.append(Event::ReadBack {
                            workload: w.name.clone(),
                            values,
                        });
                    }
                    Ok(Err(e)) => h.note(format!("read-back of `{}` failed: {e}", w.name)),
                    Err(_) => h.note(format!("read-back of `{}` timed out", w.name)),
                }
            }
        }
        h.phase(steps_phase_after());
        if !ss.probes.is_empty() {
            let wait = WaitSpec {
                probes: ss.probes.clone(),
                deadline: ss.deadline,
                settle: Duration::ZERO,
                interval: ss.interval,
            };
            self.wait_until(&wait).await;
        }
        Ok(())
    }

    async fn stop_workloads(&self, workloads: &[(&crate::scenario::WorkloadSpec, WorkloadId)]) {
        for (w, id) in workloads {
            match timeout(self.opts.workload_timeout, self.target.stop_workload(*id)).await {
                Ok(Ok(s)) => self.history.note(format!(
                    "workload `{}` stopped after {} operations",
                    w.name, s.invoked
                )),
                Ok(Err(e)) => self
                    .history
                    .note(format!("workload `{}` did not stop cleanly: {e}", w.name)),
                Err(_) => self
                    .history
                    .note(format!("workload `{}` did not stop in time", w.name)),
            }
        }
    }

    /// Samples the steady-state probes every interval and heals faults whose duration is up.
    async fn sample_forever(&self) {
        let ss = &self.plan.steady_state;
        loop {
            for name in &ss.probes {
                self.observe(name).await;
            }
            let due: Vec<usize> = {
                let st = self.state.borrow();
                let now = Instant::now();
                st.active
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| f.heal_at.is_some_and(|t| t <= now))
                    .map(|(i, _)| i)
                    .collect()
            };
            for i in due.into_iter().rev() {
                let f = self.state.borrow_mut().active.remove(i);
                self.heal(f, false).await;
            }
            sleep(ss.interval).await;
        }
    }

    /// Observes one probe and records it.
    async fn observe(&self, name: &str) -> ProbeStatus {
        let Some(spec) = self.plan.probe(name) else {
            self.history.probe(
                name,
                ProbeStatus::Unknown,
                None,
                None,
                Some("no such probe".into()),
            );
            return ProbeStatus::Unknown;
        };
        let mut out = match timeout(spec.timeout, self.target.probe(spec)).await {
            Ok(o) => o,
            Err(_) => ProbeOutcome::unknown(format!(
                "timed out after {}",
                humantime::format_duration(spec.timeout)
            )),
        };
        if let ProbeCheck::GraphDigest {
            same_as: Some(other),
        } = &spec.check
            && out.status == ProbeStatus::Pass
        {
            {
                let prev = self.state.borrow().observed.get(other).cloned();
                match (prev, &out.observed) {
                    (Some(p), Some(o)) if &p == o => {}
                    (Some(p), Some(o)) => {
                        out.status = ProbeStatus::Fail;
                        out.detail = Some(format!("digest {o} differs from `{other}`'s {p}"));
                    }
                    (None, _) => {
                        out.status = ProbeStatus::Unknown;
                        out.detail = Some(format!(
                            "`{other}` was never observed, nothing to compare with"
                        ));
                    }
                    (_, None) => {
                        out.status = ProbeStatus::Unknown;
                        out.detail = Some("the probe returned no digest".into());
                    }
                }
            }
        }
        if let Some(o) = &out.observed {
            self.state
                .borrow_mut()
                .observed
                .insert(name.to_owned(), o.clone());
        }
        self.history.probe(
            name,
            out.status,
            out.value,
            out.observed.clone(),
            out.detail.clone(),
        );
        out.status
    }

    /// Polls `w.probes` until all pass continuously for `w.settle`, or the deadline passes.
    async fn wait_until(&self, w: &WaitSpec) -> bool {
        let deadline = Instant::now() + w.deadline;
        let mut since: Option<Instant> = None;
        loop {
            let mut all = true;
            for p in &w.probes {
                all &= self.observe(p).await == ProbeStatus::Pass;
            }
            let now = Instant::now();
            if all {
                let s = *since.get_or_insert(now);
                if now - s >= w.settle {
                    return true;
                }
            } else {
                since = None;
            }
            if now >= deadline {
                return false;
            }
            sleep(w.interval.min(deadline - now)).await;
        }
    }

    async fn heal(&self, f: ActiveFault, rollback: bool) -> bool {
        let step = format!("heal:{}", f.step);
        if rollback {
            self.history.append(Event::StepStart {
                step: step.clone(),
                action: "heal".into(),
                rollback: true,
            });
        }
        let res = match timeout(self.opts.fault_timeout, self.target.heal(f.handle, &f.spec)).await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!(
                "healing did not complete within {}",
                humantime::format_duration(self.opts.fault_timeout)
            )),
        };
        self.history
            .fault_end(f.id, &f.step, res.is_ok(), res.clone().err());
        if rollback {
            self.history.append(Event::StepEnd {
                step,
                ok: res.is_ok(),
                detail: res.clone().err(),
            });
        }
        res.is_ok()
    }

    async fn rollback(&self) {
        self.history.phase("rollback");
        let active: Vec<ActiveFault> = std::mem::take(&mut self.state.borrow_mut().active);
        for f in active.into_iter().rev() {
            self.heal(f, true).await;
        }
        for step in &self.plan.rollbacks {
            let _ = self.exec(step, true).await;
        }
    }

    /// Executes one step, recording its start and end.
    async fn exec(&self, step: &Step, rollback: bool) -> Result<(), String> {
        let h = self.history;
        h.append(Event::StepStart {
            step: step.name.clone(),
            action: step.action.label().into(),
            rollback,
        });
        let res: Result<Option<String>, String> = match &step.action {
            Action::Fault(f) => match timeout(self.opts.fault_timeout, self.target.inject(f)).await
            {
                Ok(Ok(handle)) => {
                    let id = h.fault_start(&step.name, &f.fault.describe());
                    let heal_at = f.heal_after.map(|d| Instant::now() + d);
                    self.state.borrow_mut().active.push(ActiveFault {
                        step: step.name.clone(),
                        handle,
                        spec: f.clone(),
                        id,
                        heal_at,
                    });
                    Ok(None)
                }
                Ok(Err(e)) => Err(format!("the fault was not confirmed: {e}")),
                Err(_) => Err(format!(
                    "the fault was not confirmed within {}",
                    humantime::format_duration(self.opts.fault_timeout)
                )),
            },
            Action::Heal { fault } => {
                let pos = self
                    .state
                    .borrow()
                    .active
                    .iter()
                    .position(|a| &a.step == fault);
                match pos {
                    Some(i) => {
                        let f = self.state.borrow_mut().active.remove(i);
                        if self.heal(f, false).await {
                            Ok(None)
                        } else {
                            Err(format!("healing `{fault}` failed"))
                        }
                    }
                    None => Ok(Some(format!(
                        "`{fault}` was not active (already healed, or never injected)"
                    ))),
                }
            }
            Action::Recover(r) => match timeout(r.timeout, self.target.recover(r)).await {
                Ok(Ok(o)) => {
                    for m in o.measures {
                        self.history.append(Event::Measure {
                            step: step.name.clone(),
                            name: m.name,
                            value: m.value,
                            unit: m.unit,
                            at_least: m.at_least,
                            at_most: m.at_most,
                        });
                    }
                    Ok(o.detail)
                }
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!(
                    "the procedure did not finish within {}",
                    humantime::format_duration(r.timeout)
                )),
            },
            Action::WaitUntil(w) => {
                if self.wait_until(w).await {
                    Ok(None)
                } else {
                    Err(format!(
                        "the probes did not pass within {}",
                        humantime::format_duration(w.deadline)
                    ))
                }
            }
            Action::Hold(d) => {
                sleep(*d).await;
                Ok(None)
            }
            Action::Probe(p) => match self.observe(p).await {
                ProbeStatus::Pass => Ok(None),
                s => Err(format!("probe `{p}`: {s:?}")),
            },
            Action::Phase(name) => {
                h.phase(name);
                Ok(None)
            }
        };
        let (ok, detail) = match &res {
            Ok(d) => (true, d.clone()),
            Err(e) => (false, Some(e.clone())),
        };
        h.append(Event::StepEnd {
            step: step.name.clone(),
            ok,
            detail,
        });
        // A failed probe step is an observation, judged by its check; it does not stop the method.
        match (&step.action, res) {
            (Action::Probe(_), _) => Ok(()),
            (_, r) => r.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::{Thresholds, Verdict, evaluate};
    use crate::runner::UnwiredTarget;
    use crate::runner::fake::{FakeTarget, Script};
    use crate::scenario::{LoadOptions, load_str};

    const SCENARIO: &str = r#"
[scenario]
name = "kill-hcd"
description = "Kill HCD under load."
[[probe]]
name = "up"
kind = "cql"
query = "SELECT now() FROM system.local"
[[probe]]
name = "alert"
kind = "alert"
alert = "HcdDown"
[steady_state]
probes = ["up"]
settle = "10s"
interval = "1s"
deadline = "30s"
[[workload]]
name = "writer"
kind = "sequence_writer"
rate = 10
[[step]]
hold = "5s"
[[step]]
name = "kill"
fault = { kind = "kill", target = "hcd" }
[[step]]
name = "detect"
wait_until = { probes = ["alert"], deadline = "1m" }
[[step]]
name = "recovered"
wait_until = { deadline = "2m", settle = "10s" }
[[rollback]]
name = "undo"
heal = "kill"
[[check]]
checker = "ledger"
workload = "writer"
[[check]]
checker = "rto"
[[check]]
checker = "time_to_detect"
alert = "alert"
[[check]]
checker = "steady_state"
"#;

    fn plan() -> Plan {
        load_str("t.toml", SCENARIO, &LoadOptions::default()).unwrap()
    }
    fn th() -> Thresholds {
        Thresholds {
            rto: Some(Duration::from_secs(60)),
            time_to_detect: Some(Duration::from_secs(30)),
            ..Thresholds::default()
        }
    }
    fn check<'a>(e: &'a crate::checker::Evaluation, name: &str) -> &'a crate::checker::CheckResult {
        e.checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name}"))
    }
    fn fig(c: &crate::checker::CheckResult, n: &str) -> f64 {
        c.figures
            .iter()
            .find(|f| f.name == n)
            .and_then(|f| f.value)
            .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn full_run_passes_and_measures() {
        let p = plan();
        let t = FakeTarget::new(Script {
            outage: Duration::from_secs(20),
            detect_after: Duration::from_secs(12),
            ..Script::default()
        });
        let h = History::new("r", "kill-hcd");
        let rec = run(&p, &t, &h, &RunOptions::default()).await;
        assert_eq!(rec.error, None);
        let e = evaluate(&p, &h.snapshot(), &th(), rec.error.as_deref());
        for c in &e.checks {
            assert_eq!(c.verdict, Verdict::Pass, "{}: {}", c.name, c.summary);
        }
        let rto = fig(check(&e, "rto"), "rto_seconds");
        assert!((20.0..=22.0).contains(&rto), "rto {rto}");
        let ttd = fig(check(&e, "time_to_detect"), "time_to_detect_seconds");
        assert!((12.0..=14.0).contains(&ttd), "ttd {ttd}");
        assert_eq!(
            t.calls(),
            vec![
                "start",
                "workload writer",
                "inject kill",
                "heal kill",
                "stop"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn lost_writes_fail_the_ledger() {
        let p = plan();
        let t = FakeTarget::new(Script {
            outage: Duration::from_secs(5),
            detect_after: Duration::from_secs(1),
            lose: vec![3, 4],
            ..Script::default()
        });
        let h = History::new("r", "kill-hcd");
        let rec = run(&p, &t, &h, &RunOptions::default()).await;
        let e = evaluate(&p, &h.snapshot(), &th(), rec.error.as_deref());
        let l = check(&e, "ledger");
        assert_eq!(
            (l.verdict, fig(l, "lost_acknowledged_writes")),
            (Verdict::Fail, 2.0)
        );
        assert_eq!(e.verdict, Verdict::Fail);
    }

    #[tokio::test(start_paused = true)]
    async fn unconfirmed_fault_is_unknown_and_rollback_still_runs() {
        let p = plan();
        let t = FakeTarget::new(Script {
            fail_inject: true,
            ..Script::default()
        });
        let h = History::new("r", "kill-hcd");
        let rec = run(&p, &t, &h, &RunOptions::default()).await;
        assert!(rec.method_aborted);
        let e = evaluate(&p, &h.snapshot(), &th(), rec.error.as_deref());
        assert_eq!(
            check(&e, "method").verdict,
            Verdict::Unknown,
            "{}",
            check(&e, "method").summary
        );
        assert_eq!(check(&e, "rto").verdict, Verdict::Unknown);
        assert_eq!(
            check(&e, "rollback").verdict,
            Verdict::Pass,
            "healing a fault that never took effect is a no-op"
        );
        assert_eq!(e.verdict, Verdict::Unknown);
        assert_eq!(t.calls().last().map(String::as_str), Some("stop"));
    }

    #[tokio::test(start_paused = true)]
    async fn stack_that_cannot_start_is_never_a_pass() {
        let p = plan();
        let t = FakeTarget::new(Script {
            fail_start: true,
            ..Script::default()
        });
        let h = History::new("r", "kill-hcd");
        let rec = run(&p, &t, &h, &RunOptions::default()).await;
        assert!(rec.error.as_deref().unwrap().contains("did not start"));
        assert_eq!(t.calls(), vec!["start", "stop"]);
        let e = evaluate(&p, &h.snapshot(), &th(), rec.error.as_deref());
        assert_eq!(e.verdict, Verdict::Unknown);
    }

    #[tokio::test(start_paused = true)]
    async fn unwired_target_says_so() {
        let p = plan();
        let h = History::new("r", "kill-hcd");
        let rec = run(&p, &UnwiredTarget, &h, &RunOptions::default()).await;
        assert!(rec.error.unwrap().contains(crate::runner::NOT_WIRED));
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_still_rolls_back() {
        let p = plan();
        let t = FakeTarget::new(Script {
            outage: Duration::from_secs(1000),
            ..Script::default()
        });
        let h = History::new("r", "kill-hcd");
        let (tx, rx) = watch::channel(false);
        let opts = RunOptions {
            cancel: Some(rx),
            ..RunOptions::default()
        };
        let (rec, ()) = tokio::join!(run(&p, &t, &h, &opts), async {
            sleep(Duration::from_secs(10)).await;
            tx.send(true).unwrap();
        });
        assert_eq!(rec.error.as_deref(), Some("interrupted"));
        let calls = t.calls();
        assert!(calls.contains(&"heal kill".to_string()), "{calls:?}");
        assert_eq!(calls.last().map(String::as_str), Some("stop"));
    }
}
