//! The Docker engine connection.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::{
    KillContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};

/// Label carrying the run id on every container.
pub const LABEL_RUN: &str = "stackdrill.run";
/// Label carrying the component name.
pub const LABEL_COMPONENT: &str = "stackdrill.component";
/// Label carrying the owning process id.
pub const LABEL_PID: &str = "stackdrill.pid";
/// Label carrying the owning process's start time (clock ticks since boot), against pid reuse.
pub const LABEL_PID_START: &str = "stackdrill.pid_start";
/// Label carrying the host name of the owner.
pub const LABEL_HOST: &str = "stackdrill.host";

/// A failure to reach or use the Docker engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No engine answered.
    #[error(
        "no Docker engine is reachable at {endpoint}: {reason}\n(hint: start one with `dockerd --storage-driver=overlay2 --iptables=false --ip6tables=false --bridge=none &`, or run `bash ci/engine.sh`, which installs and starts it; or point DOCKER_HOST at a running engine)"
    )]
    Unreachable { endpoint: String, reason: String },
    /// A call failed.
    #[error("the Docker engine refused to {what}")]
    Call {
        what: String,
        #[source]
        source: testcontainers::bollard::errors::Error,
    },
}

/// A connection to the local Docker engine.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
}

/// What an orphan sweep removed.
#[derive(Debug, Default)]
pub struct OrphanSweep {
    /// Run id → number of containers removed.
    pub removed: BTreeMap<String, usize>,
}

impl Engine {
    /// Connects through `DOCKER_HOST` or the default socket, and checks that the engine answers.
    pub async fn connect() -> Result<Self, EngineError> {
        let endpoint = std::env::var("DOCKER_HOST")
            .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned());
        let docker = Docker::connect_with_defaults().map_err(|e| EngineError::Unreachable {
            endpoint: endpoint.clone(),
            reason: e.to_string(),
        })?;
        match tokio::time::timeout(Duration::from_secs(5), docker.ping()).await {
            Ok(Ok(_)) => Ok(Self { docker }),
            Ok(Err(e)) => Err(EngineError::Unreachable {
                endpoint,
                reason: e.to_string(),
            }),
            Err(_) => Err(EngineError::Unreachable {
                endpoint,
                reason: "no answer within 5 s".into(),
            }),
        }
    }

    /// The bollard client, for calls testcontainers does not wrap.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Whether an image exists locally (never pulls).
    pub async fn image_exists(&self, reference: &str) -> anyhow::Result<bool> {
        match self.docker.inspect_image(reference).await {
            Ok(_) => Ok(true),
            Err(testcontainers::bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                ..
            }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends a signal to a container's main process.
    pub async fn signal(&self, id: &str, signal: &str) -> Result<(), EngineError> {
        self.docker
            .kill_container(
                id,
                Some(
                    KillContainerOptionsBuilder::default()
                        .signal(signal)
                        .build(),
                ),
            )
            .await
            .map_err(|source| EngineError::Call {
                what: format!("send {signal} to container {id}"),
                source,
            })
    }

    /// Containers carrying `label` (optionally with a value): id → labels.
    pub async fn containers_labelled(
        &self,
        label: &str,
    ) -> Result<Vec<(String, HashMap<String, String>)>, EngineError> {
        let filters: HashMap<&str, Vec<&str>> = HashMap::from([("label", vec![label])]);
        let list = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(|source| EngineError::Call {
                what: "list containers".into(),
                source,
            })?;
        Ok(list
            .into_iter()
            .filter_map(|c| Some((c.id?, c.labels.unwrap_or_default())))
            .collect())
    }

    /// Force-removes a container and its anonymous volumes (gone already is fine).
    pub async fn remove(&self, id: &str) -> Result<(), EngineError> {
        match self
            .docker
            .remove_container(
                id,
                Some(
                    RemoveContainerOptionsBuilder::default()
                        .force(true)
                        .v(true)
                        .build(),
                ),
            )
            .await
        {
            Ok(())
            | Err(testcontainers::bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                ..
            }) => Ok(()),
            Err(source) => Err(EngineError::Call {
                what: format!("remove container {id}"),
                source,
            }),
        }
    }

    /// Removes every container of `run_id`; returns how many.
    pub async fn remove_run(&self, run_id: &str) -> Result<usize, EngineError> {
        let list = self
            .containers_labelled(&format!("{LABEL_RUN}={run_id}"))
            .await?;
        for (id, _) in &list {
            self.remove(id).await?;
        }
        Ok(list.len())
    }

    /// Removes the containers of runs whose owning process on this host is gone (a harness killed
    /// with SIGKILL cannot clean up after itself).
    pub async fn sweep_orphans(&self) -> Result<OrphanSweep, EngineError> {
        let host = hostname();
        let mut sweep = OrphanSweep::default();
        for (id, labels) in self.containers_labelled(LABEL_RUN).await? {
            let owner_alive = labels.get(LABEL_HOST) != Some(&host)
                || owner_is_alive(
                    labels.get(LABEL_PID).and_then(|p| p.parse().ok()),
                    labels.get(LABEL_PID_START).map(String::as_str),
                );
            if owner_alive {
                continue;
            }
            self.remove(&id).await?;
            let run = labels.get(LABEL_RUN).cloned().unwrap_or_default();
            *sweep.removed.entry(run).or_default() += 1;
        }
        Ok(sweep)
    }
}

/// The labels that identify this process as the owner of a run's containers.
pub fn owner_labels(run_id: &str, component: &str) -> Vec<(String, String)> {
    let pid = std::process::id();
    vec![
        (LABEL_RUN.into(), run_id.into()),
        (LABEL_COMPONENT.into(), component.into()),
        (LABEL_PID.into(), pid.to_string()),
        (
            LABEL_PID_START.into(),
            process_start(pid).unwrap_or_default(),
        ),
        (LABEL_HOST.into(), hostname()),
    ]
}

/// This host's name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// The start time of a live process (field 22 of /proc/PID/stat); `None` when the process is gone
/// or a zombie (a killed harness whose parent has not reaped it yet).
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after the last ')' are plain.
    let mut rest = stat[stat.rfind(')')? + 2..].split_whitespace();
    let state = rest.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    rest.nth(18).map(str::to_owned)
}

fn owner_is_alive(pid: Option<u32>, start: Option<&str>) -> bool {
    let Some(pid) = pid else { return false };
    match process_start(pid) {
        None => false,
        Some(now) => start.is_none_or(|s| s.is_empty() || s == now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_bogus_one_is_not() {
        let me = std::process::id();
        let start = process_start(me).expect("our own /proc entry");
        assert!(owner_is_alive(Some(me), Some(&start)));
        assert!(
            !owner_is_alive(Some(me), Some("1")),
            "pid reuse is detected"
        );
        assert!(!owner_is_alive(Some(u32::MAX - 7), None));
        assert!(!owner_is_alive(None, None));
    }
}
