//! [`History`]: the append-only, timestamped record of a run — op invocations and completions,
//! fault windows, probe results, step outcomes and phase marks.
//!
//! Every entry carries a sequence number and a monotonic timestamp (nanoseconds since the run
//! started, from `tokio::time::Instant`, so tests can run on a paused clock); the wall-clock time
//! of the start is recorded once, in the header. A `History` is a cheap handle (`Clone`) that
//! workload tasks append to concurrently. With a sink it also streams every entry to a JSON-lines
//! file as it is appended, so a crashed run still leaves its record behind.
//!
//! The history holds no logic: checkers read a frozen [`Log`] of it.

use std::fs::File;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Version of the JSON-lines format written by [`History`].
pub const HISTORY_SCHEMA: &str = "stackdrill.history/1";

/// Identifies one operation (invocation and completion) within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OpId(pub u64);

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// A write (for a sequence writer: `value` is the sequence number).
    Write,
    /// A read.
    Read,
}

/// How an operation completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Acknowledged: it certainly took effect.
    Ok,
    /// Certainly did not take effect.
    Fail,
    /// Unknown: timed out, connection lost after sending. It may or may not have taken effect.
    Indeterminate,
}

/// A probe's verdict on one observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeStatus {
    /// The observation met the expectation.
    Pass,
    /// It did not.
    Fail,
    /// The probe could not observe (error, timeout).
    Unknown,
}

