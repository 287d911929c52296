//! Engine commands: list, validate, run, report, score. The pipeline of `run` is
//! [`run_scenarios`]: load every plan, run each against the target, judge, score, report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::checker::{Verdict, evaluate};
use crate::errors::{CliError, exit};
use crate::history::History;
use crate::report::{self, Redactor, RunReport, ScenarioReport};
use crate::runner::{self, RunOptions, Target};
use crate::scenario::{LoadError, LoadOptions, Plan, load, render_plain};
use crate::score::{self, Catalog, ScenarioOutcome};

const LIST_EXAMPLES: &str = "Examples:
  stackdrill list                      # every scenario under scenarios/
  stackdrill list scenarios/dr         # one folder";

const VALIDATE_EXAMPLES: &str = "Examples:
  stackdrill validate scenarios/                  # every .toml below
  stackdrill validate --profile ci a.toml b.toml  # also check that profile `ci` applies

Exit status: 0 when every file is valid, 2 otherwise.";

const RUN_EXAMPLES: &str = "Examples:
  stackdrill run scenarios/dr/hcd_node_loss.toml
  stackdrill run --profile ci --out /tmp/run1 scenarios/

Exit status: 0 every scenario passed, 1 one failed, 3 none failed but one is unknown,
2 bad input (an invalid file), 4 a stack could not start (and none failed), 130 interrupted.
Reports are written to reports/<run id>/ unless --out is given.";

const REPORT_EXAMPLES: &str = "Examples:
  stackdrill report reports/20261203T120000Z-1a2b3c4d";

const SCORE_EXAMPLES: &str = "Examples:
  stackdrill score reports/20261203T120000Z-1a2b3c4d";

