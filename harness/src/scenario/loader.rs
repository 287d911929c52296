//! The scenario loader: [`load`] reads a file, [`load_str`] parses and validates text into a
//! [`Plan`], reporting every mistake with its span and a hint.
//!
//! Two passes. The *shape* pass deserializes each section, and each element of an array section,
//! on its own, so one bad `[[step]]` does not hide a bad `[[check]]`; unknown keys, wrong types
//! and unknown kinds are caught here. The *meaning* pass runs when the shape is right: fields a
//! kind needs or does not take, references between sections, value ranges, and profiles. Every
//! error carries a key path that is resolved to a span in the source.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use miette::{NamedSource, SourceSpan};
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::duration::HumanDuration;
use super::errors::{ErrorList, LoadError, ScenarioError};
use super::kinds::*;
use super::plan::*;
use super::schema::*;

/// What the loader needs besides the text.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The profile to apply (`[profile.<name>]`); it must exist in the file.
    pub profile: Option<String>,
    /// Known control ids; when given, `controls` must name only these.
    pub known_controls: Option<BTreeSet<String>>,
}

/// Default settle window of the steady state.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(30);
/// Default sampling interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
/// Default deadline for the steady state to hold before and after the method.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);
/// Default probe timeout.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default timeout of a `graph_digest` probe: a scan of the whole graph, which took more than
/// 10 s for a 350-element graph on a busy two-core machine.
pub const DEFAULT_DIGEST_TIMEOUT: Duration = Duration::from_secs(180);
/// Default per-operation timeout of a workload.
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(5);
/// Default timeout of a recovery procedure.
pub const DEFAULT_RECOVERY_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Reads and validates a scenario file.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Plan, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    load_str(&path.display().to_string(), &text, opts).map(|mut p| {
        p.source = path.to_owned();
        p
    })
}

/// Parses and validates scenario text; `name` names it in diagnostics.
pub fn load_str(name: &str, text: &str, opts: &LoadOptions) -> Result<Plan, LoadError> {
    let src = Source::new(name, text);
    let (root, file) = parse_with(&src)?;
    let mut v = Validator::default();
    let plan = validate(&file, opts, &mut v);
    match v.finish(&src, &root) {
        Some(errors) => Err(LoadError::Invalid {
            name: name.to_owned(),
            errors: Box::new(errors),
        }),
        None => {
            let mut plan = plan.expect("a plan is built whenever validation found no error");
            plan.source = PathBuf::from(name);
            Ok(plan)
        }
    }
}

/// Parses scenario text into its raw form, checking only its shape.
pub fn parse_str(name: &str, text: &str) -> Result<ScenarioFile, LoadError> {
    let src = Source::new(name, text);
    parse_with(&src).map(|(_, f)| f)
}

struct Source {
    name: String,
    text: Arc<str>,
}

impl Source {
    fn new(name: &str, text: &str) -> Self {
        Self {
            name: name.to_owned(),
            text: Arc::from(text),
        }
    }

    fn error(&self, p: &Pending, span: Option<std::ops::Range<usize>>) -> ScenarioError {
        let span = span.map(|r| clamp(r, self.text.len()));
        ScenarioError {
            message: p.message.clone(),
            hint: p.hint.clone(),
            key_path: path_string(&p.path),
            line_col: span.as_ref().map(|r| line_col(&self.text, r.start)),
            span: span.map(|r| SourceSpan::from(r.start..r.end)),
            label: p.label.clone().unwrap_or_else(|| match p.path.is_empty() {
                true => "here".to_owned(),
                false => format!("in `{}`", path_string(&p.path)),
            }),
            src: NamedSource::new(self.name.clone(), self.text.clone()),
        }
    }
}

