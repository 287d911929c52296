//! Prometheus and Alertmanager probes over their HTTPS APIs: [`query`] (an instant PromQL query)
//! and [`firing_alerts`].

use serde_json::Value;

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

/// A failed query.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Transport.
    #[error("failed to query {url}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// Prometheus answered with an error.
    #[error("Prometheus rejected {query:?}: {error}")]
    Rejected { query: String, error: String },
}

/// Runs an instant query; returns the vector's samples.
pub async fn query(
    http: &reqwest::Client,
    base: &str,
    promql: &str,
) -> Result<Vec<Sample>, QueryError> {
    let url = format!("{base}/api/v1/query");
    let err = |source| QueryError::Http {
        url: url.clone(),
        source,
    };
    let body: Value = http
        .get(&url)
        .query(&[("query", promql)])
        .send()
        .await
        .map_err(err)?
        .json()
        .await
        .map_err(err)?;
    if body["status"] != "success" {
        return Err(QueryError::Rejected {
            query: promql.to_owned(),
            error: body["error"].as_str().unwrap_or("unknown error").to_owned(),
        });
    }
    Ok(body["data"]["result"]
        .as_array()
        .map(|a| a.iter().map(sample).collect())
        .unwrap_or_default())
}

fn sample(v: &Value) -> Sample {
    Sample {
        labels: v["metric"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        value: v["value"][1]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN),
    }
}

/// Names of the alerts Alertmanager currently holds as active (firing).
pub async fn firing_alerts(http: &reqwest::Client, base: &str) -> Result<Vec<String>, QueryError> {
    let url = format!("{base}/api/v2/alerts?active=true&silenced=false&inhibited=false");
    let err = |source| QueryError::Http {
        url: url.clone(),
        source,
    };
    let body: Value = http
        .get(&url)
        .send()
        .await
        .map_err(err)?
        .json()
        .await
        .map_err(err)?;
    Ok(body
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["labels"]["alertname"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}