#[derive(Debug, clap::Args)]
#[command(after_help = LIST_EXAMPLES)]
pub struct ListArgs {
    /// Scenario files or folders (default: scenarios/).
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(after_help = VALIDATE_EXAMPLES)]
pub struct ValidateArgs {
    /// Profile that must exist in each file, applied while validating.
    #[arg(long)]
    pub profile: Option<String>,
    /// Controls catalog (default: the built-in fixtures/controls.toml).
    #[arg(long)]
    pub controls: Option<PathBuf>,
    /// Scenario files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(after_help = RUN_EXAMPLES)]
pub struct RunArgs {
    /// Profile to apply (`[profile.<name>]` in each scenario).
    #[arg(long)]
    pub profile: Option<String>,
    /// Run folder (default: reports/<run id>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Controls catalog (default: the built-in fixtures/controls.toml).
    #[arg(long)]
    pub controls: Option<PathBuf>,
    /// Scenario files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(after_help = REPORT_EXAMPLES)]
pub struct ReportArgs {
    /// A run folder holding report.json.
    pub run_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
#[command(after_help = SCORE_EXAMPLES)]
pub struct ScoreArgs {
    /// A run folder holding report.json.
    pub run_dir: PathBuf,
}

/// Every `.toml` file under `paths` (files as given, folders walked), sorted.
pub fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out).map_err(|e| {
                CliError::BadInput(format!("cannot read folder {}: {e}", p.display()))
            })?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(CliError::BadInput(format!(
                "{}: no such file or folder (hint: pass scenario files or folders)",
                p.display()
            )));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn catalog(path: Option<&Path>) -> Result<Catalog, CliError> {
    match path {
        None => Ok(Catalog::builtin()),
        Some(p) => Catalog::load(p).map_err(|e| CliError::BadInput(e.to_string())),
    }
}

fn print_load_error(e: &LoadError) {
    eprint!("{}", render_plain(e));
}

pub fn list(a: ListArgs) -> Result<u8, CliError> {
    let paths = if a.paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        a.paths
    };
    let opts = LoadOptions {
        profile: None,
        known_controls: Some(Catalog::builtin().ids()),
    };
    let mut code = exit::OK;
    for f in scenario_files(&paths)? {
        match load(&f, &opts) {
            Ok(p) => {
                let req = if p.needs_stack() {
                    " [needs stack]"
                } else {
                    ""
                };
                println!("{:<28} {}{req}", p.name, f.display());
                if !p.tags.is_empty() || !p.profiles.is_empty() {
                    println!(
                        "{:<28}   tags: {}; profiles: {}",
                        "",
                        p.tags.join(", "),
                        p.profiles.join(", ")
                    );
                }
            }
            Err(e) => {
                println!(
                    "{:<28} {} [invalid: run `stackdrill validate` on it]",
                    "?",
                    f.display()
                );
                let _ = e;
                code = exit::BAD_INPUT;
            }
        }
    }
    Ok(code)
}

pub fn validate(a: ValidateArgs) -> Result<u8, CliError> {
    let cat = catalog(a.controls.as_deref())?;
    let opts = LoadOptions {
        profile: a.profile.clone(),
        known_controls: Some(cat.ids()),
    };
    let files = scenario_files(&a.paths)?;
    if files.is_empty() {
        return Err(CliError::BadInput(
            "no .toml scenario file found in the given paths".into(),
        ));
    }
    let mut bad = 0;
    for f in &files {
        match load(f, &opts) {
            Ok(p) => println!("ok      {} ({})", f.display(), p.name),
            Err(e) => {
                bad += 1;
                println!("invalid {}", f.display());
                print_load_error(&e);
            }
        }
    }
    println!("{} valid, {bad} invalid", files.len() - bad);
    Ok(if bad == 0 { exit::OK } else { exit::BAD_INPUT })
}

/// A new run id: UTC time and a random suffix.
pub fn new_run_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt =
        time::format_description::parse_borrowed::<2>("[year][month][day]T[hour][minute][second]Z")
            .expect("static format");
    let stamp = now.format(&fmt).unwrap_or_else(|_| "run".into());
    format!(
        "{stamp}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// How a run of several scenarios ended.
#[derive(Debug)]
pub struct RunSummary {
    /// The report.
    pub report: RunReport,
    /// Where it was written.
    pub dir: PathBuf,
    /// Whether some stack could not start.
    pub environment_failed: bool,
    /// Whether the run was interrupted.
    pub interrupted: bool,
}

/// Runs plans against targets made by `make_target`, then judges, scores and reports.
pub async fn run_scenarios<T: Target>(
    plans: &[Plan],
    mut make_target: impl FnMut(&Plan) -> T,
    cat: &Catalog,
    run_id: &str,
    dir: &Path,
    opts: &RunOptions,
    progress: &indicatif::ProgressBar,
) -> std::io::Result<RunSummary> {
    let started_at = now_rfc3339();
    let monitoring =
        crate::stack::detection::MonitoringConfig::load(&crate::images::project_root());
    let mut scenarios = Vec::new();
    let mut outcomes = Vec::new();
    let mut secrets = Vec::new();
    let (mut environment_failed, mut interrupted) = (false, false);
    for plan in plans {
        progress.set_message(plan.name.clone());
        let hist_rel = format!("history/{}.jsonl", plan.name);
        let history = History::with_sink(run_id, &plan.name, &dir.join(&hist_rel))?;
        // Time-to-detect targets follow the alert rules unless the scenario sets one.
        let budgets = match (&monitoring, plan.targets.time_to_detect) {
            (Ok(mc), None) => crate::stack::detection::budgets_for(plan, mc),
            _ => Vec::new(),
        };
        for (probe, alert, b) in &budgets {
            history.note(format!(
                "time-to-detect target of `{alert}` (probe `{probe}`) from the rules: {}",
                b.derivation()
            ));
        }
        let detects = plan
            .checks
            .iter()
            .any(|c| matches!(c.check, crate::scenario::Check::TimeToDetect { .. }));
        if let (Err(e), None, true) = (&monitoring, plan.targets.time_to_detect, detects) {
            history.note(format!(
                "no time-to-detect target derived from the rules: {e}"
            ));
        }
        let target = make_target(plan);
        let t0 = tokio::time::Instant::now();
        let rec = runner::run(plan, &target, &history, opts).await;
        secrets.extend(target.secrets());
        if let Some(e) = history.flush() {
            tracing::warn!("history of {} was not fully written: {e}", plan.name);
        }
        let mut th = score::thresholds(plan, cat);
        th.detection_budgets = budgets
            .into_iter()
            .map(|(probe, _, b)| (probe, b.total()))
            .collect();
        let eval = evaluate(plan, &history.snapshot(), &th, rec.error.as_deref());
        environment_failed |= rec
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("the stack did not start"));
        interrupted |= rec.error.as_deref() == Some("interrupted");
        outcomes.push(ScenarioOutcome {
            scenario: plan.name.clone(),
            verdict: eval.verdict,
            controls: plan.controls.clone(),
            passing_checks: eval
                .checks
                .iter()
                .filter(|c| c.verdict == Verdict::Pass)
                .map(|c| c.name.clone())
                .collect(),
        });
        scenarios.push(ScenarioReport::new(
            plan,
            &eval,
            th.tier,
            t0.elapsed().as_secs_f64(),
            Some(&hist_rel),
            rec.error.clone(),
        ));
        let line = format!(
            "{:<8} {}{}",
            eval.verdict.as_str().to_uppercase(),
            plan.name,
            rec.error.map(|e| format!(": {e}")).unwrap_or_default()
        );
        if progress.is_hidden() {
            eprintln!("{line}");
        } else {
            progress.println(line);
        }
        progress.inc(1);
        if interrupted {
            break;
        }
    }
    let coverage = score::coverage(cat, &outcomes);
    let grade = score::grade(cat, &coverage);
    let report = RunReport {
        schema_version: report::REPORT_SCHEMA_VERSION,
        run_id: run_id.to_owned(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at,
        finished_at: now_rfc3339(),
        profile: plans.first().and_then(|p| p.profile.clone()),
        verdict: Verdict::worst(scenarios.iter().map(|s| s.verdict)),
        scenarios,
        coverage,
        grade,
    };
    let mut secrets_env: Vec<String> = std::env::var("STACKDRILL_REDACT")
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    secrets.append(&mut secrets_env);
    report::write_all(dir, &report, &Redactor::new(secrets))?;
    Ok(RunSummary {
        report,
        dir: dir.to_owned(),
        environment_failed,
        interrupted,
    })
}

/// The exit code of a finished run.
pub fn exit_code(s: &RunSummary) -> u8 {
    let verdicts: Vec<Verdict> = s.report.scenarios.iter().map(|x| x.verdict).collect();
    if s.interrupted {
        exit::INTERRUPTED
    } else if verdicts.contains(&Verdict::Fail) {
        exit::FAILED
    } else if s.environment_failed {
        exit::ENVIRONMENT
    } else if verdicts.contains(&Verdict::Unknown) || verdicts.is_empty() {
        exit::UNKNOWN
    } else {
        exit::OK
    }
}

enum PrepareOrReport {
    Prepare(String),
    Report(std::io::Error),
}

pub fn run(a: RunArgs) -> Result<u8, CliError> {
    let cat = catalog(a.controls.as_deref())?;
    let opts = LoadOptions {
        profile: a.profile.clone(),
        known_controls: Some(cat.ids()),
    };
    let files = scenario_files(&a.paths)?;
    if files.is_empty() {
        return Err(CliError::BadInput(
            "no .toml scenario file found in the given paths".into(),
        ));
    }
    let mut plans = Vec::new();
    let mut bad = false;
    // A profile is applied to the files that define it; the others run as written (a folder
    // holds scenarios with and without, say, a `nightly` profile). A profile that no file
    // defines is a mistake, caught before anything starts.
    let base_opts = LoadOptions {
        profile: None,
        ..opts.clone()
    };
    let mut base_plans = Vec::new();
    for f in &files {
        match load(f, &base_opts) {
            Ok(p) => base_plans.push((f, p)),
            Err(e) => {
                bad = true;
                print_load_error(&e);
            }
        }
    }
    if let Some(name) = &opts.profile
        && !bad
        && !base_plans.iter().any(|(_, p)| p.profiles.contains(name))
    {
        let mut known: Vec<&str> = base_plans
            .iter()
            .flat_map(|(_, p)| p.profiles.iter().map(String::as_str))
            .collect();
        known.sort_unstable();
        known.dedup();
        return Err(CliError::BadInput(format!(
            "no scenario given defines profile `{name}` (profiles defined: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )));
    }
    for (f, p) in base_plans {
        let loaded = match &opts.profile {
            Some(name) if p.profiles.contains(name) => load(f, &opts),
            Some(name) => {
                eprintln!(
                    "note: {} has no profile `{name}`: it runs as written",
                    f.display()
                );
                Ok(p)
            }
            None => Ok(p),
        };
        match loaded {
            Ok(p) => plans.push(p),
            Err(e) => {
                bad = true;
                print_load_error(&e);
            }
        }
    }
    if bad {
        eprintln!(
            "nothing was run: fix the scenario files above (`stackdrill validate` checks them)"
        );
        return Ok(exit::BAD_INPUT);
    }
    let run_id = new_run_id();
    let dir = a
        .out
        .unwrap_or_else(|| PathBuf::from("reports").join(&run_id));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            CliError::Environment(anyhow::anyhow!("failed to start the async runtime: {e}"))
        })?;
    let progress = indicatif::ProgressBar::new(plans.len() as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("[{pos}/{len}] {spinner} {msg} ({elapsed})")
            .expect("static template"),
    );
    progress.enable_steady_tick(Duration::from_millis(200));
    eprintln!(
        "run {run_id}: {} scenario(s), reports in {}",
        plans.len(),
        dir.display()
    );
    let summary = rt.block_on(async {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = tx.send(true);
            }
        });
        let ropts = RunOptions {
            cancel: Some(rx),
            ..RunOptions::default()
        };
        let (engine, images) = crate::runtime::prepare(&mut std::io::stderr())
            .await
            .map_err(PrepareOrReport::Prepare)?;
        let work = crate::runtime::work_dir();
        let mut n = 0;
        run_scenarios(
            &plans,
            |plan| {
                n += 1;
                crate::runtime::ContainersTarget::for_plan(
                    &engine,
                    &images,
                    &work,
                    format!("{run_id}-{n}"),
                    plan,
                )
            },
            &cat,
            &run_id,
            &dir,
            &ropts,
            &progress,
        )
        .await
        .map_err(PrepareOrReport::Report)
    });
    progress.finish_and_clear();
    let summary = summary.map_err(|e| match e {
        PrepareOrReport::Prepare(e) => CliError::Environment(anyhow::anyhow!(
            "no scenario was run: the stack cannot be provided\n{e}"
        )),
        PrepareOrReport::Report(e) => CliError::Environment(anyhow::anyhow!(
            "failed to write the reports in {}: {e}",
            dir.display()
        )),
    })?;
    print_score(&summary.report);
    eprintln!("reports: {}", summary.dir.display());
    Ok(exit_code(&summary))
}

