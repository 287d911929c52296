//! Clients of the stack under test, returning outcomes the history can classify: [`gremlin`]
//! (Gremlin Server over wss with SASL), [`cql`] (Cassandra over TLS with password auth).
//! Clients never retry an indeterminate write silently.

pub mod banking;
pub mod cql;
pub mod gremlin;
pub mod ledger;
pub mod schedule;

/// An error and its sources, joined with ": " (for messages that cross a process boundary).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}
