//! Certificate rollover on a running stack ([`CertInstalled`]), as an operator would do it: a new
//! certificate from the run's CA replaces the component's files in place, then the component is
//! made to load it the way it supports (HCD: `nodetool reloadssl`, which reloads the PEM files of
//! the client and internode listeners; Vault: SIGHUP; JanusGraph: a restart, because Gremlin
//! Server reads its PKCS#12 keystore once; Prometheus and Alertmanager: nothing, their web
//! configuration is read again on every handshake). The rollover is confirmed only when a
//! handshake shows the new certificate's serial on the component's main port.
//!
//! The JMX exporter agents read their keystore when the JVM starts: on HCD their port keeps the
//! old certificate until the node restarts, and [`CertInstalled::metrics_reloaded`] says so.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::{RunningStack, StackError, wait_for};
use crate::pki::Validity;
use crate::probe::tls::handshake_at;
use crate::stack::Component;

/// What installing a certificate on one component did.
#[derive(Debug, Clone)]
pub struct CertInstalled {
    /// The component (`hcd-1`, `janusgraph`, …).
    pub component: String,
    /// The serial (hex) the component presented before, when a handshake could tell.
    pub old_serial: Option<String>,
    /// The new certificate's serial (hex), as the component now presents it.
    pub serial: String,
    /// The new certificate's end of validity (Unix seconds).
    pub not_after: i64,
    /// How the component was made to load it.
    pub how: &'static str,
    /// Whether the JMX exporter's port serves the new certificate too.
    pub metrics_reloaded: bool,
    /// Files written to the new certificate served.
    pub took: Duration,
}

/// The IP SANs every certificate of the run carries: each HCD node's loopback address (the
/// other services listen on the first).
pub(super) fn certificate_ips(hcd_nodes: u8) -> Vec<IpAddr> {
    (1..=hcd_nodes.max(1))
        .map(|n| IpAddr::from([127, 0, 0, n]))
        .collect()
}

impl RunningStack {
    /// Issues a certificate for `name` valid for `validity` from the run's CA, makes the
    /// component load it, and confirms it is served. On HCD this keeps every session open
    /// (only new handshakes see the new certificate); JanusGraph restarts.
    pub async fn install_certificate(
        &mut self,
        name: &str,
        validity: Validity,
    ) -> Result<CertInstalled, StackError> {
        let t = Instant::now();
        let procedure = "certificate installation";
        let failed = |reason: String| StackError::Procedure {
            component: name.to_owned(),
            procedure,
            reason,
        };
        let component = Component::from_name(name)
            .filter(|c| self.services.contains_key(&c.name()))
            .ok_or_else(|| failed("no such component in this stack".into()))?;
        let (ip, port) = self
            .main_endpoint(name)
            .ok_or_else(|| failed("it has no TLS endpoint".into()))?;
        let addr = SocketAddr::new(ip, port);
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let old_serial = handshake_at(addr, &self.ca_pem, now)
            .await
            .ok()
            .map(|f| f.serial);

        self.pki.issue(
            name,
            &certificate_ips(self.config.hcd_nodes),
            validity,
            &self.tls_dir(component),
            self.secrets.keystore_password.expose(),
        )?;
        let (how, metrics_reloaded) = match component {
            Component::Hcd(_) => {
                let svc = self.require_service(name)?;
                let (code, out, err) = svc.exec(&["nodetool", "reloadssl"]).await?;
                if code != 0 {
                    return Err(failed(format!(
                        "`nodetool reloadssl` exited with {code}: {}",
                        if err.trim().is_empty() { out } else { err }.trim()
                    )));
                }
                ("nodetool reloadssl", false)
            }
            Component::Vault => {
                let id = self.require_service(name)?.id().to_owned();
                self.engine
                    .signal(&id, "SIGHUP")
                    .await
                    .map_err(|e| failed(format!("SIGHUP: {e}")))?;
                ("SIGHUP", true)
            }
            Component::Janusgraph => {
                self.restart(name).await?;
                ("restart", true)
            }
            Component::Prometheus
            | Component::Alertmanager
            | Component::Blackbox
            | Component::NodeExporter => ("none (read on every handshake)", true),
        };
        let want_not_after = (OffsetDateTime::now_utc() + validity.not_after).unix_timestamp();
        // Judged as at issue time, so a certificate that expires within seconds still confirms.
        let facts = wait_for(
            name,
            "new certificate served",
            Duration::from_secs(60),
            || async {
                let f = handshake_at(addr, &self.ca_pem, now)
                    .await
                    .map_err(|e| e.to_string())?;
                if Some(&f.serial) == old_serial.as_ref() {
                    return Err(format!("{addr} still serves serial {}", f.serial));
                }
                // Another new certificate (not ours) would end within a second of ours only by
                // chance; the serial check above is the real one.
                if (f.not_after - want_not_after).abs() > 120 {
                    return Err(format!(
                        "{addr} serves a certificate ending at {}, not the one just issued",
                        f.not_after
                    ));
                }
                Ok(f)
            },
        )
        .await?;
        Ok(CertInstalled {
            component: name.to_owned(),
            old_serial,
            serial: facts.serial,
            not_after: facts.not_after,
            how,
            metrics_reloaded,
            took: t.elapsed(),
        })
    }
}
