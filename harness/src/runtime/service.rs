//! One running container.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use testcontainers::bollard::container::LogOutput;
use testcontainers::bollard::query_parameters::LogsOptionsBuilder;
use testcontainers::core::{ExecCommand, Mount};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};
use tokio::io::AsyncReadExt;

use super::engine::{Engine, EngineError, owner_labels};
use crate::images::ResolvedImage;

/// What to run.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// The run this container belongs to.
    pub run_id: String,
    /// The component name (`hcd-1`, `janusgraph`, …), also the container name's suffix.
    pub component: String,
    /// The image.
    pub image: ResolvedImage,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Arguments (empty: the image's default command).
    pub cmd: Vec<String>,
    /// Host folders bound at the same path inside the container.
    pub mounts: Vec<PathBuf>,
    /// A line (substring) in the container's output that means "ready".
    pub ready_line: String,
    /// Lines that mean start-up failed even if the process lingers.
    pub fail_lines: Vec<String>,
    /// How long start-up may take before the component is declared failed.
    pub startup_timeout: Duration,
    /// Where the container's output is copied.
    pub log_path: PathBuf,
    /// A memory limit in bytes, if any.
    pub memory_limit: Option<i64>,
}

/// A failure of one container.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The container could not be created or started.
    #[error("failed to start {component} from image {image}")]
    Start {
        component: String,
        image: String,
        #[source]
        source: Box<testcontainers::TestcontainersError>,
    },
    /// The container stopped before it was ready.
    #[error(
        "{component} exited before it was ready (exit code {exit_code:?})\n--- last lines of {log} ---\n{tail}"
    )]
    Exited {
        component: String,
        exit_code: Option<i64>,
        log: PathBuf,
        tail: String,
    },
    /// The process reported that it could not start.
    #[error(
        "{component} reported a fatal start-up error ({line:?})\n--- last lines of {log} ---\n{tail}"
    )]
    Fatal {
        component: String,
        line: String,
        log: PathBuf,
        tail: String,
    },
    /// Readiness did not come in time.
    #[error(
        "{component} was not ready after {waited:?} (waiting for {ready_line:?})\n--- last lines of {log} ---\n{tail}"
    )]
    NotReady {
        component: String,
        waited: Duration,
        ready_line: String,
        log: PathBuf,
        tail: String,
    },
    /// A container operation failed.
    #[error("failed to {what} {component}")]
    Op {
        what: &'static str,
        component: String,
        #[source]
        source: Box<testcontainers::TestcontainersError>,
    },
    /// An engine call failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The log file could not be written.
    #[error("failed to write the log file {path}")]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A running (or stopped, between a kill and a restart) container.
