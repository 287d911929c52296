//! Scoring: the controls [`Catalog`] (fixtures/controls.toml), target resolution per service
//! tier ([`thresholds`]), control [`coverage`] and the readiness [`grade`].
//!
//! Pure: no I/O except [`Catalog::load`]. Every point of the grade is traceable to a control,
//! and every proven control to the passing scenarios and checks that proved it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checker::{Thresholds, Verdict};
use crate::scenario::{Action, Component, Fault, HumanDuration, Plan, Recovery};

/// The catalog shipped with stackdrill.
pub const BUILTIN_CATALOG: &str = include_str!("../../fixtures/controls.toml");

/// The controls catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Format version (1).
    pub schema_version: u32,
    /// Category weights, summing to 100.
    pub categories: BTreeMap<String, f64>,
    /// Letter grades, best first.
    #[serde(rename = "grade")]
    pub grades: Vec<GradeBand>,
    /// Service tiers.
    #[serde(rename = "tier")]
    pub tiers: Vec<Tier>,
    /// The controls.
    #[serde(rename = "control")]
    pub controls: Vec<Control>,
}

/// A letter and the lowest score that earns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeBand {
    pub letter: String,
    pub min: f64,
}

/// A service tier and its default targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub tier: u8,
    pub components: Vec<Component>,
    pub rto: HumanDuration,
    pub rpo: HumanDuration,
}

/// One control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    pub id: String,
    pub category: String,
    /// Weight within its category.
    pub weight: f64,
    /// Roadmap phase (1–5).
    pub phase: u8,
    pub title: String,
}

/// Why a catalog is unusable.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// It could not be read.
    #[error("failed to read controls catalog {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// It is not valid TOML of the right shape.
    #[error("invalid controls catalog {path}: {message}")]
    Parse { path: String, message: String },
    /// Its content is inconsistent.
    #[error("invalid controls catalog {path}: {message} (hint: {hint})")]
    Invalid {
        path: String,
        message: String,
        hint: String,
    },
}

impl Catalog {
    /// The catalog shipped with stackdrill.
    pub fn builtin() -> Self {
        Self::parse("fixtures/controls.toml", BUILTIN_CATALOG)
            .expect("the built-in catalog is valid (tested)")
    }

    /// Reads a catalog file.
    pub fn load(path: &Path) -> Result<Self, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// Parses and checks a catalog.
    pub fn parse(path: &str, text: &str) -> Result<Self, CatalogError> {
        let c: Catalog = toml::from_str(text).map_err(|e| CatalogError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let bad = |message: String, hint: &str| CatalogError::Invalid {
            path: path.to_owned(),
            message,
            hint: hint.to_owned(),
        };
        if c.schema_version != 1 {
            return Err(bad(
                format!("schema_version {} is not supported", c.schema_version),
                "use schema_version = 1",
            ));
        }
        let total: f64 = c.categories.values().sum();
        if (total - 100.0).abs() > 1e-9 {
            return Err(bad(
                format!("category weights sum to {total}"),
                "make them sum to 100",
            ));
        }
        let mut ids = BTreeSet::new();
        for k in &c.controls {
            if !ids.insert(k.id.as_str()) {
                return Err(bad(
                    format!("control `{}` is listed twice", k.id),
                    "give each control a distinct id",
                ));
            }
            if !c.categories.contains_key(&k.category) {
                return Err(bad(
                    format!("control `{}` has unknown category `{}`", k.id, k.category),
                    "add the category to [categories]",
                ));
            }
            if k.weight.is_nan() || k.weight <= 0.0 {
                return Err(bad(
                    format!("control `{}` has weight {}", k.id, k.weight),
                    "use a positive weight",
                ));
            }
        }
        for cat in c.categories.keys() {
            if !c.controls.iter().any(|k| &k.category == cat) {
                return Err(bad(
                    format!("category `{cat}` has no control"),
                    "add controls to it or remove it",
                ));
            }
        }
        if c.grades.is_empty() || !c.grades.windows(2).all(|w| w[0].min > w[1].min) {
            return Err(bad(
                "grade bands must be given best first with decreasing `min`".into(),
                "order [[grade]] from A down",
            ));
        }
        for comp in Component::ALL {
            if c.tiers
                .iter()
                .filter(|t| t.components.contains(comp))
                .count()
                != 1
            {
                return Err(bad(
                    format!("component `{comp}` must be in exactly one tier"),
                    "list each component in one [[tier]]",
                ));
            }
        }
        Ok(c)
    }

    /// Every control id.
    pub fn ids(&self) -> BTreeSet<String> {
        self.controls.iter().map(|c| c.id.clone()).collect()
    }

    /// The tier of a component.
    pub fn tier_of(&self, c: Component) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.components.contains(&c))
    }

    /// The tier with this number.
    pub fn tier(&self, n: u8) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.tier == n)
    }
}

