//! Secrets: [`Secret`] values that never print, the process-wide [`Redactor`] that scrubs them from
//! any text the harness writes, and [`VaultClient`], the Vault HTTP API client (OpenBao here; any
//! Vault-API server works) used to initialise, unseal and fill the run's secrets server.
//!
//! The harness generates every password of a run, writes it to Vault, and hands services only a
//! Vault token scoped by policy to their own path. Nothing here logs a secret value.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use rand::distr::{Alphanumeric, SampleString};
use serde_json::{Value, json};

/// A generated secret. `Debug` and `Display` print `«redacted»`; `expose` is explicit.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A new random alphanumeric secret of `len` characters, registered with the [`Redactor`].
    pub fn generate(len: usize) -> Self {
        let s = Self(Alphanumeric.sample_string(&mut rand::rng(), len));
        Redactor::global().register(&s.0);
        s
    }

    /// Wraps a secret obtained elsewhere (a Vault token, an unseal key) and registers it.
    pub fn from_string(value: String) -> Self {
        Redactor::global().register(&value);
        Self(value)
    }

    /// A value stored beside secrets that is not itself secret (a user name): not registered
    /// with the redactor, so ordinary text that contains it stays readable.
    pub fn public(value: &str) -> Self {
        Self(value.to_owned())
    }

    /// The value, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("«redacted»")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("«redacted»")
    }
}

/// Replaces every registered secret in text with `«redacted»`.
#[derive(Debug, Default)]
pub struct Redactor {
    secrets: Mutex<BTreeSet<String>>,
}

impl Redactor {
    /// The process-wide redactor every [`Secret`] registers with.
    pub fn global() -> &'static Redactor {
        static GLOBAL: OnceLock<Redactor> = OnceLock::new();
        GLOBAL.get_or_init(Redactor::default)
    }

    /// Adds a value to redact. Values shorter than 8 characters are refused: they would redact
    /// ordinary words.
    pub fn register(&self, value: &str) {
        if value.len() >= 8 {
            self.secrets
                .lock()
                .expect("redactor lock poisoned")
                .insert(value.to_owned());
        }
    }

    /// Every registered value (for canary scans).
    pub fn values(&self) -> Vec<String> {
        self.secrets
            .lock()
            .expect("redactor lock poisoned")
            .iter()
            .cloned()
            .collect()
    }

    /// `text` with every registered value replaced.
    pub fn redact(&self, text: &str) -> String {
        let secrets = self.secrets.lock().expect("redactor lock poisoned");
        let mut out = text.to_owned();
        // Longest first, so a secret containing another is replaced whole.
        let mut sorted: Vec<&String> = secrets.iter().collect();
        sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for s in sorted {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "«redacted»");
            }
        }
        out
    }
}

/// A failure talking to Vault.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The request did not complete (connection refused, TLS failure, timeout).
    #[error("failed to reach Vault at {addr} ({what})")]
    Transport {
        addr: String,
        what: String,
        #[source]
        source: reqwest::Error,
    },
    /// Vault answered with an error status.
    #[error("Vault refused {what}: HTTP {status}: {errors}")]
    Status {
        what: String,
        status: u16,
        errors: String,
    },
    /// The answer lacked a field.
    #[error("Vault's answer to {what} lacks {field}")]
    Shape { what: String, field: String },
    /// Building the client failed.
    #[error("failed to build the Vault client")]
    Client(#[source] reqwest::Error),
}

/// The keys produced by `sys/init`.
#[derive(Debug)]
pub struct InitKeys {
    /// The single unseal key (one share, threshold one: a test stack).
    pub unseal_key: Secret,
    /// The initial root token.
    pub root_token: Secret,
}

/// A Vault HTTP API client over TLS with the run's CA.
#[derive(Debug, Clone)]
pub struct VaultClient {
    addr: String,
    http: reqwest::Client,
}

