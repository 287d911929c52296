//! [`PanelQuery`]: every PromQL expression of a Grafana dashboard (panel targets, panels nested in
//! rows included), so a test can run each against a live Prometheus and name the panels that show
//! nothing.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One query of one panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelQuery {
    /// The dashboard's title.
    pub dashboard: String,
    /// The panel's title.
    pub panel: String,
    /// The target's `refId` (`A`, `B`, …).
    pub ref_id: String,
    /// The PromQL expression.
    pub expr: String,
}

impl std::fmt::Display for PanelQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} / {} [{}]: {}",
            self.dashboard, self.panel, self.ref_id, self.expr
        )
    }
}

/// A dashboard that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The file could not be read.
    #[error("failed to read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{path} is not valid JSON")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Every query of a dashboard's JSON model, in panel order. Targets without an `expr` (other
/// data sources) and empty expressions are left out.
pub fn queries(dashboard: &Value) -> Vec<PanelQuery> {
    let title = dashboard["title"].as_str().unwrap_or("untitled").to_owned();
    let mut out = Vec::new();
    collect(&title, dashboard["panels"].as_array(), &mut out);
    out
}

fn collect(dashboard: &str, panels: Option<&Vec<Value>>, out: &mut Vec<PanelQuery>) {
    for p in panels.into_iter().flatten() {
        let panel = p["title"].as_str().unwrap_or("untitled");
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = t["expr"].as_str().filter(|e| !e.trim().is_empty()) {
                out.push(PanelQuery {
                    dashboard: dashboard.to_owned(),
                    panel: panel.to_owned(),
                    ref_id: t["refId"].as_str().unwrap_or("?").to_owned(),
                    expr: expr.to_owned(),
                });
            }
        }
        // A collapsed row keeps its panels inside it.
        collect(dashboard, p["panels"].as_array(), out);
    }
}

/// Every query of every `*.json` dashboard in `dir`, files in name order.
pub fn queries_in(dir: &Path) -> Result<Vec<PanelQuery>, DashboardError> {
    let read_err = |source| DashboardError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|source| DashboardError::Read {
            path: path.clone(),
            source,
        })?;
        let v: Value = serde_json::from_str(&text).map_err(|source| DashboardError::Json {
            path: path.clone(),
            source,
        })?;
        out.extend(queries(&v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_targets_in_panels_and_rows() {
        let d = json!({
            "title": "overview",
            "panels": [
                { "title": "up", "targets": [{ "refId": "A", "expr": "up" }] },
                { "title": "text panel" },
                { "type": "row", "title": "collapsed", "panels": [
                    { "title": "heap", "targets": [
                        { "refId": "A", "expr": "jvm_memory_used_bytes" },
                        { "refId": "B", "expr": "  " },
                        { "refId": "C", "query": "not promql" }
                    ]}
                ]}
            ]
        });
        let q = queries(&d);
        assert_eq!(
            q.iter()
                .map(|q| (q.panel.as_str(), q.ref_id.as_str(), q.expr.as_str()))
                .collect::<Vec<_>>(),
            [("up", "A", "up"), ("heap", "A", "jvm_memory_used_bytes")]
        );
        assert_eq!(
            q[1].to_string(),
            "overview / heap [A]: jvm_memory_used_bytes"
        );
    }

    #[test]
    fn shipped_dashboards_parse_and_have_queries() {
        let dir = crate::images::project_root().join("fixtures/monitoring/dashboards");
        let q = queries_in(&dir).expect("the shipped dashboards are valid JSON");
        assert!(q.len() >= 10, "{q:?}");
    }
}