pub struct Service {
    spec: ServiceSpec,
    engine: Engine,
    container: Option<ContainerAsync<GenericImage>>,
    follower: Option<tokio::task::JoinHandle<()>>,
    /// Time from create to ready of the last (re)start.
    pub startup: Duration,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("component", &self.spec.component)
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Creates and starts the container, then waits for its ready line.
    pub async fn start(engine: &Engine, spec: ServiceSpec) -> Result<Self, ServiceError> {
        let started = Instant::now();
        let image = GenericImage::new(spec.image.repository(), spec.image.tag());
        // Only the network "host": any other name makes testcontainers create a bridge network.
        let mut req = image
            .with_network("host")
            .with_container_name(format!("sd-{}-{}", spec.run_id, spec.component))
            .with_labels(owner_labels(&spec.run_id, &spec.component))
            .with_startup_timeout(spec.startup_timeout);
        for (k, v) in &spec.env {
            req = req.with_env_var(k, v);
        }
        for m in &spec.mounts {
            let p = m.to_string_lossy().into_owned();
            req = req.with_mount(Mount::bind_mount(p.clone(), p));
        }
        if !spec.cmd.is_empty() {
            req = req.with_cmd(spec.cmd.clone());
        }
        if let Some(limit) = spec.memory_limit {
            req = req.with_host_config_modifier(move |hc| {
                hc.memory = Some(limit);
            });
        }
        if let Some(dir) = spec.log_path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| ServiceError::Log {
                path: spec.log_path.clone(),
                source,
            })?;
        }
        // A retried start appends to the same log: readiness is judged on this attempt's lines.
        let offset = std::fs::metadata(&spec.log_path).map_or(0, |m| m.len());
        let since = unix_now();
        let container = req.start().await.map_err(|source| ServiceError::Start {
            component: spec.component.clone(),
            image: spec.image.reference.clone(),
            source: Box::new(source),
        })?;
        let mut svc = Self {
            spec,
            engine: engine.clone(),
            container: Some(container),
            follower: None,
            startup: Duration::ZERO,
        };
        svc.follow_logs(since)?;
        svc.wait_ready(started, offset).await?;
        svc.startup = started.elapsed();
        Ok(svc)
    }

    /// The component name.
    pub fn component(&self) -> &str {
        &self.spec.component
    }

    /// The container id.
    pub fn id(&self) -> &str {
        self.container.as_ref().map_or("", |c| c.id())
    }

    /// Where this container's output is copied.
    pub fn log_path(&self) -> &PathBuf {
        &self.spec.log_path
    }

    fn container(&self) -> &ContainerAsync<GenericImage> {
        self.container
            .as_ref()
            .expect("the container exists until the service is removed")
    }

    fn follow_logs(&mut self, since: i64) -> Result<(), ServiceError> {
        let path = self.spec.log_path.clone();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| ServiceError::Log {
                path: path.clone(),
                source,
            })?;
        let docker = self.engine.docker().clone();
        let id = self.id().to_owned();
        if let Some(old) = self.follower.take() {
            old.abort();
        }
        self.follower = Some(tokio::spawn(async move {
            let opts = LogsOptionsBuilder::default()
                .follow(true)
                .stdout(true)
                .stderr(true)
                .since(i32::try_from(since).unwrap_or(0))
                .build();
            let mut stream = docker.logs(&id, Some(opts));
            while let Some(Ok(chunk)) = stream.next().await {
                let bytes = match chunk {
                    LogOutput::StdOut { message }
                    | LogOutput::StdErr { message }
                    | LogOutput::Console { message } => message,
                    LogOutput::StdIn { .. } => continue,
                };
                let text =
                    crate::secrets::Redactor::global().redact(&String::from_utf8_lossy(&bytes));
                if file.write_all(text.as_bytes()).is_err() {
                    break;
                }
            }
        }));
        Ok(())
    }

    /// Waits until the ready line appears in the log after byte `offset`, the container exits, or
    /// the start-up timeout passes.
    async fn wait_ready(&self, started: Instant, offset: u64) -> Result<(), ServiceError> {
        let mut last_state_check = Instant::now();
        loop {
            if let Ok(bytes) = tokio::fs::read(&self.spec.log_path).await
                && bytes.len() as u64 > offset
            {
                let text = String::from_utf8_lossy(&bytes[offset as usize..]);
                if text.contains(&self.spec.ready_line) {
                    return Ok(());
                }
                if let Some(line) = self
                    .spec
                    .fail_lines
                    .iter()
                    .find(|l| text.contains(l.as_str()))
                {
                    return Err(ServiceError::Fatal {
                        component: self.spec.component.clone(),
                        line: line.clone(),
                        log: self.spec.log_path.clone(),
                        tail: self.log_tail(40),
                    });
                }
            }
            if last_state_check.elapsed() > Duration::from_millis(500) {
                last_state_check = Instant::now();
                if !self.container().is_running().await.unwrap_or(true) {
                    // Give the follower a moment to copy the last lines.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    return Err(ServiceError::Exited {
                        component: self.spec.component.clone(),
                        exit_code: self.container().exit_code().await.ok().flatten(),
                        log: self.spec.log_path.clone(),
                        tail: self.log_tail(30),
                    });
                }
            }
            if started.elapsed() > self.spec.startup_timeout {
                return Err(ServiceError::NotReady {
                    component: self.spec.component.clone(),
                    waited: started.elapsed(),
                    ready_line: self.spec.ready_line.clone(),
                    log: self.spec.log_path.clone(),
                    tail: self.log_tail(30),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last `n` lines of the container's output.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.spec.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Kills the main process with SIGKILL (no shutdown hooks run).
    pub async fn kill(&self) -> Result<(), ServiceError> {
        self.engine.signal(self.id(), "SIGKILL").await?;
        Ok(())
    }

    /// Freezes every process of the container (cgroup freezer).
    pub async fn pause(&self) -> Result<(), ServiceError> {
        // runc gives up when a task does not reach the frozen state in time ("OCI runtime pause
        // failed: unable to freeze"; seen on a JVM busy with I/O) and thaws the cgroup again:
        // nothing is left half-frozen, so the freeze is simply tried again.
        let mut attempt = 1;
        loop {
            match self.container().pause().await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 4 && e.to_string().contains("unable to freeze") => {
                    tracing::warn!(component = %self.spec.component, attempt, "freeze did not take, retrying: {e}");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(source) => return Err(self.op_err("pause", source)),
            }
        }
    }

    /// Thaws the container.
    pub async fn unpause(&self) -> Result<(), ServiceError> {
        self.container()
            .unpause()
            .await
            .map_err(|source| self.op_err("unpause", source))
    }

    /// Whether the main process is running.
    pub async fn is_running(&self) -> bool {
        self.container().is_running().await.unwrap_or(false)
    }

    /// Stops (SIGTERM, then SIGKILL after `grace`) without removing the container.
    pub async fn stop(&self, grace: Duration) -> Result<(), ServiceError> {
        self.container()
            .stop_with_timeout(Some(i32::try_from(grace.as_secs()).unwrap_or(30)))
            .await
            .map_err(|source| self.op_err("stop", source))
    }

    /// Starts the stopped (or killed) container again and waits for its ready line.
    pub async fn restart(&mut self) -> Result<Duration, ServiceError> {
        let started = Instant::now();
        if self.is_running().await {
            self.stop(Duration::from_secs(30)).await?;
        }
        let offset = std::fs::metadata(&self.spec.log_path).map_or(0, |m| m.len());
        let since = unix_now();
        self.container()
            .start()
            .await
            .map_err(|source| self.op_err("restart", source))?;
        self.follow_logs(since)?;
        self.wait_ready(started, offset).await?;
        self.startup = started.elapsed();
        Ok(self.startup)
    }

    /// Runs a command inside the container; returns (exit code, stdout, stderr).
    pub async fn exec(&self, cmd: &[&str]) -> Result<(i64, String, String), ServiceError> {
        let mut res = self
            .container()
            .exec(ExecCommand::new(cmd.iter().map(|s| (*s).to_owned())))
            .await
            .map_err(|source| self.op_err("exec in", source))?;
        let mut out = String::new();
        let mut err = String::new();
        let _ = res.stdout().read_to_string(&mut out).await;
        let _ = res.stderr().read_to_string(&mut err).await;
        let code = res.exit_code().await.ok().flatten().unwrap_or(-1);
        Ok((code, out, err))
    }

    /// Removes the container now (dropping a `Service` removes it too).
    pub async fn remove(mut self) -> Result<(), ServiceError> {
        if let Some(f) = self.follower.take() {
            f.abort();
        }
        if let Some(c) = self.container.take() {
            c.rm().await.map_err(|source| ServiceError::Op {
                what: "remove",
                component: self.spec.component.clone(),
                source: Box::new(source),
            })?;
        }
        Ok(())
    }

    fn op_err(
        &self,
        what: &'static str,
        source: testcontainers::TestcontainersError,
    ) -> ServiceError {
        ServiceError::Op {
            what,
            component: self.spec.component.clone(),
            source: Box::new(source),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(f) = self.follower.take() {
            f.abort();
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
