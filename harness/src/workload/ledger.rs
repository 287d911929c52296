//! [`SequenceWriter`]: the writer behind the acknowledged-write ledger. Every write carries a
//! sequence number; each attempt ends [`WriteOutcome::Ok`] (acknowledged), [`WriteOutcome::Fail`]
//! (certainly not applied) or [`WriteOutcome::Indeterminate`] (may or may not have been applied:
//! never retried silently). After recovery, [`SequenceWriter::read_back`] returns what the store
//! holds, so a checker can find lost acknowledged writes, duplicates and resurrected failures.
//!
//! Two stores: CQL (a `stackdrill.ledger` table, written at the topology's consistency level) and
//! the graph (`ledger` vertices through Gremlin).

use std::time::Duration;

use scylla::client::session::Session;
use scylla::errors::{ExecutionError, RequestAttemptError};
use scylla::statement::{Consistency, Statement};
use serde_json::json;

use super::gremlin::{GremlinClient, GremlinError};

/// How one write ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Acknowledged by the store.
    Ok,
    /// Certainly not applied.
    Fail(String),
    /// Unknown: the request may have been applied.
    Indeterminate(String),
}

/// A failure to read the ledger back.
#[derive(Debug, thiserror::Error)]
#[error("failed to read the ledger of writer `{writer}` back: {reason}")]
pub struct ReadBackError {
    /// The writer.
    pub writer: String,
    /// Why.
    pub reason: String,
}

/// Where the sequence numbers go.
#[derive(Debug)]
pub enum SequenceWriter {
    /// A CQL table.
    Cql {
        /// The session (TLS, auth).
        session: Box<Session>,
        /// The writer id (partition key).
        writer: String,
        /// Write and read consistency.
        consistency: Consistency,
    },
    /// Graph vertices.
    Graph {
        /// The client.
        client: Box<GremlinClient>,
        /// The writer id (property).
        writer: String,
    },
}

/// The CQL schema of the ledger (replication given by the caller).
pub fn cql_schema(replication_factor: u8) -> [String; 2] {
    [
        format!(
            "CREATE KEYSPACE IF NOT EXISTS stackdrill WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': {replication_factor}}}"
        ),
        "CREATE TABLE IF NOT EXISTS stackdrill.ledger (writer text, seq bigint, payload text, PRIMARY KEY (writer, seq))"
            .to_owned(),
    ]
}

impl SequenceWriter {
    /// The writer's id.
    pub fn writer(&self) -> &str {
        match self {
            SequenceWriter::Cql { writer, .. } | SequenceWriter::Graph { writer, .. } => writer,
        }
    }

    /// Writes `seq` once, with no retry, and classifies the outcome.
    pub async fn write(&self, seq: u64, timeout: Duration) -> WriteOutcome {
        match self {
            SequenceWriter::Cql {
                session,
                writer,
                consistency,
            } => {
                let mut st = Statement::new(
                    "INSERT INTO stackdrill.ledger (writer, seq, payload) VALUES (?, ?, ?)",
                );
                st.set_consistency(*consistency);
                st.set_request_timeout(Some(timeout));
                st.set_is_idempotent(false);
                let payload = format!("{writer}:{seq}");
                match session
                    .query_unpaged(st, (writer.as_str(), seq as i64, payload))
                    .await
                {
                    Ok(_) => WriteOutcome::Ok,
                    Err(e) => classify_cql(&e),
                }
            }
            SequenceWriter::Graph { client, writer } => {
                let res = client
                    .submit(
                        "g.addV('ledger').property('writer', w).property('seq', s).id()",
                        json!({"w": writer, "s": seq}),
                    )
                    .await;
                match res {
                    Ok(_) => WriteOutcome::Ok,
                    Err(e) => classify_gremlin(&e),
                }
            }
        }
    }

    /// Every sequence number stored for this writer, duplicates included.
    pub async fn read_back(&self) -> Result<Vec<u64>, ReadBackError> {
        let err = |reason: String| ReadBackError {
            writer: self.writer().to_owned(),
            reason,
        };
        match self {
            SequenceWriter::Cql {
                session,
                writer,
                consistency,
            } => {
                use futures_util::TryStreamExt;
                let mut st = Statement::new("SELECT seq FROM stackdrill.ledger WHERE writer = ?");
                st.set_consistency(*consistency);
                st.set_page_size(5000);
                let pager = session
                    .query_iter(st, (writer.as_str(),))
                    .await
                    .map_err(|e| err(e.to_string()))?;
                let rows: Vec<(i64,)> = pager
                    .rows_stream::<(i64,)>()
                    .map_err(|e| err(e.to_string()))?
                    .try_collect()
                    .await
                    .map_err(|e| err(e.to_string()))?;
                Ok(rows.into_iter().map(|(s,)| s as u64).collect())
            }
            SequenceWriter::Graph { client, writer } => {
                let vals = client
                    .submit(
                        "g.V().hasLabel('ledger').has('writer', w).values('seq')",
                        json!({"w": writer}),
                    )
                    .await
                    .map_err(|e| err(e.to_string()))?;
                vals.iter()
                    .map(|v| v.as_u64().ok_or_else(|| err(format!("not a number: {v}"))))
                    .collect()
            }
        }
    }
}

/// Classifies a CQL failure: only errors that prove the coordinator did not apply the write are
/// `Fail`; timeouts and broken connections after sending are `Indeterminate`.
pub fn classify_cql(e: &ExecutionError) -> WriteOutcome {
    use scylla::errors::DbError;
    let text = crate::workload::error_chain(e);
    match e {
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(
            DbError::Unavailable { .. }
            | DbError::Overloaded
            | DbError::IsBootstrapping
            | DbError::SyntaxError
            | DbError::Invalid
            | DbError::Unauthorized
            | DbError::AuthenticationError
            | DbError::ConfigError
            | DbError::AlreadyExists { .. },
            _,
        )) => WriteOutcome::Fail(text),
        ExecutionError::ConnectionPoolError(_) | ExecutionError::EmptyPlan => {
            WriteOutcome::Fail(text)
        }
        _ => WriteOutcome::Indeterminate(text),
    }
}

fn classify_gremlin(e: &GremlinError) -> WriteOutcome {
    if e.is_definite() {
        WriteOutcome::Fail(e.to_string())
    } else {
        WriteOutcome::Indeterminate(e.to_string())
    }
}
