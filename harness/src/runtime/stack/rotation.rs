//! Secret rotation and revocation on a running stack, as an operator would do them: the new value
//! goes to Vault first (a new KV v2 version), then to Cassandra, then the service that renders its
//! configuration from Vault restarts; a revoked Vault token makes that render fail with Vault's
//! own error.

use std::time::{Duration, Instant};

use super::{HCD_ADMIN_ROLE, JANUSGRAPH_CQL_ROLE, KV_MOUNT, RunningStack, StackError};
use crate::secrets::{Secret, VaultError};
use crate::workload::cql;

/// What a rotation of JanusGraph's CQL password did.
#[derive(Debug)]
pub struct Rotation {
    /// The KV v2 version now holding the new password.
    pub version: u64,
    /// The password before the rotation (for the "old password is rejected" check).
    pub previous: Secret,
    /// Vault write plus `ALTER ROLE`.
    pub change: Duration,
    /// JanusGraph stop to ready with the new password.
    pub restart: Duration,
}

/// What a revocation of a service's Vault token did.
#[derive(Debug)]
pub struct Revocation {
    /// Vault's answer to the revoked token (confirmation that it no longer works).
    pub vault_answer: String,
    /// How the service's restart failed: the first lines of its error.
    pub service_error: String,
}

impl RunningStack {
    /// The password of JanusGraph's Cassandra role, as held now.
    pub fn janusgraph_cql_password(&self) -> &Secret {
        &self.secrets.janusgraph_cql_password
    }

    /// The fields of JanusGraph's secret in Vault (`secret/janusgraph`).
    fn janusgraph_secret(&self) -> Vec<(&'static str, Secret)> {
        let s = &self.secrets;
        vec![
            ("cql_username", Secret::public(JANUSGRAPH_CQL_ROLE)),
            ("cql_password", s.janusgraph_cql_password.clone()),
            ("gremlin_username", Secret::public(super::GREMLIN_USER)),
            ("gremlin_password", s.gremlin_password.clone()),
            ("keystore_password", s.keystore_password.clone()),
        ]
    }

    /// Writes JanusGraph's secret to Vault; returns the new KV v2 version.
    pub(super) async fn put_janusgraph_secret(&self) -> Result<u64, VaultError> {
        let fields = self.janusgraph_secret();
        let refs: Vec<(&str, &Secret)> = fields.iter().map(|(k, v)| (*k, v)).collect();
        self.vault
            .kv_put(&self.secrets.root_token, KV_MOUNT, "janusgraph", &refs)
            .await
    }

    /// Rotates the password JanusGraph uses for Cassandra: a new random value is written to
    /// Vault (a new KV v2 version), set on the role with `ALTER ROLE`, and JanusGraph restarts so
    /// that it renders its configuration from Vault again. Sessions JanusGraph opened before keep
    /// working until the restart; new logins with the old password fail from the `ALTER ROLE` on.
    pub async fn rotate_janusgraph_cql_password(&mut self) -> Result<Rotation, StackError> {
        let t = Instant::now();
        let new = Secret::generate(32);
        let previous = std::mem::replace(&mut self.secrets.janusgraph_cql_password, new);
        let version = match self.put_janusgraph_secret().await {
            Ok(v) => v,
            Err(e) => {
                // Nothing changed anywhere: keep the old value.
                self.secrets.janusgraph_cql_password = previous;
                return Err(StackError::Vault(e));
            }
        };
        let admin = self.admin_session().await?;
        if let Err(e) = admin
            .query_unpaged(
                format!(
                    "ALTER ROLE {JANUSGRAPH_CQL_ROLE} WITH PASSWORD = '{}'",
                    self.secrets.janusgraph_cql_password.expose()
                ),
                &[],
            )
            .await
        {
            // Vault holds the new value but Cassandra the old: put the old one back in Vault
            // (a newer version), so that the two agree again.
            let failed = std::mem::replace(&mut self.secrets.janusgraph_cql_password, previous);
            let _ = self.put_janusgraph_secret().await;
            drop(failed);
            return Err(StackError::Cql {
                what: format!("failed to change the password of role {JANUSGRAPH_CQL_ROLE}"),
                source: anyhow::Error::new(e),
            });
        }
        let change = t.elapsed();
        let restart = self.restart("janusgraph").await?;
        Ok(Rotation {
            version,
            previous,
            change,
            restart,
        })
    }