/// The component a scenario is about: the first fault's (or recovery's) target.
fn subject(plan: &Plan) -> Option<Component> {
    plan.steps.iter().find_map(|s| match &s.action {
        Action::Fault(f) => match &f.fault {
            Fault::Kill { target, .. }
            | Fault::Restart { target, .. }
            | Fault::Pause { target, .. }
            | Fault::Latency { target, .. }
            | Fault::Loss { target, .. }
            | Fault::DiskFull { target, .. }
            | Fault::CertExpiry { target, .. }
            | Fault::Destroy { target, .. }
            | Fault::Seal { target } => Some(*target),
            Fault::Partition { between } => Some(between[0].min(between[1])),
            Fault::RevokeSecret { .. } => Some(Component::Vault),
        },
        Action::Recover(r) => match &r.procedure {
            Recovery::Backup { component, .. }
            | Recovery::Restore { component, .. }
            | Recovery::RotateCertificate { component }
            | Recovery::Restart { component } => Some(*component),
            Recovery::RotateSecret { .. } => Some(Component::Vault),
        },
        _ => None,
    })
}

/// The targets a plan is judged against: its `[targets]`, else its tier's defaults. The tier is
/// `[targets] tier`, else the tier of the component the first fault or procedure targets, else
/// tier 1 (the strictest).
pub fn thresholds(plan: &Plan, catalog: &Catalog) -> Thresholds {
    let t = &plan.targets;
    let tier = t
        .tier
        .and_then(|n| catalog.tier(n))
        .or_else(|| subject(plan).and_then(|c| catalog.tier_of(c)))
        .or_else(|| catalog.tier(1));
    Thresholds {
        tier: tier.map(|x| x.tier),
        rto: t.rto.or(tier.map(|x| x.rto.get())),
        rpo: t.rpo.or(tier.map(|x| x.rpo.get())),
        p50_latency: t.p50_latency,
        p95_latency: t.p95_latency,
        p99_latency: t.p99_latency,
        error_rate: t.error_rate,
        availability: t.availability,
        time_to_detect: t.time_to_detect,
        detection_budgets: Default::default(),
    }
}

/// What scoring needs to know about one scenario run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioOutcome {
    pub scenario: String,
    pub verdict: Verdict,
    /// Controls it claims.
    pub controls: Vec<String>,
    /// Names of its checks that passed.
    pub passing_checks: Vec<String>,
}

/// Evidence that a control is proven.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proof {
    pub scenario: String,
    pub checks: Vec<String>,
}

/// One control's status in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlStatus {
    pub id: String,
    pub title: String,
    pub category: String,
    pub weight: f64,
    pub proven: bool,
    /// Passing scenarios that prove it.
    pub proven_by: Vec<Proof>,
    /// Scenarios that claim it but did not pass, with their verdicts.
    pub not_proven_by: Vec<(String, Verdict)>,
}

/// Control coverage of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    pub proven: usize,
    pub total: usize,
    /// proven / total.
    pub ratio: f64,
    pub controls: Vec<ControlStatus>,
}