pub fn report(a: ReportArgs) -> Result<u8, CliError> {
    let path = a.run_dir.join("report.json");
    let r = report::read_json(&path)
        .map_err(|e| CliError::BadInput(format!("cannot read {}: {e}", path.display())))?;
    let files = report::write_all(&a.run_dir, &r, &Redactor::default()).map_err(|e| {
        CliError::Environment(anyhow::anyhow!(
            "failed to write reports in {}: {e}",
            a.run_dir.display()
        ))
    })?;
    for f in files {
        println!("{}", f.display());
    }
    Ok(exit::OK)
}

fn print_score(r: &RunReport) {
    for s in &r.scenarios {
        println!("{:<8} {}", s.verdict.as_str().to_uppercase(), s.name);
        for (n, f) in s.figures.iter().filter(|(_, f)| f.target.is_some()) {
            println!(
                "           {n}: {} (target {})",
                f.value
                    .map(|v| format!("{v:.3} {}", f.unit))
                    .unwrap_or_else(|| "not measured".into()),
                f.target
                    .map(|t| format!("{t} {}", f.unit))
                    .unwrap_or_default()
            );
        }
    }
    println!(
        "controls proven: {}/{} ({:.0} %); readiness grade {:.1}/100 ({})",
        r.coverage.proven,
        r.coverage.total,
        r.coverage.ratio * 100.0,
        r.grade.score,
        r.grade.letter
    );
}

pub fn score(a: ScoreArgs) -> Result<u8, CliError> {
    let path = a.run_dir.join("report.json");
    let r = report::read_json(&path)
        .map_err(|e| CliError::BadInput(format!("cannot read {}: {e}", path.display())))?;
    for c in &r.coverage.controls {
        let by = if c.proven {
            c.proven_by
                .iter()
                .map(|p| format!("{} ({})", p.scenario, p.checks.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        } else if c.not_proven_by.is_empty() {
            "no scenario claims it".to_owned()
        } else {
            c.not_proven_by
                .iter()
                .map(|(s, v)| format!("{s}: {v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        println!(
            "{} {:<32} {}",
            if c.proven { "[x]" } else { "[ ]" },
            c.id,
            by
        );
    }
    for c in &r.grade.categories {
        println!("{:<12} {:>5.1} / {:.0}", c.category, c.points, c.max);
    }
    print_score(&r);
    Ok(exit::OK)
}
