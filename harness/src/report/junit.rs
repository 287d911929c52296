//! `junit.xml`: one test case per scenario; `fail` is a failure, `unknown` an error.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::model::{RunReport, badge};
use crate::checker::Verdict;

/// Renders the JUnit XML report.
pub fn render_junit(r: &RunReport) -> String {
    let mut report = Report::new(format!("stackdrill-{}", r.run_id));
    let mut suite = TestSuite::new("scenarios");
    for sc in &r.scenarios {
        let bad: Vec<String> = sc
            .checks
            .iter()
            .filter(|c| c.verdict != Verdict::Pass)
            .map(|c| format!("{} [{}]: {}", c.name, badge(c.verdict), c.summary))
            .collect();
        let status = match sc.verdict {
            Verdict::Pass => TestCaseStatus::success(),
            v => {
                let kind = if v == Verdict::Fail {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut st = TestCaseStatus::non_success(kind);
                st.set_message(
                    sc.error
                        .clone()
                        .unwrap_or_else(|| bad.first().cloned().unwrap_or_default()),
                );
                st.set_type(badge(v));
                st.set_description(bad.join("\n"));
                st
            }
        };
        let mut tc = TestCase::new(sc.name.clone(), status);
        tc.set_classname(sc.file.clone());
        tc.set_time(std::time::Duration::from_secs_f64(
            sc.duration_seconds.max(0.0),
        ));
        let figures: Vec<String> = sc
            .figures
            .iter()
            .map(|(n, f)| {
                format!(
                    "{n} = {} (target {})",
                    super::model::fmt_value(f.value, &f.unit),
                    super::model::fmt_target(f)
                )
            })
            .collect();
        tc.set_system_out(figures.join("\n"));
        suite.add_test_case(tc);
    }
    report.add_test_suite(suite);
    report
        .to_string()
        .expect("JUnit serialization into a String cannot fail")
}