/// Coverage = controls proven by passing scenarios / controls in the catalog.
pub fn coverage(catalog: &Catalog, outcomes: &[ScenarioOutcome]) -> Coverage {
    let controls: Vec<ControlStatus> = catalog
        .controls
        .iter()
        .map(|c| {
            let claim: Vec<&ScenarioOutcome> = outcomes
                .iter()
                .filter(|o| o.controls.contains(&c.id))
                .collect();
            let proven_by: Vec<Proof> = claim
                .iter()
                .filter(|o| o.verdict == Verdict::Pass)
                .map(|o| Proof {
                    scenario: o.scenario.clone(),
                    checks: o.passing_checks.clone(),
                })
                .collect();
            ControlStatus {
                id: c.id.clone(),
                title: c.title.clone(),
                category: c.category.clone(),
                weight: c.weight,
                proven: !proven_by.is_empty(),
                proven_by,
                not_proven_by: claim
                    .iter()
                    .filter(|o| o.verdict != Verdict::Pass)
                    .map(|o| (o.scenario.clone(), o.verdict))
                    .collect(),
            }
        })
        .collect();
    let proven = controls.iter().filter(|c| c.proven).count();
    let total = controls.len();
    Coverage {
        proven,
        total,
        ratio: if total == 0 {
            0.0
        } else {
            proven as f64 / total as f64
        },
        controls,
    }
}

/// Points one proven control contributes, and where they come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub control: String,
    pub points: f64,
    pub proven_by: Vec<Proof>,
}

/// A category's share of the grade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryScore {
    pub category: String,
    pub points: f64,
    pub max: f64,
}

/// The readiness grade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grade {
    /// 0–100.
    pub score: f64,
    pub letter: String,
    pub categories: Vec<CategoryScore>,
    /// Every point, by control; they sum to `score`.
    pub contributions: Vec<Contribution>,
}

