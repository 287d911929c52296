//! [`connect`]: a CQL session over TLS (the run's CA, the node's IP checked against the
//! certificate's IP SANs) with password authentication, through the `scylla` driver.

use std::time::Duration;

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;

use crate::secrets::Secret;

/// A CQL connection failure.
#[derive(Debug, thiserror::Error)]
#[error("failed to open a CQL session to {node} as `{user}`: {reason}")]
pub struct CqlConnectError {
    /// `ip:port`.
    pub node: String,
    /// The role.
    pub user: String,
    /// What went wrong (the driver's error chain).
    pub reason: String,
}

/// Opens a session to `node` (`ip:port`) as `user`, trusting only `ca_pem`.
pub async fn connect(
    node: &str,
    user: &str,
    password: &Secret,
    ca_pem: &str,
    timeout: Duration,
) -> Result<Session, CqlConnectError> {
    let err = |reason: String| CqlConnectError {
        node: node.to_owned(),
        user: user.to_owned(),
        reason,
    };
    let tls = crate::tls::client_config(ca_pem).map_err(|e| err(e.to_string()))?;
    let builder = SessionBuilder::new()
        .known_node(node)
        .user(user, password.expose())
        .tls_context(Some(tls))
        .connection_timeout(timeout);
    tokio::time::timeout(timeout + Duration::from_secs(5), builder.build())
        .await
        .map_err(|_| err(format!("no session within {timeout:?}")))?
        .map_err(|e| err(crate::secrets::Redactor::global().redact(&super::error_chain(&e))))
}
