//! Audit trails: Cassandra's `FileAuditLogger` lines ([`CassandraEntry`]) and OpenBao's file
//! audit device ([`vault_trail`]). Both read the files the services write into the run folder.
//!
//! Cassandra writes one line per audited request, `user:…|host:…|source:…|port:…|timestamp:…|
//! type:…|category:…|ks:…|scope:…|operation:…` (the operation, a CQL statement, comes last and
//! may itself hold `|`). OpenBao writes one JSON object per request and per response; every
//! string value it audits is replaced by `hmac-sha256:…` unless the mount says otherwise.

use serde_json::Value;

/// One Cassandra audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CassandraEntry {
    /// The role.
    pub user: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// Statement type, e.g. `SELECT`, `UPDATE`, `LOGIN_SUCCESS`.
    pub kind: String,
    /// Category, e.g. `QUERY`, `DML`, `AUTH`.
    pub category: String,
    /// Keyspace, when the statement names one.
    pub keyspace: Option<String>,
    /// Table, when the statement names one.
    pub scope: Option<String>,
    /// The statement text.
    pub operation: String,
}

impl CassandraEntry {
    /// Parses one line of `audit.log` (a logback prefix before `user:` is skipped).
    pub fn parse(line: &str) -> Option<Self> {
        let start = line.find("user:")?;
        let mut e = CassandraEntry::default();
        let mut rest = &line[start..];
        while !rest.is_empty() {
            let (field, tail) = match rest.find('|') {
                // The operation is the last field and may contain `|`.
                Some(i) if !rest.starts_with("operation:") => (&rest[..i], &rest[i + 1..]),
                _ => (rest, ""),
            };
            let (k, v) = field.split_once(':')?;
            match k {
                "user" => e.user = v.to_owned(),
                "timestamp" => e.timestamp = v.parse().ok()?,
                "type" => e.kind = v.to_owned(),
                "category" => e.category = v.to_owned(),
                "ks" => e.keyspace = Some(v.to_owned()),
                "scope" => e.scope = Some(v.to_owned()),
                "operation" => e.operation = v.to_owned(),
                _ => {}
            }
            rest = tail;
        }
        (!e.user.is_empty()).then_some(e)
    }

    /// Whether the entry matches the filters (each `None` matches anything; `operation` matches
    /// the type or the category, case-insensitively).
    pub fn matches(
        &self,
        since_ms: i64,
        user: Option<&str>,
        keyspace: Option<&str>,
        operation: Option<&str>,
    ) -> bool {
        self.timestamp >= since_ms
            && user.is_none_or(|u| self.user == u)
            && keyspace.is_none_or(|k| self.keyspace.as_deref() == Some(k))
            && operation.is_none_or(|o| {
                self.kind.eq_ignore_ascii_case(o) || self.category.eq_ignore_ascii_case(o)
            })
    }
}

/// What OpenBao's audit log says about reads of one path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VaultTrail {
    /// Audit lines that could be parsed.
    pub entries: usize,
    /// Responses to reads of the path.
    pub reads: usize,
    /// Secret values in those responses, all of which must be HMAC'd.
    pub values: usize,
    /// Values found in clear (their keys; never the values).
    pub clear: Vec<String>,
}

/// Reads OpenBao's audit log text and summarises the responses to `read` operations on `path`
/// (a request path such as `secret/data/janusgraph`) made at or after `since` (RFC 3339 time
/// strings compare as text).
pub fn vault_trail(text: &str, path: &str, since_rfc3339: &str) -> VaultTrail {
    let mut t = VaultTrail::default();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        t.entries += 1;
        if v["type"] != "response"
            || v["request"]["path"] != path
            || v["request"]["operation"] != "read"
            || v["time"].as_str().is_none_or(|s| s < since_rfc3339)
        {
            continue;
        }
        t.reads += 1;
        if let Some(data) = v["response"]["data"]["data"].as_object() {
            for (k, val) in data {
                t.values += 1;
                if !val.as_str().is_some_and(|s| s.starts_with("hmac-sha256:")) {
                    t.clear.push(k.clone());
                }
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cassandra_lines() {
        let line = "2026-12-03 21:00:00,123 user:janusgraph|host:127.0.0.1:7000|source:/127.0.0.1|port:40000|timestamp:1700000000000|type:UPDATE|category:DML|ks:janusgraph|scope:edgestore|operation:UPDATE janusgraph.edgestore SET a='x|y' WHERE k=1;";
        let e = CassandraEntry::parse(line).unwrap();
        assert_eq!(e.user, "janusgraph");
        assert_eq!(e.timestamp, 1_700_000_000_000);
        assert_eq!(e.kind, "UPDATE");
        assert_eq!(e.category, "DML");
        assert_eq!(e.keyspace.as_deref(), Some("janusgraph"));
        assert_eq!(e.scope.as_deref(), Some("edgestore"));
        assert!(e.operation.ends_with("a='x|y' WHERE k=1;"));
        assert!(e.matches(0, Some("janusgraph"), Some("janusgraph"), Some("dml")));
        assert!(e.matches(0, None, None, Some("update")));
        assert!(!e.matches(0, Some("stackdrill_admin"), None, None));
        assert!(!e.matches(1_700_000_000_001, None, None, None));
        assert!(CassandraEntry::parse("INFO something else").is_none());
    }

    #[test]
    fn summarises_vault_reads() {
        let log = [
            r#"{"time":"2026-12-03T21:00:00Z","type":"request","request":{"path":"secret/data/janusgraph","operation":"read"}}"#,
            r#"{"time":"2026-12-03T21:00:01Z","type":"response","request":{"path":"secret/data/janusgraph","operation":"read"},"response":{"data":{"data":{"cql_password":"hmac-sha256:abc","cql_username":"hmac-sha256:def"}}}}"#,
            r#"{"time":"2026-12-03T21:00:02Z","type":"response","request":{"path":"secret/data/janusgraph","operation":"read"},"response":{"data":{"data":{"cql_password":"plain"}}}}"#,
            r#"{"time":"2026-12-03T20:00:00Z","type":"response","request":{"path":"secret/data/janusgraph","operation":"read"},"response":{"data":{"data":{"x":"old"}}}}"#,
            "not json",
        ]
        .join("\n");
        let t = vault_trail(&log, "secret/data/janusgraph", "2026-12-03T20:30:00Z");
        assert_eq!(t.entries, 4);
        assert_eq!(t.reads, 2);
        assert_eq!(t.values, 3);
        assert_eq!(t.clear, vec!["cql_password".to_owned()]);
    }
}