    /// Logs in to Cassandra as JanusGraph's role with `password`: `Ok(true)` logged in,
    /// `Ok(false)` the credentials were rejected, `Err` no verdict (the node did not answer).
    pub async fn try_janusgraph_login(&self, password: &Secret) -> Result<bool, String> {
        login_verdict(
            cql::connect(
                &self.cql_node(),
                JANUSGRAPH_CQL_ROLE,
                password,
                &self.ca_pem,
                Duration::from_secs(10),
            )
            .await
            .map(drop),
        )
    }

    /// Revokes the Vault token a service (`janusgraph`) renders its configuration with, confirms
    /// Vault refuses it, then restarts the service and confirms the restart fails with Vault's
    /// refusal. The service is left stopped; [`RunningStack::reissue_service_token`] heals.
    pub async fn revoke_service_token(&mut self, service: &str) -> Result<Revocation, StackError> {
        if service != "janusgraph" {
            return Err(StackError::Procedure {
                component: service.into(),
                procedure: "token revocation",
                reason: "only JanusGraph renders its configuration from Vault at start".into(),
            });
        }
        let path = self
            .config
            .run_dir
            .join("secrets")
            .join(format!("{service}.token"));
        let token = Secret::from_string(
            std::fs::read_to_string(&path)
                .map_err(super::io_err(&path))?
                .trim()
                .to_owned(),
        );
        self.vault
            .revoke_token(&self.secrets.root_token, &token)
            .await
            .map_err(StackError::Vault)?;
        let vault_answer = match self.vault.lookup_self(&token).await {
            Ok(_) => {
                return Err(StackError::Procedure {
                    component: "vault".into(),
                    procedure: "token revocation",
                    reason: "the revoked token still authenticates".into(),
                });
            }
            Err(e) => crate::errors::render_chain(&e),
        };
        let service_error = match self.restart(service).await {
            Ok(_) => {
                return Err(StackError::Procedure {
                    component: service.into(),
                    procedure: "restart with a revoked token",
                    reason: "the service started although its Vault token was revoked".into(),
                });
            }
            Err(e) => crate::errors::render_chain(&e),
        };
        if !service_error.contains("permission denied") {
            return Err(StackError::Procedure {
                component: service.into(),
                procedure: "restart with a revoked token",
                reason: format!("it failed, but not with Vault's refusal: {service_error}"),
            });
        }
        Ok(Revocation {
            vault_answer,
            service_error,
        })
    }

    /// Issues a new token for a service (same policy, as at start), writes it where the service
    /// reads it and restarts the service. Returns the restart time.
    pub async fn reissue_service_token(&mut self, service: &str) -> Result<Duration, StackError> {
        let token = self
            .vault
            .create_token(
                &self.secrets.root_token,
                &[&format!("{service}-read")],
                "720h",
            )
            .await
            .map_err(StackError::Vault)?;
        self.write_token(service, &token)?;
        self.restart(service).await
    }

    /// Permanently destroys versions of a KV v2 secret (`mount`/`name`), as after a rotation,
    /// and confirms they no longer read.
    pub async fn destroy_secret_versions(
        &self,
        mount: &str,
        name: &str,
        versions: &[u64],
    ) -> Result<(), StackError> {
        let root = &self.secrets.root_token;
        self.vault
            .kv_destroy(root, mount, name, versions)
            .await
            .map_err(StackError::Vault)?;
        for v in versions {
            if self
                .vault
                .kv_read_version(root, mount, name, *v)
                .await
                .map_err(StackError::Vault)?
                .is_some()
            {
                return Err(StackError::Procedure {
                    component: "vault".into(),
                    procedure: "secret destruction",
                    reason: format!("{mount}/{name} version {v} still reads"),
                });
            }
        }
        Ok(())
    }

    /// The admin role's name (for audit checks).
    pub fn admin_role(&self) -> &'static str {
        HCD_ADMIN_ROLE
    }
}

/// Judges a login attempt: rejected credentials are a verdict, an unreachable node is not.
pub fn login_verdict(r: Result<(), cql::CqlConnectError>) -> Result<bool, String> {
    match r {
        Ok(()) => Ok(true),
        Err(e) => {
            let reason = e.reason.to_ascii_lowercase();
            if reason.contains("authentication")
                || reason.contains("incorrect")
                || reason.contains("bad credentials")
            {
                Ok(false)
            } else {
                Err(e.to_string())
            }
        }
    }
}