impl VaultClient {
    /// A client for `addr` (`https://127.0.0.1:PORT`) trusting only `ca_pem`.
    pub fn new(addr: &str, ca_pem: &str) -> Result<Self, VaultError> {
        crate::tls::install_provider();
        let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).map_err(VaultError::Client)?;
        let http = reqwest::Client::builder()
            .tls_certs_only([ca])
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(VaultError::Client)?;
        Ok(Self {
            addr: addr.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// The server address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&Secret>,
        body: Option<Value>,
        what: &str,
    ) -> Result<Value, VaultError> {
        // Initialising and unsealing set up the raft storage and generate keys: on a loaded
        // two-core machine they were seen to take over 10 s.
        let limit = if path == "sys/init" || path == "sys/unseal" {
            Duration::from_secs(90)
        } else {
            Duration::from_secs(10)
        };
        let mut req = self
            .http
            .request(method, format!("{}/v1/{}", self.addr, path))
            .timeout(limit);
        if let Some(t) = token {
            req = req.header("X-Vault-Token", t.expose());
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|source| VaultError::Transport {
            addr: self.addr.clone(),
            what: what.to_owned(),
            source,
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            let errors = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("errors").map(|e| e.to_string()))
                .unwrap_or(text);
            return Err(VaultError::Status {
                what: what.to_owned(),
                status: status.as_u16(),
                errors: Redactor::global().redact(&errors),
            });
        }
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        })
    }

    /// `GET sys/health` as JSON (answers with a body even when sealed: status 503 is not an
    /// error here).
    pub async fn health(&self) -> Result<Value, VaultError> {
        let resp = self
            .http
            .get(format!(
                "{}/v1/sys/health?sealedcode=200&uninitcode=200&standbyok=true",
                self.addr
            ))
            .send()
            .await
            .map_err(|source| VaultError::Transport {
                addr: self.addr.clone(),
                what: "health".into(),
                source,
            })?;
        resp.json().await.map_err(|source| VaultError::Transport {
            addr: self.addr.clone(),
            what: "health (body)".into(),
            source,
        })
    }

    /// Initialises with a single key share.
    pub async fn init(&self) -> Result<InitKeys, VaultError> {
        let v = self
            .call(
                reqwest::Method::PUT,
                "sys/init",
                None,
                Some(json!({"secret_shares": 1, "secret_threshold": 1})),
                "init",
            )
            .await?;
        let field = |f: &str| VaultError::Shape {
            what: "init".into(),
            field: f.into(),
        };
        let key = v["keys"][0].as_str().ok_or_else(|| field("keys[0]"))?;
        let root = v["root_token"]
            .as_str()
            .ok_or_else(|| field("root_token"))?;
        Ok(InitKeys {
            unseal_key: Secret::from_string(key.to_owned()),
            root_token: Secret::from_string(root.to_owned()),
        })
    }

    /// Unseals with `key`; returns whether Vault is still sealed.
    pub async fn unseal(&self, key: &Secret) -> Result<bool, VaultError> {
        let v = self
            .call(
                reqwest::Method::PUT,
                "sys/unseal",
                None,
                Some(json!({"key": key.expose()})),
                "unseal",
            )
            .await?;
        Ok(v["sealed"].as_bool().unwrap_or(true))
    }

    /// Seals Vault (a fault: every secret read fails until unsealed).
    pub async fn seal(&self, token: &Secret) -> Result<(), VaultError> {
        self.call(reqwest::Method::PUT, "sys/seal", Some(token), None, "seal")
            .await
            .map(drop)
    }

    /// Mounts a KV version 2 engine at `path`.
    pub async fn mount_kv2(&self, token: &Secret, path: &str) -> Result<(), VaultError> {
        self.call(
            reqwest::Method::POST,
            &format!("sys/mounts/{path}"),
            Some(token),
            Some(json!({"type": "kv", "options": {"version": "2"}})),
            &format!("mounting kv-v2 at {path}"),
        )
        .await
        .map(drop)
    }

    /// Writes a KV v2 secret (`mount`/`name`) holding `data`; returns its new version.
    pub async fn kv_put(
        &self,
        token: &Secret,
        mount: &str,
        name: &str,
        data: &[(&str, &Secret)],
    ) -> Result<u64, VaultError> {
        let map: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String(v.expose().to_owned())))
            .collect();
        let v = self
            .call(
                reqwest::Method::POST,
                &format!("{mount}/data/{name}"),
                Some(token),
                Some(json!({ "data": map })),
                &format!("writing {mount}/{name}"),
            )
            .await?;
        v["data"]["version"]
            .as_u64()
            .ok_or_else(|| VaultError::Shape {
                what: format!("writing {mount}/{name}"),
                field: "data.version".into(),
            })
    }

    /// Vault's whole answer to a KV v2 read of `mount/name`.
    async fn kv_read(&self, token: &Secret, mount: &str, name: &str) -> Result<Value, VaultError> {
        self.call(
            reqwest::Method::GET,
            &format!("{mount}/data/{name}"),
            Some(token),
            None,
            &format!("reading {mount}/{name}"),
        )
        .await
    }

    /// Reads one key of a KV v2 secret.
    pub async fn kv_get(
        &self,
        token: &Secret,
        mount: &str,
        name: &str,
        key: &str,
    ) -> Result<Secret, VaultError> {
        let v = self.kv_read(token, mount, name).await?;
        v["data"]["data"][key]
            .as_str()
            .map(|s| Secret::from_string(s.to_owned()))
            .ok_or_else(|| VaultError::Shape {
                what: format!("reading {mount}/{name}"),
                field: format!("data.data.{key}"),
            })
    }

    /// Reads `mount/name` with `token` and returns how many fields it holds, without keeping any
    /// value (an access check: the values stay in Vault, so nothing is registered or logged).
    pub async fn kv_field_count(
        &self,
        token: &Secret,
        mount: &str,
        name: &str,
    ) -> Result<usize, VaultError> {
        let v = self.kv_read(token, mount, name).await?;
        v["data"]["data"]
            .as_object()
            .map(|m| m.len())
            .ok_or_else(|| VaultError::Shape {
                what: format!("reading {mount}/{name}"),
                field: "data.data".into(),
            })
    }

    /// Writes an ACL policy.
    pub async fn put_policy(
        &self,
        token: &Secret,
        name: &str,
        hcl: &str,
    ) -> Result<(), VaultError> {
        self.call(
            reqwest::Method::PUT,
            &format!("sys/policies/acl/{name}"),
            Some(token),
            Some(json!({ "policy": hcl })),
            &format!("writing policy {name}"),
        )
        .await
        .map(drop)
    }

    /// Creates a token holding only `policies`, valid for `ttl` (e.g. "24h").
    pub async fn create_token(
        &self,
        token: &Secret,
        policies: &[&str],
        ttl: &str,
    ) -> Result<Secret, VaultError> {
        let v = self
            .call(
                reqwest::Method::POST,
                "auth/token/create",
                Some(token),
                Some(json!({ "policies": policies, "ttl": ttl, "no_default_policy": true })),
                "creating a token",
            )
            .await?;
        v["auth"]["client_token"]
            .as_str()
            .map(|s| Secret::from_string(s.to_owned()))
            .ok_or_else(|| VaultError::Shape {
                what: "creating a token".into(),
                field: "auth.client_token".into(),
            })
    }

    /// A raft snapshot of the whole Vault state (`GET sys/storage/raft/snapshot`).
    pub async fn raft_snapshot(&self, token: &Secret) -> Result<Vec<u8>, VaultError> {
        let what = "taking a raft snapshot";
        let resp = self
            .http
            .get(format!("{}/v1/sys/storage/raft/snapshot", self.addr))
            .header("X-Vault-Token", token.expose())
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .map_err(|source| VaultError::Transport {
                addr: self.addr.clone(),
                what: what.into(),
                source,
            })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|source| VaultError::Transport {
            addr: self.addr.clone(),
            what: what.into(),
            source,
        })?;
        if !status.is_success() {
            return Err(VaultError::Status {
                what: what.into(),
                status: status.as_u16(),
                errors: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        Ok(bytes.to_vec())
    }

    /// `auth/token/lookup-self` with `token`: its metadata, or Vault's refusal.
    pub async fn lookup_self(&self, token: &Secret) -> Result<Value, VaultError> {
        self.call(
            reqwest::Method::GET,
            "auth/token/lookup-self",
            Some(token),
            None,
            "looking up a token",
        )
        .await
    }

    /// Permanently destroys versions of a KV v2 secret.
    pub async fn kv_destroy(
        &self,
        token: &Secret,
        mount: &str,
        name: &str,
        versions: &[u64],
    ) -> Result<(), VaultError> {
        self.call(
            reqwest::Method::PUT,
            &format!("{mount}/destroy/{name}"),
            Some(token),
            Some(json!({ "versions": versions })),
            &format!("destroying versions of {mount}/{name}"),
        )
        .await
        .map(drop)
    }

    /// The data of one version of a KV v2 secret; `None` when it was deleted or destroyed.
    pub async fn kv_read_version(
        &self,
        token: &Secret,
        mount: &str,
        name: &str,
        version: u64,
    ) -> Result<Option<Value>, VaultError> {
        match self
            .call(
                reqwest::Method::GET,
                &format!("{mount}/data/{name}?version={version}"),
                Some(token),
                None,
                &format!("reading {mount}/{name} version {version}"),
            )
            .await
        {
            Ok(v) if v["data"]["data"].is_object() => Ok(Some(v["data"]["data"].clone())),
            Ok(_) => Ok(None),
            // A destroyed version answers 404 with its metadata.
            Err(VaultError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Revokes a token (and its children).
    pub async fn revoke_token(&self, admin: &Secret, token: &Secret) -> Result<(), VaultError> {
        self.call(
            reqwest::Method::POST,
            "auth/token/revoke",
            Some(admin),
            Some(json!({ "token": token.expose() })),
            "revoking a token",
        )
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::generate(24);
        assert_eq!(s.expose().len(), 24);
        assert_eq!(format!("{s} {s:?}"), "«redacted» «redacted»");
        let text = format!("password={} ok", s.expose());
        assert_eq!(Redactor::global().redact(&text), "password=«redacted» ok");
    }

    #[test]
    fn short_values_are_not_registered() {
        let r = Redactor::default();
        r.register("abc");
        r.register("long-enough-secret");
        assert_eq!(r.redact("abc long-enough-secret"), "abc «redacted»");
    }
}