/// Identifies an injected fault within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FaultId(pub u64);

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// An operation was sent.
    Invoke {
        op: OpId,
        /// The workload that sent it.
        workload: String,
        /// The worker (client) within the workload.
        process: u32,
        kind: OpKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<u64>,
        /// When the open-model schedule meant to send it (ns since start); response times are
        /// measured from here, which corrects for coordinated omission.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        intended_ns: Option<u64>,
    },
    /// An operation completed.
    Complete {
        op: OpId,
        outcome: Outcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A fault took effect (confirmed by the target).
    FaultStart {
        fault: FaultId,
        step: String,
        description: String,
    },
    /// A fault was healed.
    FaultEnd {
        fault: FaultId,
        step: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A probe observation.
    Probe {
        name: String,
        status: ProbeStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        observed: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A step of the method or rollback started.
    StepStart {
        step: String,
        action: String,
        rollback: bool,
    },
    /// A step ended.
    StepEnd {
        step: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// The runner entered a phase (`start`, `steady_state_before`, `method`, ...).
    Phase { name: String },
    /// The sequence writer's writes that were read back after recovery (values, in read order,
    /// duplicates kept).
    ReadBack { workload: String, values: Vec<u64> },
    /// A free-form note (e.g. why the run stopped).
    Note { message: String },
    /// A figure a procedure measured about itself (a restore's throughput beside a plain copy
    /// of the same files), with its own target when the figure has one by definition.
    Measure {
        step: String,
        name: String,
        value: f64,
        unit: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_least: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_most: Option<f64>,
    },
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the history, from 0.
    pub seq: u64,
    /// Nanoseconds since the run started (monotonic).
    pub t_ns: u64,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// The first line of a history file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// [`HISTORY_SCHEMA`].
    pub schema: String,
    /// The run.
    pub run_id: String,
    /// The scenario.
    pub scenario: String,
    /// Wall-clock start, RFC 3339.
    pub started_at: String,
}

struct Inner {
    start: Instant,
    header: Header,
    next_op: AtomicU64,
    next_fault: AtomicU64,
    state: Mutex<State>,
}

struct State {
    entries: Vec<Entry>,
    sink: Option<BufWriter<File>>,
    sink_error: Option<String>,
}

/// A handle to a run's history. Clones share the same record.
#[derive(Clone)]
pub struct History {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("header", &self.inner.header)
            .field("len", &self.len())
            .finish()
    }
}

impl History {
    /// A history kept in memory only. The clock starts now.
    pub fn new(run_id: &str, scenario: &str) -> Self {
        let started_at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| "unknown".to_owned());
        Self {
            inner: Arc::new(Inner {
                start: Instant::now(),
                header: Header {
                    schema: HISTORY_SCHEMA.to_owned(),
                    run_id: run_id.to_owned(),
                    scenario: scenario.to_owned(),
                    started_at,
                },
                next_op: AtomicU64::new(0),
                next_fault: AtomicU64::new(0),
                state: Mutex::new(State {
                    entries: Vec::new(),
                    sink: None,
                    sink_error: None,
                }),
            }),
        }
    }

    /// A history that also streams to `path` as JSON lines (header first).
    pub fn with_sink(run_id: &str, scenario: &str, path: &Path) -> io::Result<Self> {
        let h = Self::new(run_id, scenario);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut w = BufWriter::new(File::create(path)?);
        serde_json::to_writer(&mut w, &h.inner.header)?;
        w.write_all(b"\n")?;
        h.lock().sink = Some(w);
        Ok(h)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a consistent Vec; keep recording.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The header (run id, scenario, wall-clock start).
    pub fn header(&self) -> &Header {
        &self.inner.header
    }

    /// Nanoseconds since the run started.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.inner.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Appends an event and returns its sequence number.
    pub fn append(&self, event: Event) -> u64 {
        let mut st = self.lock();
        let seq = st.entries.len() as u64;
        let entry = Entry {
            seq,
            t_ns: self.now_ns(),
            event,
        };
        if let Some(w) = st.sink.as_mut() {
            let res = serde_json::to_writer(&mut *w, &entry)
                .map_err(io::Error::from)
                .and_then(|()| w.write_all(b"\n"));
            if let Err(e) = res {
                st.sink_error.get_or_insert_with(|| e.to_string());
                st.sink = None;
            }
        }
        st.entries.push(entry);
        seq
    }

    /// Records that `workload`'s worker `process` sent an operation; returns its id.
    pub fn invoke(
        &self,
        workload: &str,
        process: u32,
        kind: OpKind,
        key: Option<String>,
        value: Option<u64>,
    ) -> OpId {
        self.invoke_at(workload, process, kind, key, value, None)
    }

    /// Like [`History::invoke`], with the time the schedule intended to send it (ns since start).
    pub fn invoke_at(
        &self,
        workload: &str,
        process: u32,
        kind: OpKind,
        key: Option<String>,
        value: Option<u64>,
        intended_ns: Option<u64>,
    ) -> OpId {
        let op = OpId(self.inner.next_op.fetch_add(1, Ordering::Relaxed));
        self.append(Event::Invoke {
            op,
            workload: workload.to_owned(),
            process,
            kind,
            key,
            value,
            intended_ns,
        });
        op
    }

    /// Records how an operation completed.
    pub fn complete(&self, op: OpId, outcome: Outcome, detail: Option<String>) {
        self.append(Event::Complete {
            op,
            outcome,
            detail,
        });
    }

    /// Allocates a fault id and records that the fault took effect.
    pub fn fault_start(&self, step: &str, description: &str) -> FaultId {
        let fault = FaultId(self.inner.next_fault.fetch_add(1, Ordering::Relaxed));
        self.append(Event::FaultStart {
            fault,
            step: step.to_owned(),
            description: description.to_owned(),
        });
        fault
    }

    /// Records that a fault was healed (or that healing it failed).
    pub fn fault_end(&self, fault: FaultId, step: &str, ok: bool, detail: Option<String>) {
        self.append(Event::FaultEnd {
            fault,
            step: step.to_owned(),
            ok,
            detail,
        });
    }

    /// Records a probe observation.
    pub fn probe(
        &self,
        name: &str,
        status: ProbeStatus,
        value: Option<f64>,
        observed: Option<String>,
        detail: Option<String>,
    ) {
        self.append(Event::Probe {
            name: name.to_owned(),
            status,
            value,
            observed,
            detail,
        });
    }

    /// Marks a phase.
    pub fn phase(&self, name: &str) {
        self.append(Event::Phase {
            name: name.to_owned(),
        });
        self.flush();
    }

    /// Records a note.
    pub fn note(&self, message: impl Into<String>) {
        self.append(Event::Note {
            message: message.into(),
        });
    }

    /// Number of entries so far.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Flushes the sink; returns the first write error, if any happened.
    pub fn flush(&self) -> Option<String> {
        let mut st = self.lock();
        if let Some(w) = st.sink.as_mut()
            && let Err(e) = w.flush()
        {
            st.sink_error.get_or_insert_with(|| e.to_string());
        }
        st.sink_error.clone()
    }

    /// A frozen copy of the entries so far, for the checkers.
    pub fn snapshot(&self) -> Log {
        Log {
            header: self.inner.header.clone(),
            entries: self.lock().entries.clone(),
        }
    }
}

/// A frozen history: what checkers read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Log {
    /// The header.
    pub header: Header,
    /// Every entry, in sequence order.
    pub entries: Vec<Entry>,
}

impl Log {
    /// A log from literal entries (tests, benches); `seq` is renumbered.
    pub fn from_events(events: impl IntoIterator<Item = (u64, Event)>) -> Self {
        let entries = events
            .into_iter()
            .enumerate()
            .map(|(i, (t_ns, event))| Entry {
                seq: i as u64,
                t_ns,
                event,
            })
            .collect();
        Self {
            header: Header {
                schema: HISTORY_SCHEMA.to_owned(),
                run_id: "literal".to_owned(),
                scenario: "literal".to_owned(),
                started_at: "1970-01-01T00:00:00Z".to_owned(),
            },
            entries,
        }
    }

    /// The time of the last entry (ns).
    pub fn end_ns(&self) -> u64 {
        self.entries.last().map(|e| e.t_ns).unwrap_or(0)
    }

    /// Writes the log as JSON lines, header first.
    pub fn write_jsonl(&self, w: &mut impl Write) -> io::Result<()> {
        serde_json::to_writer(&mut *w, &self.header)?;
        w.write_all(b"\n")?;
        for e in &self.entries {
            serde_json::to_writer(&mut *w, e)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Reads a JSON-lines history.
    pub fn read_jsonl(r: impl BufRead) -> io::Result<Self> {
        let mut lines = r.lines();
        let first = lines
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "empty history file"))??;
        let header: Header = serde_json::from_str(&first)?;
        if header.schema != HISTORY_SCHEMA {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "history schema {:?} is not {HISTORY_SCHEMA:?}",
                    header.schema
                ),
            ));
        }
        let mut entries = Vec::new();
        for (i, line) in lines.enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let e: Entry = serde_json::from_str(&line).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("line {}: {e}", i + 2))
            })?;
            entries.push(e);
        }
        Ok(Self { header, entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_in_order_with_monotonic_time() {
        let h = History::new("r1", "s");
        let op = h.invoke("w", 0, OpKind::Write, None, Some(1));
        h.complete(op, Outcome::Ok, None);
        h.phase("method");
        let log = h.snapshot();
        assert_eq!(log.entries.len(), 3);
        assert!(
            log.entries
                .windows(2)
                .all(|w| w[0].t_ns <= w[1].t_ns && w[0].seq + 1 == w[1].seq)
        );
        assert_eq!(log.header.run_id, "r1");
    }

    #[test]
    fn concurrent_appends_are_all_kept() {
        let h = History::new("r", "s");
        let threads: Vec<_> = (0..4)
            .map(|p| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        let op = h.invoke("w", p, OpKind::Write, None, Some(i));
                        h.complete(op, Outcome::Ok, None);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let log = h.snapshot();
        assert_eq!(log.entries.len(), 8000);
        let mut ops: Vec<u64> = log
            .entries
            .iter()
            .filter_map(|e| match e.event {
                Event::Invoke { op, .. } => Some(op.0),
                _ => None,
            })
            .collect();
        ops.sort_unstable();
        ops.dedup();
        assert_eq!(ops.len(), 4000, "op ids are unique");
    }

    #[test]
    fn sink_writes_json_lines_that_read_back() {
        let dir = std::env::temp_dir().join(format!("stackdrill-hist-{}", std::process::id()));
        let path = dir.join("history.jsonl");
        let h = History::with_sink("run-x", "scn", &path).unwrap();
        let f = h.fault_start("kill", "kill hcd");
        h.probe(
            "graph-up",
            ProbeStatus::Fail,
            None,
            None,
            Some("refused".into()),
        );
        h.fault_end(f, "kill", true, None);
        assert_eq!(h.flush(), None);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 4);
        assert!(text.lines().next().unwrap().contains(HISTORY_SCHEMA));
        let back = Log::read_jsonl(text.as_bytes()).unwrap();
        assert_eq!(back, h.snapshot());
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn read_rejects_other_schema() {
        let err = Log::read_jsonl(
            &b"{\"schema\":\"x/9\",\"run_id\":\"r\",\"scenario\":\"s\",\"started_at\":\"t\"}\n"[..],
        )
        .unwrap_err();
        assert!(err.to_string().contains("x/9"));
    }
}
