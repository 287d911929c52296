//! `report.html`: one self-contained page (inline CSS, inline SVG, no scripts or external
//! resources) with a latency-over-time chart with the fault windows shaded, an RTO timeline of
//! steps and fault windows, and the coverage matrix.

use std::fmt::Write;

use super::model::{RunReport, ScenarioReport, badge, fmt_target, fmt_value};
use crate::checker::Verdict;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Unknown => "unknown",
    }
}

const CSS: &str = "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}\
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;font-size:.9em}.pass{background:#d4f4d4}\
.fail{background:#f8d0d0}.unknown{background:#f4ecc4}.none{background:#fff}svg{border:1px solid #ddd;margin:.5em 0}\
h2{margin-top:2em}code{background:#f4f4f4;padding:0 .2em}";

/// Renders the HTML report.
pub fn render_html(r: &RunReport) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>stackdrill {}</title><style>{CSS}</style></head><body>\n",
        esc(&r.run_id)
    );
    let _ = writeln!(
        s,
        "<h1>stackdrill run <code>{}</code>: <span class=\"{}\">{}</span></h1>",
        esc(&r.run_id),
        class(r.verdict),
        badge(r.verdict)
    );
    let _ = writeln!(
        s,
        "<p>Started {} · finished {} · readiness grade <b>{:.1}/100 ({})</b> · controls proven <b>{}/{}</b></p>",
        esc(&r.started_at),
        esc(&r.finished_at),
        r.grade.score,
        esc(&r.grade.letter),
        r.coverage.proven,
        r.coverage.total
    );
    let _ = writeln!(s, "<table><tr><th>category</th><th>points</th></tr>");
    for c in &r.grade.categories {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{:.1} / {:.0}</td></tr>",
            esc(&c.category),
            c.points,
            c.max
        );
    }
    let _ = writeln!(s, "</table>");
    for sc in &r.scenarios {
        scenario(&mut s, sc);
    }
    let _ = writeln!(s, "<h2>Coverage matrix</h2>");
    coverage_matrix(&mut s, r);
    let _ = writeln!(s, "</body></html>");
    s
}

