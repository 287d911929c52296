//! `report.md`: a run summary sized for a pull-request comment.

use std::fmt::Write;

use super::model::{RunReport, badge, fmt_target, fmt_value};

/// Renders the Markdown report.
pub fn render_markdown(r: &RunReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## stackdrill run `{}`: {}", r.run_id, badge(r.verdict));
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Readiness grade **{:.1}/100 ({})** · controls proven **{}/{}** ({:.0} %){}",
        r.grade.score,
        r.grade.letter,
        r.coverage.proven,
        r.coverage.total,
        r.coverage.ratio * 100.0,
        r.profile
            .as_ref()
            .map(|p| format!(" · profile `{p}`"))
            .unwrap_or_default()
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "| scenario | verdict | figure | measured | target |");
    let _ = writeln!(s, "| --- | --- | --- | --- | --- |");
    for sc in &r.scenarios {
        let judged: Vec<_> = sc
            .figures
            .iter()
            .filter(|(_, f)| f.target.is_some())
            .collect();
        if judged.is_empty() {
            let _ = writeln!(s, "| `{}` | {} | — | — | — |", sc.name, badge(sc.verdict));
        }
        for (i, (name, f)) in judged.iter().enumerate() {
            let (n, v) = if i == 0 {
                (format!("`{}`", sc.name), badge(sc.verdict))
            } else {
                (String::new(), "")
            };
            let _ = writeln!(
                s,
                "| {n} | {v} | {name} | {} | {} |",
                fmt_value(f.value, &f.unit),
                fmt_target(f)
            );
        }
    }
    let _ = writeln!(s);
    for sc in &r.scenarios {
        let _ = writeln!(
            s,
            "<details><summary><code>{}</code>: {}</summary>",
            sc.name,
            badge(sc.verdict)
        );
        let _ = writeln!(s);
        if let Some(e) = &sc.error {
            let _ = writeln!(s, "> **The run did not complete:** {e}");
            let _ = writeln!(s);
        }
        let _ = writeln!(s, "| check | verdict | summary |");
        let _ = writeln!(s, "| --- | --- | --- |");
        for c in &sc.checks {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                c.name,
                badge(c.verdict),
                c.summary.replace('|', "\\|")
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "</details>");
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "| category | points |");
    let _ = writeln!(s, "| --- | --- |");
    for c in &r.grade.categories {
        let _ = writeln!(s, "| {} | {:.1} / {:.0} |", c.category, c.points, c.max);
    }
    s
}