/// The grade: each category's weight, shared among its controls by weight; a control's share is
/// earned when it is proven.
pub fn grade(catalog: &Catalog, cov: &Coverage) -> Grade {
    let mut categories = Vec::new();
    let mut contributions = Vec::new();
    for (cat, cat_weight) in &catalog.categories {
        let in_cat: Vec<&ControlStatus> =
            cov.controls.iter().filter(|c| &c.category == cat).collect();
        let total: f64 = in_cat.iter().map(|c| c.weight).sum();
        let mut points = 0.0_f64;
        for c in in_cat.iter().filter(|c| c.proven) {
            let p = cat_weight * c.weight / total;
            points += p;
            contributions.push(Contribution {
                control: c.id.clone(),
                points: p,
                proven_by: c.proven_by.clone(),
            });
        }
        categories.push(CategoryScore {
            category: cat.clone(),
            points: points + 0.0,
            max: *cat_weight,
        });
    }
    // `+ 0.0` turns the -0.0 of an empty float sum into 0.0.
    let score = (contributions.iter().map(|c| c.points).sum::<f64>() + 0.0).clamp(0.0, 100.0);
    let letter = catalog
        .grades
        .iter()
        .find(|g| score + 1e-9 >= g.min)
        .map(|g| g.letter.clone())
        .unwrap_or_else(|| "F".to_owned());
    Grade {
        score,
        letter,
        categories,
        contributions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn outcome(name: &str, v: Verdict, controls: &[&str]) -> ScenarioOutcome {
        ScenarioOutcome {
            scenario: name.into(),
            verdict: v,
            controls: controls.iter().map(|s| s.to_string()).collect(),
            passing_checks: vec!["rto".into()],
        }
    }

    #[test]
    fn builtin_catalog_is_valid_and_covers_the_roadmap() {
        let c = Catalog::builtin();
        assert!(c.controls.len() >= 20);
        for phase in 1..=5 {
            assert!(c.controls.iter().any(|k| k.phase == phase), "phase {phase}");
        }
        assert_eq!(
            c.tier_of(Component::Hcd).unwrap().rto.get(),
            Duration::from_secs(4 * 3600)
        );
        assert_eq!(
            c.tier_of(Component::Prometheus).unwrap().rpo.get(),
            Duration::from_secs(3600)
        );
        assert_eq!(
            c.tier_of(Component::Vault).unwrap().rpo.get(),
            Duration::from_secs(4 * 3600)
        );
    }

    #[test]
    fn catalog_errors() {
        let base = BUILTIN_CATALOG;
        let e = Catalog::parse("c", &base.replace("security = 30", "security = 31")).unwrap_err();
        assert!(e.to_string().contains("sum to 101"), "{e}");
        let e = Catalog::parse(
            "c",
            &base.replace(
                "id = \"sec.plaintext_refused\"",
                "id = \"sec.tls_all_services\"",
            ),
        )
        .unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
        let e = Catalog::parse(
            "c",
            &base.replace("schema_version = 1", "schema_version = 1\nextra = 2"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("extra"), "{e}");
    }

    #[test]
    fn coverage_counts_only_passing_scenarios() {
        let c = Catalog::builtin();
        let cov = coverage(
            &c,
            &[
                outcome(
                    "a",
                    Verdict::Pass,
                    &["dr.rto_within_target", "dr.backup_restore"],
                ),
                outcome("b", Verdict::Fail, &["sec.tls_all_services"]),
                outcome("c", Verdict::Unknown, &["dr.rpo_within_target"]),
            ],
        );
        assert_eq!(cov.proven, 2);
        assert_eq!(cov.total, c.controls.len());
        let tls = cov
            .controls
            .iter()
            .find(|k| k.id == "sec.tls_all_services")
            .unwrap();
        assert!(!tls.proven);
        assert_eq!(tls.not_proven_by, vec![("b".to_string(), Verdict::Fail)]);
    }

    #[test]
    fn grade_points_trace_to_controls() {
        let c = Catalog::builtin();
        let none = grade(&c, &coverage(&c, &[]));
        assert_eq!((none.score, none.letter.as_str()), (0.0, "F"));
        let all_ids: Vec<String> = c.controls.iter().map(|k| k.id.clone()).collect();
        let all = ScenarioOutcome {
            scenario: "all".into(),
            verdict: Verdict::Pass,
            controls: all_ids,
            passing_checks: vec![],
        };
        let g = grade(&c, &coverage(&c, &[all]));
        assert!((g.score - 100.0).abs() < 1e-9);
        assert_eq!(g.letter, "A");
        let dr_only = grade(
            &c,
            &coverage(
                &c,
                &[outcome("a", Verdict::Pass, &["dr.rto_within_target"])],
            ),
        );
        // dr = 25 points shared by weights 1+3+3+3+2+2 = 14; rto weighs 3.
        assert!((dr_only.score - 25.0 * 3.0 / 14.0).abs() < 1e-9);
        let sum: f64 = dr_only.contributions.iter().map(|x| x.points).sum();
        assert!((sum - dr_only.score).abs() < 1e-9);
        assert_eq!(dr_only.contributions[0].proven_by[0].scenario, "a");
    }

    #[test]
    fn thresholds_from_tier_and_overrides() {
        let c = Catalog::builtin();
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/dr/hcd_node_loss.toml"
        ))
        .unwrap();
        let mut plan = crate::scenario::load_str("s.toml", &text, &Default::default()).unwrap();
        let th = thresholds(&plan, &c);
        assert_eq!(th.tier, Some(1));
        assert_eq!(th.rto, Some(Duration::from_secs(4 * 3600)));
        assert_eq!(th.rpo, Some(Duration::from_secs(15 * 60)));
        plan.targets.tier = None;
        plan.targets.rto = Some(Duration::from_secs(60));
        let th = thresholds(&plan, &c);
        assert_eq!(
            (th.tier, th.rto),
            (Some(1), Some(Duration::from_secs(60))),
            "tier from the killed component (hcd)"
        );
        plan.targets.tier = Some(3);
        assert_eq!(
            thresholds(&plan, &c).rpo,
            Some(Duration::from_secs(4 * 3600))
        );
    }
}