fn clamp(r: std::ops::Range<usize>, len: usize) -> std::ops::Range<usize> {
    let start = r.start.min(len);
    start..r.end.clamp(start, len)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

fn invalid(src: &Source, errors: Vec<ScenarioError>) -> LoadError {
    LoadError::Invalid {
        name: src.name.clone(),
        errors: Box::new(ErrorList::new(errors).expect("called with at least one error")),
    }
}

// ---------------------------------------------------------------------------------------------
// Key paths.

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

type KeyPath = Vec<Seg>;

macro_rules! kp {
    ($($s:expr),* $(,)?) => { vec![$(Seg::from($s)),*] };
}

impl From<&str> for Seg {
    fn from(s: &str) -> Self {
        Seg::Key(s.to_owned())
    }
}
impl From<&String> for Seg {
    fn from(s: &String) -> Self {
        Seg::Key(s.clone())
    }
}
impl From<String> for Seg {
    fn from(s: String) -> Self {
        Seg::Key(s)
    }
}
impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

fn join(base: &KeyPath, more: KeyPath) -> KeyPath {
    let mut p = base.clone();
    p.extend(more);
    p
}

fn path_string(p: &KeyPath) -> String {
    let mut s = String::new();
    for seg in p {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Where in the document a path points: the value, or the key naming it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum At {
    Value,
    Key,
}

fn resolve(root: &Spanned<DeTable<'_>>, path: &KeyPath, at: At) -> Option<std::ops::Range<usize>> {
    let mut value_span = root.span();
    let mut key_span = None;
    let mut cur: Option<&DeValue<'_>> = None;
    let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
    for seg in path {
        let next = match (seg, table, cur) {
            (Seg::Key(k), Some(t), _) => {
                t.iter()
                    .find(|(key, _)| key.get_ref() == k)
                    .map(|(key, v)| {
                        key_span = Some(key.span());
                        v
                    })
            }
            (Seg::Index(i), _, Some(DeValue::Array(a))) => a.get(*i).inspect(|_| key_span = None),
            _ => None,
        };
        let Some(next) = next else { break };
        value_span = next.span();
        cur = Some(next.get_ref());
        table = next.get_ref().as_table();
    }
    match at {
        At::Key => key_span.or(Some(value_span)),
        At::Value => Some(value_span),
    }
}

// ---------------------------------------------------------------------------------------------
// Shape pass.

fn parse_with(src: &Source) -> Result<(Spanned<DeTable<'_>>, ScenarioFile), LoadError> {
    let root = DeTable::parse(&src.text).map_err(|e| {
        let p = Pending::new(
            KeyPath::new(),
            format!("invalid TOML: {}", e.message().trim_end()),
        )
        .hint("fix the TOML syntax first (strings need quotes, tables need [brackets])")
        .label("syntax error");
        invalid(src, vec![src.error(&p, e.span())])
    })?;
    let mut pending = Vec::new();
    let mut spanned = Vec::new();
    let file = shape(&root, &mut pending, &mut spanned);
    if pending.is_empty() && spanned.is_empty() {
        return Ok((
            root,
            file.expect("no shape error means every section parsed"),
        ));
    }
    let mut errors: Vec<ScenarioError> = pending
        .iter()
        .map(|p| src.error(p, resolve(&root, &p.path, p.at)))
        .collect();
    errors.extend(spanned.into_iter().map(|(p, span)| {
        let span = span.or_else(|| resolve(&root, &p.path, p.at));
        src.error(&p, span)
    }));
    Err(invalid(src, errors))
}

const SECTIONS: &[&str] = &[
    "scenario",
    "stack",
    "probe",
    "steady_state",
    "workload",
    "step",
    "rollback",
    "check",
    "targets",
    "profile",
];

type Spans = Vec<(Pending, Option<std::ops::Range<usize>>)>;

fn shape(
    root: &Spanned<DeTable<'_>>,
    pending: &mut Vec<Pending>,
    spanned: &mut Spans,
) -> Option<ScenarioFile> {
    let t = root.get_ref();
    for (k, _) in t.iter() {
        let k: &str = k.get_ref();
        if !SECTIONS.contains(&k) {
            pending.push(
                Pending::new(kp![k], format!("unknown table `{k}`"))
                    .hint(suggest(k, SECTIONS.iter().copied(), "tables"))
                    .at_key(),
            );
        }
    }
    let get = |k: &str| t.iter().find(|(key, _)| key.get_ref() == k).map(|(_, v)| v);
    let scenario = match get("scenario") {
        Some(v) => de_one::<ScenarioMeta>(v, kp!["scenario"], spanned),
        None => {
            pending.push(
                Pending::new(KeyPath::new(), "missing table `[scenario]`")
                    .hint("start the file with [scenario] and its `name` and `description`"),
            );
            None
        }
    };
    let stack = get("stack").map(|v| de_one::<StackRaw>(v, kp!["stack"], spanned));
    let steady_state =
        get("steady_state").map(|v| de_one::<SteadyStateRaw>(v, kp!["steady_state"], spanned));
    let targets = get("targets").map(|v| de_one::<TargetsRaw>(v, kp!["targets"], spanned));
    let probes = de_array::<ProbeRaw>(get("probe"), "probe", spanned);
    let workloads = de_array::<WorkloadRaw>(get("workload"), "workload", spanned);
    let steps = de_array::<StepRaw>(get("step"), "step", spanned);
    let rollbacks = de_array::<StepRaw>(get("rollback"), "rollback", spanned);
    let checks = de_array::<CheckRaw>(get("check"), "check", spanned);
    let profiles = match get("profile") {
        None => Some(BTreeMap::new()),
        Some(v) => match v.get_ref() {
            DeValue::Table(pt) => {
                let mut out = BTreeMap::new();
                let mut ok = true;
                for (name, pv) in pt.iter() {
                    let name: &str = name.get_ref();
                    match de_one::<ProfileRaw>(pv, kp!["profile", name], spanned) {
                        Some(p) => {
                            out.insert(name.to_owned(), p);
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(out)
            }
            _ => de_one::<BTreeMap<String, ProfileRaw>>(v, kp!["profile"], spanned),
        },
    };
    Some(ScenarioFile {
        scenario: scenario?,
        stack: stack.map(|s| s.ok_or(())).transpose().ok()?,
        probes: probes?,
        steady_state: steady_state.map(|s| s.ok_or(())).transpose().ok()?,
        workloads: workloads?,
        steps: steps?,
        rollbacks: rollbacks?,
        checks: checks?,
        targets: targets.map(|s| s.ok_or(())).transpose().ok()?,
        profiles: profiles?,
    })
}

fn de_array<T: DeserializeOwned>(
    v: Option<&Spanned<DeValue<'_>>>,
    key: &str,
    spanned: &mut Spans,
) -> Option<Vec<T>> {
    let Some(v) = v else { return Some(Vec::new()) };
    match v.get_ref() {
        DeValue::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                match de_one::<T>(item, kp![key, i], spanned) {
                    Some(x) => out.push(x),
                    None => ok = false,
                }
            }
            ok.then_some(out)
        }
        _ => {
            let p = Pending::new(kp![key], format!("`{key}` must be an array of tables"))
                .hint(format!("write each entry as a [[{key}]] table"));
            spanned.push((p, Some(v.span())));
            None
        }
    }
}

fn de_one<T: DeserializeOwned>(
    v: &Spanned<DeValue<'_>>,
    base: KeyPath,
    spanned: &mut Spans,
) -> Option<T> {
    let de = toml::de::ValueDeserializer::from(v.clone());
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(x) => Some(x),
        Err(e) => {
            let mut path = base;
            for seg in e.path().iter() {
                match seg {
                    serde_path_to_error::Segment::Seq { index } => path.push(Seg::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => path.push(Seg::Key(key.clone())),
                    serde_path_to_error::Segment::Enum { .. }
                    | serde_path_to_error::Segment::Unknown => {}
                }
            }
            let inner = e.into_inner();
            let span = inner.span();
            spanned.push((explain(inner.message(), path), span));
            None
        }
    }
}

/// Turns a serde message into a message and a hint.
fn explain(msg: &str, path: KeyPath) -> Pending {
    let msg = msg.trim_end();
    let expected_list = |rest: &str| -> Vec<String> {
        rest.split(", ")
            .map(|s| {
                s.trim()
                    .trim_start_matches("or ")
                    .trim_matches('`')
                    .to_owned()
            })
            .filter(|s| !s.is_empty())
            .collect()
    };
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (name, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let known = tail
            .split_once("expected one of ")
            .or_else(|| tail.split_once("expected "))
            .map(|(_, l)| expected_list(l))
            .unwrap_or_default();
        let mut p = Pending::new(path, format!("unknown key `{name}`"));
        p.hint = Some(if known.is_empty() {
            "this table takes no keys".to_owned()
        } else {
            suggest(name, known.iter().map(String::as_str), "keys")
        });
        return p;
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let (name, tail) = rest.split_once('`').unwrap_or((rest, ""));
        let known = tail
            .split_once("expected one of ")
            .or_else(|| tail.split_once("expected "))
            .map(|(_, l)| expected_list(l))
            .unwrap_or_default();
        let what = match path.last() {
            Some(Seg::Key(k)) => format!("`{k}`"),
            _ => "value".to_owned(),
        };
        let mut p = Pending::new(path, format!("unknown {what} value `{name}`"));
        p.hint = Some(suggest(name, known.iter().map(String::as_str), "values"));
        return p;
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        return Pending::new(path, format!("missing key `{name}`"))
            .hint(format!("add `{name} = ...` to this table"));
    }
    if let Some((_, hint)) = msg.split_once(" (hint: ") {
        let head = msg.split(" (hint: ").next().unwrap_or(msg);
        return Pending::new(path, head.to_owned()).hint(hint.trim_end_matches(')').to_owned());
    }
    let hint = if msg.starts_with("invalid type") {
        Some("check the value's type: strings need quotes, durations are strings like \"30s\"")
    } else {
        None
    };
    let mut p = Pending::new(path, msg.to_owned());
    p.hint = hint.map(str::to_owned);
    p
}

/// "did you mean `x`? known tables: `a`, `b`".
fn suggest<'a>(name: &str, known: impl Iterator<Item = &'a str>, what: &str) -> String {
    let known: Vec<&str> = known.collect();
    let list = known
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let best = known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min();
    match best {
        Some((_, k)) => format!("did you mean `{k}`? known {what}: {list}"),
        None if known.is_empty() => format!("no {what} are defined"),
        None => format!("known {what}: {list}"),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

// ---------------------------------------------------------------------------------------------
// Meaning pass.

#[derive(Debug, Clone)]
struct Pending {
    path: KeyPath,
    message: String,
    hint: Option<String>,
    label: Option<String>,
    at: At,
}

impl Pending {
    fn new(path: KeyPath, message: impl Into<String>) -> Self {
        Self {
            path,
            message: message.into(),
            hint: None,
            label: None,
            at: At::Value,
        }
    }
    fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
    fn label(mut self, l: impl Into<String>) -> Self {
        self.label = Some(l.into());
        self
    }
    fn at_key(mut self) -> Self {
        self.at = At::Key;
        self
    }
}

#[derive(Debug, Default)]
struct Validator {
    errs: Vec<Pending>,
}

impl Validator {
    fn push(&mut self, p: Pending) {
        self.errs.push(p);
    }

    fn finish(self, src: &Source, root: &Spanned<DeTable<'_>>) -> Option<ErrorList> {
        let errors = self
            .errs
            .iter()
            .map(|p| src.error(p, resolve(root, &p.path, p.at)))
            .collect();
        ErrorList::new(errors)
    }

    /// Reports fields set that `what` does not take, and fields it needs that are unset.
    fn fields(
        &mut self,
        base: &KeyPath,
        what: &str,
        present: &[(&'static str, bool)],
        allowed: &[&str],
        required: &[&str],
    ) {
        for (f, set) in present {
            if *set && !allowed.contains(f) && !required.contains(f) {
                let takes: Vec<&str> = required.iter().chain(allowed).copied().collect();
                self.push(
                    Pending::new(
                        join(base, kp![*f]),
                        format!("`{f}` does not apply to {what}"),
                    )
                    .hint(if takes.is_empty() {
                        format!("remove it: {what} takes no other keys")
                    } else {
                        format!("remove it; {what} takes {}", list(&takes))
                    })
                    .at_key(),
                );
            }
        }
        for r in required {
            if !present.iter().any(|(f, s)| f == r && *s) {
                self.push(
                    Pending::new(base.clone(), format!("{what} needs `{r}`"))
                        .hint(format!("add `{r} = ...`")),
                );
            }
        }
    }

    fn positive(&mut self, path: KeyPath, d: Option<HumanDuration>) {
        if d.is_some_and(|d| d.0.is_zero()) {
            self.push(
                Pending::new(path, "a zero duration is not allowed here")
                    .hint("use a positive duration such as \"1s\""),
            );
        }
    }

    fn ratio(&mut self, path: KeyPath, x: Option<f64>) {
        if x.is_some_and(|x| !(0.0..=1.0).contains(&x)) {
            self.push(
                Pending::new(path, "must be between 0 and 1")
                    .hint("write a fraction: 0.999 means 99.9 %"),
            );
        }
    }

    fn identifier(&mut self, path: KeyPath, s: &str, what: &str) {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if !ok {
            self.push(
                Pending::new(path, format!("invalid {what} {s:?}"))
                    .hint("use 1 to 64 lowercase letters, digits, `-` and `_`, starting with a letter or digit"),
            );
        }
    }

    fn reference(&mut self, path: KeyPath, name: &str, known: &[&str], what: &str) -> bool {
        if known.contains(&name) {
            return true;
        }
        self.push(
            Pending::new(path, format!("no {what} named `{name}`")).hint(suggest(
                name,
                known.iter().copied(),
                &format!("{what}s"),
            )),
        );
        false
    }
}

fn list(xs: &[&str]) -> String {
    xs.iter()
        .map(|x| format!("`{x}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn dur(d: Option<HumanDuration>) -> Option<Duration> {
    d.map(HumanDuration::get)
}

fn validate(file: &ScenarioFile, opts: &LoadOptions, v: &mut Validator) -> Option<Plan> {
    let meta = &file.scenario;
    v.identifier(kp!["scenario", "name"], &meta.name, "scenario name");
    if meta.description.trim().is_empty() {
        v.push(
            Pending::new(kp!["scenario", "description"], "the description is empty")
                .hint("say what breaks and what must hold"),
        );
    }
    for (i, tag) in meta.tags.iter().enumerate() {
        v.identifier(kp!["scenario", "tags", i], tag, "tag");
    }
    let mut seen = BTreeSet::new();
    for (i, c) in meta.controls.iter().enumerate() {
        if !seen.insert(c.as_str()) {
            v.push(
                Pending::new(
                    kp!["scenario", "controls", i],
                    format!("control `{c}` is listed twice"),
                )
                .hint("remove the duplicate"),
            );
        } else if let Some(known) = &opts.known_controls
            && !known.contains(c)
        {
            v.push(
                Pending::new(
                    kp!["scenario", "controls", i],
                    format!("unknown control `{c}`"),
                )
                .hint(suggest(
                    c,
                    known.iter().map(String::as_str),
                    "controls (fixtures/controls.toml)",
                )),
            );
        }
    }

    // [stack]
    let stack_raw = file.stack.clone().unwrap_or_default();
    let mut stack = StackSpec::default();
    if !stack_raw.components.is_empty() {
        let mut seen = BTreeSet::new();
        for (i, c) in stack_raw.components.iter().enumerate() {
            if !seen.insert(*c) {
                v.push(
                    Pending::new(
                        kp!["stack", "components", i],
                        format!("component `{c}` is listed twice"),
                    )
                    .hint("remove the duplicate"),
                );
            }
        }
        stack.components = stack_raw
            .components
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
    }
    if let Some(n) = stack_raw.topology.as_ref().and_then(|t| t.hcd_nodes) {
        if n == 1 || n == 3 {
            stack.hcd_nodes = n;
        } else {
            v.push(
                Pending::new(
                    kp!["stack", "topology", "hcd_nodes"],
                    format!("{n} HCD nodes are not supported"),
                )
                .hint("use 1 or 3"),
            );
        }
    }
    if let Some(d) = &stack_raw.dataset {
        if d.persons == 0 || d.accounts == 0 {
            v.push(
                Pending::new(
                    kp!["stack", "dataset"],
                    "a dataset needs persons and accounts".to_owned(),
                )
                .hint("e.g. `dataset = { persons = 100, accounts = 150, transactions = 300 }`"),
            );
        } else if !stack.components.contains(&Component::Janusgraph) {
            v.push(
                Pending::new(
                    kp!["stack", "dataset"],
                    "a dataset is a graph: the stack needs janusgraph".to_owned(),
                )
                .hint("add \"janusgraph\" to stack.components"),
            );
        } else {
            stack.dataset = Some((d.persons, d.accounts, d.transactions));
        }
    }
    let components = stack.components.clone();
    let component_key = |v: &mut Validator, section: &str, key: &str| -> Option<Component> {
        match Component::from_name(key) {
            None => {
                v.push(
                    Pending::new(
                        kp!["stack", section, key],
                        format!("unknown component `{key}`"),
                    )
                    .hint(suggest(
                        key,
                        Component::ALL.iter().map(|c| c.as_str()),
                        "components",
                    ))
                    .at_key(),
                );
                None
            }
            Some(c) if !components.contains(&c) => {
                v.push(
                    Pending::new(
                        kp!["stack", section, key],
                        format!("component `{key}` is not in this stack"),
                    )
                    .hint("add it to `stack.components`, or remove this override")
                    .at_key(),
                );
                None
            }
            Some(c) => Some(c),
        }
    };
    for (k, image) in &stack_raw.images {
        if let Some(c) = component_key(v, "images", k) {
            if image.trim().is_empty() {
                v.push(
                    Pending::new(kp!["stack", "images", k], "the image name is empty")
                        .hint("write an image reference such as \"localhost/stackdrill/hcd:5.0\""),
                );
            }
            stack.images.insert(c, image.clone());
        }
    }
    for (k, cfg) in &stack_raw.config {
        if let Some(c) = component_key(v, "config", k) {
            stack.config.insert(c, cfg.clone());
        }
    }
    let in_stack = |v: &mut Validator, path: KeyPath, c: Component| {
        if !stack.components.contains(&c) {
            v.push(
                Pending::new(path, format!("component `{c}` is not in this stack"))
                    .hint(format!("add `{c}` to `stack.components`")),
            );
        }
    };

    // [[probe]]
    let mut probes = Vec::new();
    let mut probe_names: Vec<&str> = Vec::new();
    for (i, p) in file.probes.iter().enumerate() {
        let base = kp!["probe", i];
        v.identifier(join(&base, kp!["name"]), &p.name, "probe name");
        if probe_names.contains(&p.name.as_str()) {
            v.push(
                Pending::new(
                    join(&base, kp!["name"]),
                    format!("probe `{}` is defined twice", p.name),
                )
                .hint("give each probe a distinct name"),
            );
        }
        probe_names.push(&p.name);
    }
    for (i, p) in file.probes.iter().enumerate() {
        let base = kp!["probe", i];
        if let Some(spec) = validate_probe(v, &base, p, &probe_names, &file.probes, &in_stack) {
            probes.push(spec);
        }
    }

    // [steady_state]
    let ss = file.steady_state.clone().unwrap_or_default();
    for (i, name) in ss.probes.iter().enumerate() {
        v.reference(
            kp!["steady_state", "probes", i],
            name,
            &probe_names,
            "probe",
        );
    }
    v.positive(kp!["steady_state", "settle"], ss.settle);
    v.positive(kp!["steady_state", "interval"], ss.interval);
    v.positive(kp!["steady_state", "deadline"], ss.deadline);
    let mut steady_state = SteadyState {
        probes: ss.probes.clone(),
        settle: dur(ss.settle).unwrap_or(DEFAULT_SETTLE),
        interval: dur(ss.interval).unwrap_or(DEFAULT_INTERVAL),
        deadline: dur(ss.deadline).unwrap_or(DEFAULT_DEADLINE),
    };

    // [[workload]]
    let seed = meta.seed.unwrap_or(0);
    let mut workloads = Vec::new();
    let mut workload_names: Vec<&str> = Vec::new();
    for (i, w) in file.workloads.iter().enumerate() {
        let base = kp!["workload", i];
        v.identifier(join(&base, kp!["name"]), &w.name, "workload name");
        if workload_names.contains(&w.name.as_str()) {
            v.push(
                Pending::new(
                    join(&base, kp!["name"]),
                    format!("workload `{}` is defined twice", w.name),
                )
                .hint("give each workload a distinct name"),
            );
        }
        workload_names.push(&w.name);
        let what = format!("a `{}` workload", w.kind);
        let present = [
            ("target", w.target.is_some()),
            ("read_ratio", w.read_ratio.is_some()),
        ];
        let allowed: &[&str] = match w.kind {
            WorkloadKind::SequenceWriter => &["target"],
            WorkloadKind::GremlinMix => &["read_ratio"],
        };
        v.fields(&base, &what, &present, allowed, &[]);
        check_rate(v, join(&base, kp!["rate"]), w.rate);
        check_concurrency(v, join(&base, kp!["concurrency"]), w.concurrency);
        v.ratio(join(&base, kp!["read_ratio"]), w.read_ratio);
        v.positive(join(&base, kp!["duration"]), w.duration);
        v.positive(join(&base, kp!["op_timeout"]), w.op_timeout);
        workloads.push(WorkloadSpec {
            name: w.name.clone(),
            kind: match w.kind {
                WorkloadKind::SequenceWriter => WorkloadKindSpec::SequenceWriter {
                    target: w.target.unwrap_or(WriterTarget::Graph),
                },
                WorkloadKind::GremlinMix => WorkloadKindSpec::GremlinMix {
                    read_ratio: w.read_ratio.unwrap_or(0.8),
                },
            },
            rate: w.rate,
            duration: dur(w.duration),
            concurrency: w.concurrency.unwrap_or(1),
            seed: w.seed.unwrap_or(seed.wrapping_add(i as u64)),
            op_timeout: dur(w.op_timeout).unwrap_or(DEFAULT_OP_TIMEOUT),
        });
    }

    // [[step]] and [[rollback]]
    let mut step_names: Vec<String> = Vec::new();
    for (section, list_) in [("step", &file.steps), ("rollback", &file.rollbacks)] {
        for (i, s) in list_.iter().enumerate() {
            let name = s
                .name
                .clone()
                .unwrap_or_else(|| format!("{section}-{}", i + 1));
            if let Some(n) = &s.name {
                v.identifier(kp![section, i, "name"], n, "step name");
            }
            if step_names.contains(&name) {
                v.push(
                    Pending::new(
                        kp![section, i, "name"],
                        format!("step `{name}` is defined twice"),
                    )
                    .hint("give each step a distinct name"),
                );
            }
            step_names.push(name);
        }
    }
    let mut ctx = StepCtx {
        probe_names: &probe_names,
        steady: &steady_state.probes,
        fault_names: Vec::new(),
        backups: Vec::new(),
        stack: &stack,
        interval: steady_state.interval,
    };
    let mut steps = Vec::new();
    for (i, s) in file.steps.iter().enumerate() {
        let name = s.name.clone().unwrap_or_else(|| format!("step-{}", i + 1));
        if let Some(step) = validate_step(v, &kp!["step", i], name, s, &mut ctx, false) {
            steps.push(step);
        }
    }
    let mut rollbacks = Vec::new();
    for (i, s) in file.rollbacks.iter().enumerate() {
        let name = s
            .name
            .clone()
            .unwrap_or_else(|| format!("rollback-{}", i + 1));
        if let Some(step) = validate_step(v, &kp!["rollback", i], name, s, &mut ctx, true) {
            rollbacks.push(step);
        }
    }
    let fault_names = ctx.fault_names.clone();

    // [[check]]
    let method_step_names: Vec<&str> = steps.iter().map(|s: &Step| s.name.as_str()).collect();
    let mut checks = Vec::new();
    let mut check_names: Vec<String> = Vec::new();
    for (i, c) in file.checks.iter().enumerate() {
        let base = kp!["check", i];
        let name = c.name.clone().unwrap_or_else(|| c.checker.to_string());
        if let Some(n) = &c.name {
            v.identifier(join(&base, kp!["name"]), n, "check name");
        }
        if check_names.contains(&name) {
            v.push(
                Pending::new(base.clone(), format!("two checks are named `{name}`"))
                    .hint("give each check of the same checker a distinct `name`"),
            );
        }
        check_names.push(name.clone());
        let cctx = CheckCtx {
            workloads: &workloads,
            step_names: &method_step_names,
            probe_names: &probe_names,
            probes: &probes,
            fault_names: &fault_names,
            steady: &steady_state.probes,
            settle: steady_state.settle,
        };
        if let Some(check) = validate_check(v, &base, c, &cctx) {
            checks.push(CheckSpec { name, check });
        }
    }

    // [targets]
    let mut targets = TargetOverrides::default();
    if let Some(t) = &file.targets {
        validate_targets(v, &kp!["targets"], t);
        apply_targets(&mut targets, t);
    }

    // [profile.*]
    let profile_names: Vec<&str> = file.profiles.keys().map(String::as_str).collect();
    for (pname, p) in &file.profiles {
        let base = kp!["profile", pname];
        v.identifier(base.clone(), pname, "profile name");
        if let Some(t) = &p.targets {
            validate_targets(v, &join(&base, kp!["targets"]), t);
        }
        if let Some(d) = &p.dataset {
            if d.persons == 0 || d.accounts == 0 {
                v.push(
                    Pending::new(
                        join(&base, kp!["dataset"]),
                        "a dataset needs persons and accounts".to_owned(),
                    )
                    .hint("e.g. `dataset = { persons = 2000, accounts = 3000, transactions = 20000 }`"),
                );
            } else if stack.dataset.is_none() {
                v.push(
                    Pending::new(
                        join(&base, kp!["dataset"]),
                        "a profile can resize the dataset, not add one".to_owned(),
                    )
                    .hint("declare `dataset` under [stack] first"),
                );
            }
        }
        if let Some(s) = &p.steady_state {
            v.positive(join(&base, kp!["steady_state", "settle"]), s.settle);
            v.positive(join(&base, kp!["steady_state", "interval"]), s.interval);
            v.positive(join(&base, kp!["steady_state", "deadline"]), s.deadline);
        }
        for (wname, o) in &p.workload {
            let wb = join(&base, kp!["workload", wname]);
            let mut wp = wb.clone();
            wp.push(Seg::Key(String::new()));
            if !workload_names.contains(&wname.as_str()) {
                v.push(
                    Pending::new(
                        wb.clone(),
                        format!("profile `{pname}` overrides unknown workload `{wname}`"),
                    )
                    .hint(suggest(wname, workload_names.iter().copied(), "workloads"))
                    .at_key(),
                );
            }
            if let Some(r) = o.rate {
                check_rate(v, join(&wb, kp!["rate"]), r);
            }
            check_concurrency(v, join(&wb, kp!["concurrency"]), o.concurrency);
            v.positive(join(&wb, kp!["duration"]), o.duration);
        }
        for (sname, o) in &p.step {
            let sb = join(&base, kp!["step", sname]);
            let Some(step) = steps.iter().chain(&rollbacks).find(|s| &s.name == sname) else {
                v.push(
                    Pending::new(
                        sb,
                        format!("profile `{pname}` overrides unknown step `{sname}`"),
                    )
                    .hint(suggest(
                        sname,
                        step_names.iter().map(String::as_str),
                        "steps",
                    ))
                    .at_key(),
                );
                continue;
            };
            let what = format!("a `{}` step", step.action.label());
            let allowed: &[&str] = match step.action {
                Action::Hold(_) => &["hold"],
                Action::WaitUntil(_) => &["deadline"],
                Action::Fault(_) => &["duration"],
                _ => &[],
            };
            let present = [
                ("hold", o.hold.is_some()),
                ("deadline", o.deadline.is_some()),
                ("duration", o.duration.is_some()),
            ];
            v.fields(
                &sb,
                &format!("the override of {what}"),
                &present,
                allowed,
                &[],
            );
            v.positive(join(&sb, kp!["hold"]), o.hold);
            v.positive(join(&sb, kp!["deadline"]), o.deadline);
            v.positive(join(&sb, kp!["duration"]), o.duration);
        }
    }
    if let Some(name) = &opts.profile
        && !file.profiles.contains_key(name)
    {
        v.push(
            Pending::new(
                KeyPath::new(),
                format!("this scenario has no profile `{name}`"),
            )
            .hint(suggest(name, profile_names.iter().copied(), "profiles"))
            .label("in this file"),
        );
    }
    if !v.errs.is_empty() {
        return None;
    }

    // Apply the profile.
    if let Some(p) = opts.profile.as_ref().and_then(|n| file.profiles.get(n)) {
        if let Some(t) = &p.targets {
            apply_targets(&mut targets, t);
        }
        if let Some(d) = &p.dataset {
            stack.dataset = Some((d.persons, d.accounts, d.transactions));
        }
        if let Some(s) = &p.steady_state {
            steady_state.settle = dur(s.settle).unwrap_or(steady_state.settle);
            steady_state.interval = dur(s.interval).unwrap_or(steady_state.interval);
            steady_state.deadline = dur(s.deadline).unwrap_or(steady_state.deadline);
        }
        for w in &mut workloads {
            if let Some(o) = p.workload.get(&w.name) {
                w.rate = o.rate.unwrap_or(w.rate);
                w.duration = dur(o.duration).or(w.duration);
                w.concurrency = o.concurrency.unwrap_or(w.concurrency);
            }
        }
        for s in steps.iter_mut().chain(rollbacks.iter_mut()) {
            if let Some(o) = p.step.get(&s.name) {
                match &mut s.action {
                    Action::Hold(d) => *d = dur(o.hold).unwrap_or(*d),
                    Action::WaitUntil(w) => w.deadline = dur(o.deadline).unwrap_or(w.deadline),
                    Action::Fault(f) => f.heal_after = dur(o.duration).or(f.heal_after),
                    _ => {}
                }
            }
        }
    }

    Some(Plan {
        source: PathBuf::new(),
        name: meta.name.clone(),
        description: meta.description.clone(),
        tags: meta.tags.clone(),
        controls: meta.controls.clone(),
        seed,
        requires: meta.requires.clone(),
        profile: opts.profile.clone(),
        profiles: profile_names.iter().map(|s| s.to_string()).collect(),
        stack,
        probes,
        steady_state,
        workloads,
        steps,
        rollbacks,
        checks,
        targets,
        raw_profiles: file.profiles.clone(),
    })
}

fn check_rate(v: &mut Validator, path: KeyPath, rate: f64) {
    if !(rate.is_finite() && rate > 0.0 && rate <= 100_000.0) {
        v.push(
            Pending::new(path, format!("rate {rate} is out of range"))
                .hint("use an arrival rate in operations per second, above 0 and at most 100000"),
        );
    }
}

fn check_concurrency(v: &mut Validator, path: KeyPath, c: Option<u32>) {
    if c.is_some_and(|c| c == 0 || c > 10_000) {
        v.push(
            Pending::new(path, "concurrency must be between 1 and 10000")
                .hint("it bounds the operations in flight"),
        );
    }
}

fn validate_targets(v: &mut Validator, base: &KeyPath, t: &TargetsRaw) {
    if let Some(tier) = t.tier
        && !(1..=3).contains(&tier)
    {
        v.push(
            Pending::new(join(base, kp!["tier"]), format!("there is no tier {tier}"))
                .hint("tiers are 1 (JanusGraph, HCD), 2 (Prometheus) and 3 (Alertmanager, Vault)"),
        );
    }
    for (k, d) in [
        ("rto", t.rto),
        ("rpo", t.rpo),
        ("p50_latency", t.p50_latency),
        ("p95_latency", t.p95_latency),
        ("p99_latency", t.p99_latency),
        ("time_to_detect", t.time_to_detect),
    ] {
        if k != "rpo" {
            v.positive(join(base, kp![k]), d);
        }
    }
    v.ratio(join(base, kp!["error_rate"]), t.error_rate);
    v.ratio(join(base, kp!["availability"]), t.availability);
    if let (Some(a), Some(b)) = (t.p50_latency, t.p99_latency)
        && a > b
    {
        v.push(
            Pending::new(
                join(base, kp!["p50_latency"]),
                "the p50 bound is above the p99 bound",
            )
            .hint("percentile bounds must not decrease: p50 <= p95 <= p99"),
        );
    }
}

fn apply_targets(t: &mut TargetOverrides, r: &TargetsRaw) {
    t.tier = r.tier.or(t.tier);
    t.rto = dur(r.rto).or(t.rto);
    t.rpo = dur(r.rpo).or(t.rpo);
    t.p50_latency = dur(r.p50_latency).or(t.p50_latency);
    t.p95_latency = dur(r.p95_latency).or(t.p95_latency);
    t.p99_latency = dur(r.p99_latency).or(t.p99_latency);
    t.error_rate = r.error_rate.or(t.error_rate);
    t.availability = r.availability.or(t.availability);
    t.time_to_detect = dur(r.time_to_detect).or(t.time_to_detect);
}

fn validate_probe(
    v: &mut Validator,
    base: &KeyPath,
    p: &ProbeRaw,
    names: &[&str],
    all: &[ProbeRaw],
    in_stack: &dyn Fn(&mut Validator, KeyPath, Component),
) -> Option<ProbeSpec> {
    let present = [
        ("query", p.query.is_some()),
        ("expression", p.expression.is_some()),
        ("alert", p.alert.is_some()),
        ("state", p.state.is_some()),
        ("component", p.component.is_some()),
        ("port", p.port.is_some()),
        ("listener", p.listener.is_some()),
        ("offer", p.offer.is_some()),
        ("credential", p.credential.is_some()),
        ("user", p.user.is_some()),
        ("keyspace", p.keyspace.is_some()),
        ("operation", p.operation.is_some()),
        ("min_version", p.min_version.is_some()),
        ("valid_for", p.valid_for.is_some()),
        ("path", p.path.is_some()),
        ("same_as", p.same_as.is_some()),
        ("equals", p.equals.is_some()),
        ("tolerance", p.tolerance.is_some()),
        ("min", p.min.is_some()),
        ("max", p.max.is_some()),
    ];
    const NUM: [&str; 4] = ["equals", "tolerance", "min", "max"];
    let (required, allowed): (&[&str], Vec<&str>) = match p.kind {
        ProbeKind::Gremlin | ProbeKind::Cql => (&["query"], NUM.to_vec()),
        ProbeKind::Promql => (&["expression"], NUM.to_vec()),
        ProbeKind::VaultHealth => (&[], vec![]),
        ProbeKind::VaultAuth => (&[], vec!["path"]),
        ProbeKind::Tls => (
            &["component"],
            [
                &["listener", "port", "min_version", "valid_for"][..],
                &NUM[..],
            ]
            .concat(),
        ),
        ProbeKind::TlsRefuses => (&["component", "offer"], vec!["listener", "port"]),
        ProbeKind::CqlLogin => (&["credential"], vec![]),
        ProbeKind::AuditLog => (
            &["component"],
            match p.component {
                Some(Component::Vault) => vec!["path"],
                _ => vec!["user", "keyspace", "operation"],
            },
        ),
        ProbeKind::Alert => (&["alert"], vec!["state"]),
        ProbeKind::GraphDigest => (&[], vec!["same_as"]),
        ProbeKind::PortRefusesPlaintext => (&["component"], vec!["listener", "port"]),
    };
    let errs_before = v.errs.len();
    v.fields(
        base,
        &format!("a `{}` probe", p.kind),
        &present,
        &allowed,
        required,
    );
    v.positive(join(base, kp!["timeout"]), p.timeout);
    v.positive(join(base, kp!["valid_for"]), p.valid_for);
    if p.tolerance.is_some() && p.equals.is_none() {
        v.push(
            Pending::new(join(base, kp!["tolerance"]), "`tolerance` needs `equals`")
                .hint("write `equals = <value>` beside it, or use `min`/`max`")
                .at_key(),
        );
    }
    if p.equals.is_some() && (p.min.is_some() || p.max.is_some()) {
        v.push(
            Pending::new(
                join(base, kp!["equals"]),
                "`equals` cannot be combined with `min` or `max`",
            )
            .hint("use either `equals` (with `tolerance`) or a `min`/`max` range")
            .at_key(),
        );
    }
    if p.tolerance.is_some_and(|t| t.is_nan() || t < 0.0) {
        v.push(
            Pending::new(
                join(base, kp!["tolerance"]),
                "the tolerance must not be negative",
            )
            .hint("write an absolute tolerance such as 0.5"),
        );
    }
    if let (Some(lo), Some(hi)) = (p.min, p.max)
        && lo > hi
    {
        v.push(
            Pending::new(
                join(base, kp!["min"]),
                format!("`min` ({lo}) is above `max` ({hi})"),
            )
            .hint("swap them"),
        );
    }
    if let Some(c) = p.component {
        in_stack(v, join(base, kp!["component"]), c);
        if p.kind == ProbeKind::AuditLog && !matches!(c, Component::Hcd | Component::Vault) {
            v.push(
                Pending::new(
                    join(base, kp!["component"]),
                    format!("`{c}` keeps no audit log the harness reads"),
                )
                .hint("write `hcd` (Cassandra's audit log) or `vault` (OpenBao's audit device)"),
            );
        }
        if let Some(l) = p.listener {
            let ok = match l {
                Listener::Client => true,
                Listener::Metrics => matches!(c, Component::Hcd | Component::Janusgraph),
                Listener::Internode => c == Component::Hcd,
            };
            if !ok {
                v.push(
                    Pending::new(
                        join(base, kp!["listener"]),
                        format!("`{c}` has no `{l}` listener"),
                    )
                    .hint("`metrics` exists on `hcd` and `janusgraph`, `internode` on `hcd`"),
                );
            }
        }
    }
    if let Some(s) = &p.same_as {
        if s == &p.name {
            v.push(
                Pending::new(
                    join(base, kp!["same_as"]),
                    "a probe cannot be compared with itself",
                )
                .hint("name another `graph_digest` probe, observed earlier"),
            );
        } else if v.reference(join(base, kp!["same_as"]), s, names, "probe")
            && all
                .iter()
                .find(|q| &q.name == s)
                .is_some_and(|q| q.kind != ProbeKind::GraphDigest)
        {
            {
                v.push(
                    Pending::new(
                        join(base, kp!["same_as"]),
                        format!("probe `{s}` is not a `graph_digest` probe"),
                    )
                    .hint("`same_as` compares two graph digests"),
                );
            }
        }
    }
    if v.errs.len() != errs_before {
        return None;
    }
    let expect = match (p.equals, p.min, p.max) {
        (Some(value), _, _) => Some(Expect::Equals {
            value,
            tolerance: p.tolerance.unwrap_or(0.0),
        }),
        (None, None, None) => None,
        (None, min, max) => Some(Expect::Range { min, max }),
    };
    let check = match p.kind {
        ProbeKind::Gremlin => ProbeCheck::Gremlin {
            query: p.query.clone()?,
            expect,
        },
        ProbeKind::Cql => ProbeCheck::Cql {
            query: p.query.clone()?,
            expect,
        },
        ProbeKind::Promql => ProbeCheck::Promql {
            expression: p.expression.clone()?,
            expect,
        },
        ProbeKind::VaultHealth => ProbeCheck::VaultHealth,
        ProbeKind::VaultAuth => ProbeCheck::VaultAuth {
            path: p.path.clone(),
        },
        ProbeKind::Tls => ProbeCheck::Tls {
            component: p.component?,
            listener: p.listener.unwrap_or(Listener::Client),
            port: p.port,
            min_version: p.min_version.unwrap_or(TlsVersion::V1_2),
            valid_for: dur(p.valid_for),
            expect,
        },
        ProbeKind::Alert => ProbeCheck::Alert {
            alert: p.alert.clone()?,
            state: p.state.unwrap_or(AlertState::Firing),
        },
        ProbeKind::GraphDigest => ProbeCheck::GraphDigest {
            same_as: p.same_as.clone(),
        },
        ProbeKind::PortRefusesPlaintext => ProbeCheck::PortRefusesPlaintext {
            component: p.component?,
            listener: p.listener.unwrap_or(Listener::Client),
            port: p.port,
        },
        ProbeKind::TlsRefuses => ProbeCheck::TlsRefuses {
            component: p.component?,
            listener: p.listener.unwrap_or(Listener::Client),
            port: p.port,
            offer: p.offer?,
        },
        ProbeKind::CqlLogin => ProbeCheck::CqlLogin {
            credential: p.credential?,
        },
        ProbeKind::AuditLog => ProbeCheck::AuditLog {
            component: p.component?,
            user: p.user.clone(),
            keyspace: p.keyspace.clone(),
            operation: p.operation.clone(),
            path: p.path.clone(),
        },
    };
    let default_timeout = match check {
        ProbeCheck::GraphDigest { .. } => DEFAULT_DIGEST_TIMEOUT,
        _ => DEFAULT_PROBE_TIMEOUT,
    };
    Some(ProbeSpec {
        name: p.name.clone(),
        check,
        timeout: dur(p.timeout).unwrap_or(default_timeout),
    })
}

struct StepCtx<'a> {
    probe_names: &'a [&'a str],
    steady: &'a [String],
    /// Fault steps seen so far (method steps first, then rollbacks).
    fault_names: Vec<String>,
    /// Backups produced so far.
    backups: Vec<String>,
    stack: &'a StackSpec,
    interval: Duration,
}

fn validate_step(
    v: &mut Validator,
    base: &KeyPath,
    name: String,
    s: &StepRaw,
    ctx: &mut StepCtx<'_>,
    rollback: bool,
) -> Option<Step> {
    let actions: Vec<&str> = [
        ("fault", s.fault.is_some()),
        ("heal", s.heal.is_some()),
        ("recover", s.recover.is_some()),
        ("wait_until", s.wait_until.is_some()),
        ("hold", s.hold.is_some()),
        ("probe", s.probe.is_some()),
        ("phase", s.phase.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    let hint = "a step takes exactly one of `fault`, `heal`, `recover`, `wait_until`, `hold`, `probe`, `phase`";
    match actions.len() {
        0 => {
            v.push(Pending::new(base.clone(), "this step does nothing").hint(hint));
            return None;
        }
        1 => {}
        _ => {
            v.push(
                Pending::new(
                    join(base, kp![actions[1]]),
                    format!("this step has several actions: {}", list(&actions)),
                )
                .hint(format!("split it into one step per action; {hint}"))
                .at_key(),
            );
            return None;
        }
    }
    if rollback && s.fault.is_some() {
        v.push(
            Pending::new(
                join(base, kp!["fault"]),
                "a rollback step cannot inject a fault",
            )
            .hint("rollbacks undo the method: use `heal`, `recover` or `wait_until`")
            .at_key(),
        );
        return None;
    }
    let before = v.errs.len();
    let action = if let Some(f) = &s.fault {
        let spec = validate_fault(v, &join(base, kp!["fault"]), &name, f, ctx.stack);
        ctx.fault_names.push(name.clone());
        Action::Fault(spec?)
    } else if let Some(h) = &s.heal {
        let known: Vec<&str> = ctx.fault_names.iter().map(String::as_str).collect();
        if !known.contains(&h.as_str()) {
            v.push(
                Pending::new(
                    join(base, kp!["heal"]),
                    format!("no earlier fault step named `{h}`"),
                )
                .hint(suggest(h, known.iter().copied(), "fault steps")),
            );
        }
        Action::Heal { fault: h.clone() }
    } else if let Some(r) = &s.recover {
        Action::Recover(validate_recover(
            v,
            &join(base, kp!["recover"]),
            &name,
            r,
            ctx,
        )?)
    } else if let Some(w) = &s.wait_until {
        let wb = join(base, kp!["wait_until"]);
        for (i, p) in w.probes.iter().enumerate() {
            v.reference(join(&wb, kp!["probes", i]), p, ctx.probe_names, "probe");
        }
        if w.probes.is_empty() && ctx.steady.is_empty() {
            v.push(
                Pending::new(wb.clone(), "`wait_until` has no probes to wait for")
                    .hint("list `probes = [...]`, or declare `[steady_state] probes`"),
            );
        }
        v.positive(join(&wb, kp!["deadline"]), Some(w.deadline));
        v.positive(join(&wb, kp!["interval"]), w.interval);
        if let Some(settle) = w.settle
            && settle >= w.deadline
        {
            v.push(Pending::new(join(&wb, kp!["settle"]), "the settle window is not shorter than the deadline").hint("the probes could never settle in time: lengthen `deadline` or shorten `settle`"));
        }
        Action::WaitUntil(WaitSpec {
            probes: if w.probes.is_empty() {
                ctx.steady.to_vec()
            } else {
                w.probes.clone()
            },
            deadline: w.deadline.get(),
            settle: dur(w.settle).unwrap_or_default(),
            interval: dur(w.interval).unwrap_or(ctx.interval),
        })
    } else if let Some(h) = s.hold {
        v.positive(join(base, kp!["hold"]), Some(h));
        Action::Hold(h.get())
    } else if let Some(p) = &s.probe {
        v.reference(join(base, kp!["probe"]), p, ctx.probe_names, "probe");
        Action::Probe(p.clone())
    } else {
        let p = s.phase.clone().expect("exactly one action is set");
        v.identifier(join(base, kp!["phase"]), &p, "phase name");
        Action::Phase(p)
    };
    (v.errs.len() == before).then_some(Step { name, action })
}

fn validate_fault(
    v: &mut Validator,
    base: &KeyPath,
    name: &str,
    f: &FaultRaw,
    stack: &StackSpec,
) -> Option<FaultSpec> {
    let present = [
        ("target", f.target.is_some()),
        ("node", f.node.is_some()),
        ("between", f.between.is_some()),
        ("delay", f.delay.is_some()),
        ("jitter", f.jitter.is_some()),
        ("percent", f.percent.is_some()),
        ("path", f.path.is_some()),
        ("volumes", f.volumes.is_some()),
        ("duration", f.duration.is_some()),
        ("expires_in", f.expires_in.is_some()),
    ];
    let (required, allowed): (&[&str], &[&str]) = match f.kind {
        FaultKind::Kill | FaultKind::Restart => (&["target"], &["node"]),
        FaultKind::Pause | FaultKind::DiskFull => (&["target"], &["node", "duration"]),
        FaultKind::Partition => (&["between"], &["duration"]),
        FaultKind::Latency => (&["target", "delay"], &["jitter", "duration"]),
        FaultKind::Loss => (&["target", "percent"], &["duration"]),
        FaultKind::CertExpiry => (&["target"], &["node", "expires_in"]),
        FaultKind::RevokeSecret => (&["path"], &[]),
        FaultKind::Destroy => (&["target"], &["volumes"]),
        FaultKind::Seal => (&["target"], &["duration"]),
    };
    let before = v.errs.len();
    v.fields(
        base,
        &format!("a `{}` fault", f.kind),
        &present,
        allowed,
        required,
    );
    if let Some(t) = f.target
        && !stack.components.contains(&t)
    {
        v.push(
            Pending::new(
                join(base, kp!["target"]),
                format!("component `{t}` is not in this stack"),
            )
            .hint(format!("add `{t}` to `stack.components`")),
        );
    }
    if let Some(n) = f.node {
        if f.target != Some(Component::Hcd) {
            v.push(
                Pending::new(join(base, kp!["node"]), "`node` applies only to `hcd`")
                    .hint("other components run a single instance")
                    .at_key(),
            );
        } else if n == 0 || n > stack.hcd_nodes {
            v.push(
                Pending::new(join(base, kp!["node"]), format!("there is no HCD node {n}"))
                    .hint(format!("this stack has {} HCD node(s), numbered from 1; set `stack.topology.hcd_nodes = 3` for more", stack.hcd_nodes)),
            );
        }
    }
    if f.kind == FaultKind::Seal
        && let Some(t) = f.target
        && t != Component::Vault
    {
        v.push(
            Pending::new(join(base, kp!["target"]), format!("`{t}` cannot be sealed"))
                .hint("only `vault` has a seal"),
        );
    }
    let mut between = None;
    if let Some(b) = &f.between {
        match b.as_slice() {
            [a, c] if a != c => {
                for x in [a, c] {
                    if !stack.components.contains(x) {
                        v.push(
                            Pending::new(
                                join(base, kp!["between"]),
                                format!("component `{x}` is not in this stack"),
                            )
                            .hint(format!("add `{x}` to `stack.components`")),
                        );
                    }
                }
                between = Some([*a, *c]);
            }
            _ => v.push(
                Pending::new(
                    join(base, kp!["between"]),
                    "a partition is between two different components",
                )
                .hint("write e.g. `between = [\"janusgraph\", \"hcd\"]`"),
            ),
        }
    }
    if let Some(p) = f.percent
        && !(p > 0.0 && p <= 100.0)
    {
        v.push(
            Pending::new(
                join(base, kp!["percent"]),
                format!("{p} % is not a loss rate"),
            )
            .hint("use a percentage above 0 and at most 100"),
        );
    }
    v.positive(join(base, kp!["delay"]), f.delay);
    v.positive(join(base, kp!["expires_in"]), f.expires_in);
    v.positive(join(base, kp!["duration"]), f.duration);
    if v.errs.len() != before {
        return None;
    }
    let fault = match f.kind {
        FaultKind::Kill => Fault::Kill {
            target: f.target?,
            node: f.node,
        },
        FaultKind::Restart => Fault::Restart {
            target: f.target?,
            node: f.node,
        },
        FaultKind::Pause => Fault::Pause {
            target: f.target?,
            node: f.node,
        },
        FaultKind::Partition => Fault::Partition { between: between? },
        FaultKind::Latency => Fault::Latency {
            target: f.target?,
            delay: f.delay?.get(),
            jitter: dur(f.jitter),
        },
        FaultKind::Loss => Fault::Loss {
            target: f.target?,
            percent: f.percent?,
        },
        FaultKind::DiskFull => Fault::DiskFull {
            target: f.target?,
            node: f.node,
        },
        FaultKind::CertExpiry => Fault::CertExpiry {
            target: f.target?,
            node: f.node,
            expires_in: dur(f.expires_in).unwrap_or(Duration::from_secs(60)),
        },
        FaultKind::RevokeSecret => Fault::RevokeSecret {
            path: f.path.clone()?,
        },
        FaultKind::Destroy => Fault::Destroy {
            target: f.target?,
            volumes: f.volumes.unwrap_or(false),
        },
        FaultKind::Seal => Fault::Seal { target: f.target? },
    };
    Some(FaultSpec {
        name: name.to_owned(),
        fault,
        heal_after: dur(f.duration),
    })
}

fn validate_recover(
    v: &mut Validator,
    base: &KeyPath,
    name: &str,
    r: &RecoverRaw,
    ctx: &mut StepCtx<'_>,
) -> Option<RecoverySpec> {
    let present = [
        ("component", r.component.is_some()),
        ("backup", r.backup.is_some()),
        ("from", r.from.is_some()),
        ("path", r.path.is_some()),
    ];
    let required: &[&str] = match r.procedure {
        Procedure::Backup => &["component", "backup"],
        Procedure::Restore => &["component", "from"],
        Procedure::RotateSecret => &["path"],
        Procedure::RotateCertificate | Procedure::Restart => &["component"],
    };
    let before = v.errs.len();
    v.fields(
        base,
        &format!("a `{}` procedure", r.procedure),
        &present,
        &[],
        required,
    );
    v.positive(join(base, kp!["timeout"]), r.timeout);
    if let Some(c) = r.component
        && !ctx.stack.components.contains(&c)
    {
        v.push(
            Pending::new(
                join(base, kp!["component"]),
                format!("component `{c}` is not in this stack"),
            )
            .hint(format!("add `{c}` to `stack.components`")),
        );
    }
    if let Some(b) = &r.backup {
        v.identifier(join(base, kp!["backup"]), b, "backup name");
        ctx.backups.push(b.clone());
    }
    if let Some(from) = &r.from {
        let known: Vec<&str> = ctx.backups.iter().map(String::as_str).collect();
        if !known.contains(&from.as_str()) {
            v.push(
                Pending::new(
                    join(base, kp!["from"]),
                    format!("no earlier `backup` step produces `{from}`"),
                )
                .hint(suggest(from, known.iter().copied(), "backups")),
            );
        }
    }
    if v.errs.len() != before {
        return None;
    }
    let procedure = match r.procedure {
        Procedure::Backup => Recovery::Backup {
            component: r.component?,
            backup: r.backup.clone()?,
        },
        Procedure::Restore => Recovery::Restore {
            component: r.component?,
            from: r.from.clone()?,
        },
        Procedure::RotateSecret => Recovery::RotateSecret {
            path: r.path.clone()?,
        },
        Procedure::RotateCertificate => Recovery::RotateCertificate {
            component: r.component?,
        },
        Procedure::Restart => Recovery::Restart {
            component: r.component?,
        },
    };
    Some(RecoverySpec {
        name: name.to_owned(),
        procedure,
        timeout: dur(r.timeout).unwrap_or(DEFAULT_RECOVERY_TIMEOUT),
    })
}

struct CheckCtx<'a> {
    workloads: &'a [WorkloadSpec],
    step_names: &'a [&'a str],
    probe_names: &'a [&'a str],
    probes: &'a [ProbeSpec],
    fault_names: &'a [String],
    steady: &'a [String],
    settle: Duration,
}

fn validate_check(
    v: &mut Validator,
    base: &KeyPath,
    c: &CheckRaw,
    ctx: &CheckCtx<'_>,
) -> Option<Check> {
    let present = [
        ("workload", c.workload.is_some()),
        ("fault", c.fault.is_some()),
        ("alert", c.alert.is_some()),
        ("probe", c.probe.is_some()),
        ("probes", !c.probes.is_empty()),
        ("settle", c.settle.is_some()),
        ("max_lost", c.max_lost.is_some()),
        ("max_duplicated", c.max_duplicated.is_some()),
        ("max_resurrected", c.max_resurrected.is_some()),
        ("from", c.from.is_some()),
    ];
    let (required, allowed): (&[&str], &[&str]) = match c.checker {
        CheckerKind::Ledger => (
            &["workload"],
            &["max_lost", "max_duplicated", "max_resurrected"],
        ),
        CheckerKind::Latency => (&["workload"], &["from"]),
        CheckerKind::Rpo | CheckerKind::Availability => (&["workload"], &[]),
        CheckerKind::Rto => (&[], &["fault", "probes", "settle"]),
        CheckerKind::TimeToDetect => (&["alert"], &["fault"]),
        CheckerKind::SteadyState => (&[], &[]),
        CheckerKind::Probe => (&["probe"], &[]),
    };
    let before = v.errs.len();
    v.fields(
        base,
        &format!("a `{}` check", c.checker),
        &present,
        allowed,
        required,
    );
    let workload_names: Vec<&str> = ctx.workloads.iter().map(|w| w.name.as_str()).collect();
    if let Some(w) = &c.workload
        && v.reference(join(base, kp!["workload"]), w, &workload_names, "workload")
        && matches!(c.checker, CheckerKind::Ledger | CheckerKind::Rpo)
    {
        let wk = ctx
            .workloads
            .iter()
            .find(|x| &x.name == w)
            .map(|x| x.kind.kind());
        if wk != Some(WorkloadKind::SequenceWriter) {
            v.push(
                Pending::new(
                    join(base, kp!["workload"]),
                    format!(
                        "a `{}` check needs a `sequence_writer` workload; `{w}` is not one",
                        c.checker
                    ),
                )
                .hint("only numbered writes can be read back and counted"),
            );
        }
    }
    let fault_names: Vec<&str> = ctx.fault_names.iter().map(String::as_str).collect();
    let fault = match (&c.fault, c.checker) {
        (Some(f), _) => {
            v.reference(join(base, kp!["fault"]), f, &fault_names, "fault step");
            Some(f.clone())
        }
        (None, CheckerKind::Rto | CheckerKind::TimeToDetect) => match fault_names.first() {
            Some(f) => Some((*f).to_owned()),
            None => {
                v.push(
                    Pending::new(
                        base.clone(),
                        format!("a `{}` check needs a fault step to measure from", c.checker),
                    )
                    .hint("add a [[step]] with `fault = {...}`"),
                );
                None
            }
        },
        (None, _) => None,
    };
    if let Some(a) = &c.alert
        && v.reference(join(base, kp!["alert"]), a, ctx.probe_names, "probe")
        && ctx
            .probes
            .iter()
            .find(|p| &p.name == a)
            .is_some_and(|p| p.check.kind() != ProbeKind::Alert)
    {
        v.push(
            Pending::new(
                join(base, kp!["alert"]),
                format!("probe `{a}` is not an `alert` probe"),
            )
            .hint("time to detect is measured to an `alert` probe observing the alert firing"),
        );
    }
    if let Some(p) = &c.probe {
        v.reference(join(base, kp!["probe"]), p, ctx.probe_names, "probe");
    }
    for (i, p) in c.probes.iter().enumerate() {
        v.reference(join(base, kp!["probes", i]), p, ctx.probe_names, "probe");
    }
    if matches!(c.checker, CheckerKind::Rto | CheckerKind::SteadyState)
        && c.probes.is_empty()
        && ctx.steady.is_empty()
    {
        v.push(
            Pending::new(
                base.clone(),
                format!("a `{}` check has no probes to judge recovery by", c.checker),
            )
            .hint("declare `[steady_state] probes = [...]`"),
        );
    }
    v.positive(join(base, kp!["settle"]), c.settle);
    if v.errs.len() != before {
        return None;
    }
    Some(match c.checker {
        CheckerKind::Ledger => Check::Ledger {
            workload: c.workload.clone()?,
            max_lost: c.max_lost.unwrap_or(0),
            max_duplicated: c.max_duplicated.unwrap_or(0),
            max_resurrected: c.max_resurrected.unwrap_or(0),
        },
        CheckerKind::Rto => Check::Rto {
            fault: fault?,
            probes: if c.probes.is_empty() {
                ctx.steady.to_vec()
            } else {
                c.probes.clone()
            },
            settle: dur(c.settle).unwrap_or(ctx.settle),
        },
        CheckerKind::Rpo => Check::Rpo {
            workload: c.workload.clone()?,
        },
        CheckerKind::Latency => {
            if let Some(f) = &c.from {
                v.reference(join(base, kp!["from"]), f, ctx.step_names, "step");
            }
            Check::Latency {
                workload: c.workload.clone()?,
                from: c.from.clone(),
            }
        }
        CheckerKind::Availability => Check::Availability {
            workload: c.workload.clone()?,
        },
        CheckerKind::TimeToDetect => Check::TimeToDetect {
            fault: fault?,
            alert: c.alert.clone()?,
        },
        CheckerKind::SteadyState => Check::SteadyState,
        CheckerKind::Probe => Check::Probe {
            probe: c.probe.clone()?,
        },
    })
}
