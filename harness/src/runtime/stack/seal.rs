//! Sealing and unsealing Vault on a running stack: the `seal` fault (`sys/seal` with the root
//! token, as an operator responding to an intrusion would) and its heal (the run's unseal key,
//! as the operator on call would), each confirmed through `sys/health`.

use std::time::{Duration, Instant};

use super::{RunningStack, StackError, wait_for};

impl RunningStack {
    /// Seals Vault and confirms it: `sys/health` reports `sealed`.
    pub async fn seal_vault(&self) -> Result<(), StackError> {
        let v = self.vault.clone();
        v.seal(&self.secrets.root_token)
            .await
            .map_err(StackError::Vault)?;
        wait_for("vault", "sealed state", Duration::from_secs(15), || async {
            let h = v.health().await.map_err(|e| e.to_string())?;
            if h["sealed"] == true {
                Ok(())
            } else {
                Err(format!("health: {h}"))
            }
        })
        .await
    }

    /// Unseals Vault with the run's key and waits until it is active again (unsealed and the
    /// raft leader). Returns how long that took.
    pub async fn unseal_vault(&self) -> Result<Duration, StackError> {
        let t = Instant::now();
        let v = self.vault.clone();
        if v.unseal(&self.secrets.unseal_key)
            .await
            .map_err(StackError::Vault)?
        {
            return Err(StackError::Probe {
                component: "vault".into(),
                probe: "unseal",
                waited: t.elapsed(),
                last: "still sealed after the unseal key was given".into(),
            });
        }
        super::wait_for_vault_leader(&v).await?;
        Ok(t.elapsed())
    }
}