fn scenario(s: &mut String, sc: &ScenarioReport) {
    let _ = writeln!(
        s,
        "<h2 id=\"{0}\">{0}: <span class=\"{1}\">{2}</span></h2>\n<p><code>{3}</code> · {4:.1} s{5}</p>",
        esc(&sc.name),
        class(sc.verdict),
        badge(sc.verdict),
        esc(&sc.file),
        sc.duration_seconds,
        sc.tier
            .map(|t| format!(" · tier {t} targets"))
            .unwrap_or_default()
    );
    if let Some(e) = &sc.error {
        let _ = writeln!(
            s,
            "<p class=\"unknown\"><b>The run did not complete:</b> {}</p>",
            esc(e)
        );
    }
    let _ = writeln!(
        s,
        "<table><tr><th>figure</th><th>measured</th><th>target</th><th>verdict</th></tr>"
    );
    for (n, f) in &sc.figures {
        let _ = writeln!(
            s,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            class(f.verdict),
            esc(n),
            esc(&fmt_value(f.value, &f.unit)),
            esc(&fmt_target(f)),
            badge(f.verdict)
        );
    }
    let _ = writeln!(
        s,
        "</table>\n<table><tr><th>check</th><th>verdict</th><th>summary</th><th>evidence</th></tr>"
    );
    for c in &sc.checks {
        let ev: Vec<String> = c
            .evidence
            .iter()
            .map(|e| {
                format!(
                    "{}: {} #{:?}",
                    esc(&e.label),
                    esc(e.history.as_deref().unwrap_or("history")),
                    e.seq
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            class(c.verdict),
            esc(&c.name),
            badge(c.verdict),
            esc(&c.summary),
            ev.join("<br>")
        );
    }
    let _ = writeln!(s, "</table>");
    latency_chart(s, sc);
    rto_timeline(s, sc);
}

const W: f64 = 720.0;
const H: f64 = 200.0;
const PAD: f64 = 40.0;

fn latency_chart(s: &mut String, sc: &ScenarioReport) {
    let t = &sc.timeline;
    let _ = writeln!(
        s,
        "<h3>Latency over time (p99 per {:.0} s, fault windows shaded)</h3>",
        t.bucket_s
    );
    if t.latency.is_empty() {
        let _ = writeln!(s, "<p>No operations were recorded.</p>");
        return;
    }
    let end = t.end_s.max(1.0);
    let ymax = t
        .latency
        .iter()
        .filter_map(|p| p.p99_ms)
        .fold(1.0_f64, f64::max)
        * 1.1;
    let x = |v: f64| PAD + (v / end) * (W - 2.0 * PAD);
    let y = |v: f64| H - PAD + 10.0 - (v / ymax) * (H - 2.0 * PAD);
    let _ = writeln!(
        s,
        "<svg width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"latency over time\">"
    );
    for f in &t.faults {
        let x0 = x(f.start_s);
        let x1 = x(f.end_s.unwrap_or(end));
        let _ = writeln!(
            s,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#f8c0c0\" opacity=\"0.6\"><title>{}</title></rect>",
            PAD - 10.0,
            (x1 - x0).max(1.0),
            H - 2.0 * PAD + 20.0,
            esc(&f.label)
        );
    }
    let pts: Vec<String> = t
        .latency
        .iter()
        .filter_map(|p| p.p99_ms.map(|v| format!("{:.1},{:.1}", x(p.t_s), y(v))))
        .collect();
    let _ = writeln!(
        s,
        "<polyline fill=\"none\" stroke=\"#2060c0\" stroke-width=\"1.5\" points=\"{}\"/>",
        pts.join(" ")
    );
    for p in t.latency.iter().filter(|p| p.errors > 0) {
        let _ = writeln!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#c02020\"><title>{} errors</title></circle>",
            x(p.t_s),
            H - PAD + 14.0,
            p.errors
        );
    }
    axes(s, end, Some((ymax, "ms")));
    let _ = writeln!(s, "</svg>");
}

fn axes(s: &mut String, end: f64, y: Option<(f64, &str)>) {
    let _ = writeln!(
        s,
        "<line x1=\"{PAD}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#444\"/>",
        H - PAD + 10.0,
        W - PAD
    );
    for i in 0..=4 {
        let v = end * f64::from(i) / 4.0;
        let xx = PAD + f64::from(i) / 4.0 * (W - 2.0 * PAD);
        let _ = writeln!(
            s,
            "<text x=\"{xx:.1}\" y=\"{:.1}\" font-size=\"10\" font-family=\"sans-serif\" text-anchor=\"middle\">{v:.0} s</text>",
            H - 8.0
        );
    }
    if let Some((ymax, unit)) = y {
        let _ = writeln!(
            s,
            "<text x=\"4\" y=\"{:.1}\" font-size=\"10\" font-family=\"sans-serif\">{ymax:.0} {unit}</text>",
            PAD - 12.0
        );
    }
}

fn rto_timeline(s: &mut String, sc: &ScenarioReport) {
    let t = &sc.timeline;
    let rows: Vec<(String, f64, Option<f64>, &str)> = t
        .faults
        .iter()
        .map(|f| (format!("fault {}", f.label), f.start_s, f.end_s, "#e06060"))
        .chain(t.steps.iter().map(|st| {
            let color = match st.ok {
                Some(true) => "#60a060",
                Some(false) => "#c04040",
                None => "#c0a040",
            };
            (st.name.clone(), st.start_s, st.end_s, color)
        }))
        .collect();
    let _ = writeln!(s, "<h3>RTO timeline</h3>");
    if rows.is_empty() {
        let _ = writeln!(s, "<p>No step ran.</p>");
        return;
    }
    let rto = sc.figures.get("rto_seconds").and_then(|f| f.value);
    let end = t.end_s.max(1.0);
    let row_h = 16.0;
    let h = rows.len() as f64 * row_h + 50.0;
    let x = |v: f64| 200.0 + (v / end) * (W - 220.0);
    let _ = writeln!(
        s,
        "<svg width=\"{W}\" height=\"{h:.0}\" role=\"img\" aria-label=\"RTO timeline\">"
    );
    for (i, (label, a, b, color)) in rows.iter().enumerate() {
        let yy = 10.0 + i as f64 * row_h;
        let x0 = x(*a);
        let x1 = x(b.unwrap_or(end));
        let _ = writeln!(
            s,
            "<text x=\"4\" y=\"{:.1}\" font-size=\"10\" font-family=\"sans-serif\">{}</text><rect x=\"{x0:.1}\" y=\"{yy:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"/>",
            yy + 10.0,
            esc(&truncate(label, 34)),
            (x1 - x0).max(1.5),
            row_h - 4.0
        );
    }
    if let (Some(rto), Some(f)) = (rto, t.faults.first()) {
        let xr = x(f.start_s + rto);
        let _ = writeln!(
            s,
            "<line x1=\"{xr:.1}\" y1=\"4\" x2=\"{xr:.1}\" y2=\"{:.1}\" stroke=\"#2060c0\" stroke-dasharray=\"4 2\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" font-family=\"sans-serif\" fill=\"#2060c0\">recovered (RTO {rto:.1} s)</text>",
            h - 30.0,
            xr + 3.0,
            h - 32.0
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"200\" y=\"{:.1}\" font-size=\"10\" font-family=\"sans-serif\">0 s</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" font-family=\"sans-serif\" text-anchor=\"end\">{end:.0} s</text>",
        h - 8.0,
        W - 20.0,
        h - 8.0
    );
    let _ = writeln!(s, "</svg>");
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

fn coverage_matrix(s: &mut String, r: &RunReport) {
    let cell = 18.0;
    let left = 260.0;
    let top = 110.0;
    let cols = r.scenarios.len().max(1) as f64;
    let w = left + cols * cell + 20.0;
    let h = top + r.coverage.controls.len() as f64 * cell + 10.0;
    let _ = writeln!(
        s,
        "<svg width=\"{w:.0}\" height=\"{h:.0}\" role=\"img\" aria-label=\"coverage matrix\">"
    );
    for (j, sc) in r.scenarios.iter().enumerate() {
        let xx = left + j as f64 * cell + cell / 2.0;
        let _ = writeln!(
            s,
            "<text transform=\"translate({xx:.1},{:.1}) rotate(-60)\" font-size=\"10\" font-family=\"sans-serif\">{}</text>",
            top - 4.0,
            esc(&truncate(&sc.name, 24))
        );
    }
    for (i, c) in r.coverage.controls.iter().enumerate() {
        let yy = top + i as f64 * cell;
        let _ = writeln!(
            s,
            "<text x=\"4\" y=\"{:.1}\" font-size=\"10\" font-family=\"sans-serif\" fill=\"{}\">{}</text>",
            yy + 13.0,
            if c.proven { "#206020" } else { "#444" },
            esc(&c.id)
        );
        for (j, sc) in r.scenarios.iter().enumerate() {
            let (fill, what) = if !sc.controls.contains(&c.id) {
                ("#f4f4f4", "not claimed")
            } else {
                match sc.verdict {
                    Verdict::Pass => ("#50b050", "proven"),
                    Verdict::Fail => ("#d05050", "claimed, failed"),
                    Verdict::Unknown => ("#d0b040", "claimed, unknown"),
                }
            };
            let _ = writeln!(
                s,
                "<rect x=\"{:.1}\" y=\"{yy:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"><title>{} × {}: {what}</title></rect>",
                left + j as f64 * cell,
                cell - 2.0,
                cell - 2.0,
                esc(&c.id),
                esc(&sc.name)
            );
        }
    }
    let _ = writeln!(s, "</svg>");
}
