//! [`Redactor`]: replaces secrets with [`REDACTED`] in every string of a report, and in each
//! rendered file as a last pass (raw, JSON-escaped, HTML/XML-escaped forms).

use crate::report::RunReport;

/// What a secret is replaced with.
pub const REDACTED: &str = "«redacted»";

/// Removes known secret strings from reports.
///
/// Secrets shorter than 4 characters are ignored: replacing every occurrence of, say, `"a"`
/// would destroy the report while protecting nothing that could be recognised as a secret.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for these secrets.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.chars().count() >= 4)
            .collect();
        // Longest first, so a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// How many secrets it knows.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// Whether it knows none.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Replaces every secret in `text`, in its raw and escaped forms.
    pub fn redact_text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.secrets {
            for form in forms(s) {
                if out.contains(&form) {
                    out = out.replace(&form, REDACTED);
                }
            }
        }
        out
    }

    /// A copy of the report with every string redacted.
    pub fn redact_report(&self, r: &RunReport) -> RunReport {
        if self.secrets.is_empty() {
            return r.clone();
        }
        let mut v = serde_json::to_value(r).expect("a report always serializes");
        self.walk(&mut v);
        serde_json::from_value(v).expect("redacting strings keeps the shape")
    }

    fn walk(&self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => *s = self.redact_text(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| self.walk(x)),
            serde_json::Value::Object(o) => {
                let keys: Vec<String> = o.keys().cloned().collect();
                for k in keys {
                    let mut val = o.remove(&k).expect("key listed");
                    self.walk(&mut val);
                    o.insert(self.redact_text(&k), val);
                }
            }
            _ => {}
        }
    }
}

fn forms(s: &str) -> Vec<String> {
    let json = serde_json::to_string(s).expect("strings serialize");
    let json = json[1..json.len() - 1].to_owned();
    let html = s
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    let xml = s
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;");
    let mut v = vec![s.to_owned(), json, html, xml];
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_raw_and_escaped_forms() {
        let r = Redactor::new([
            "s3cr\"et<pw>".to_string(),
            "abc".to_string(),
            "hunter2".to_string(),
        ]);
        assert_eq!(r.len(), 2, "short secrets are ignored");
        assert_eq!(r.redact_text("pw=hunter2;"), format!("pw={REDACTED};"));
        assert_eq!(
            r.redact_text(r#"{"p":"s3cr\"et<pw>"}"#),
            format!(r#"{{"p":"{REDACTED}"}}"#)
        );
        assert_eq!(
            r.redact_text("<td>s3cr&quot;et&lt;pw&gt;</td>"),
            format!("<td>{REDACTED}</td>")
        );
        assert_eq!(r.redact_text("nothing here abc"), "nothing here abc");
    }
}
