//! Stack commands: `images build|list`, `up`, `down`.

use std::io::Write as _;
use std::path::PathBuf;

use crate::errors::{CliError, exit};
use crate::images::{ImageSet, project_root};
use crate::runtime::{Engine, RunningStack};
use crate::stack::{StackConfig, new_run_id};

#[derive(Debug, clap::Subcommand)]
pub enum ImagesCommand {
    /// Build the images that are missing (tags are hashes of their inputs: unchanged recipes build
    /// nothing).
    Build,
    /// List the stack's images and whether each is present.
    List,
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Cassandra nodes (1, or 3 for replication 3 with internode TLS).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    pub hcd_nodes: u8,
    /// Keep the run folder (configs, data, logs) after shutdown.
    #[arg(long)]
    pub keep_files: bool,
    /// Give HCD node 1's data folder a filesystem of its own of this many MiB (a loop-mounted
    /// ext4, as the disk-full fault uses; needs root).
    #[arg(long)]
    pub data_volume_mb: Option<u64>,
    /// Where run folders go.
    #[arg(long, env = "STACKDRILL_WORK", default_value = "/tmp/stackdrill")]
    pub work_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct DownArgs {
    /// Only this run's containers (default: every stackdrill container on this engine).
    #[arg(long)]
    pub run: Option<String>,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}

/// Connects to the engine and removes the containers of runs whose owner died, saying so.
pub(crate) async fn engine_and_sweep() -> Result<Engine, CliError> {
    let engine = Engine::connect()
        .await
        .map_err(|e| CliError::Environment(e.into()))?;
    match engine.sweep_orphans().await {
        Ok(sweep) => {
            for (run, n) in &sweep.removed {
                eprintln!(
                    "removed {n} container(s) left by run {run}, whose stackdrill process is gone"
                );
            }
        }
        Err(e) => eprintln!("warning: could not sweep orphaned containers: {e}"),
    }
    Ok(engine)
}

pub fn images(c: ImagesCommand) -> Result<u8, CliError> {
    runtime().block_on(async {
        let engine = engine_and_sweep().await?;
        let set =
            ImageSet::resolve(&project_root()).map_err(|e| CliError::BadInput(e.to_string()))?;
        match c {
            ImagesCommand::List => {
                for img in set.all() {
                    let present = engine
                        .image_exists(&img.reference)
                        .await
                        .map_err(CliError::Environment)?;
                    println!(
                        "{:<13} {:<48} {}{}",
                        img.name,
                        img.reference,
                        if present { "present" } else { "missing" },
                        if img.configured { " (configured)" } else { "" }
                    );
                }
                Ok(exit::OK)
            }
            ImagesCommand::Build => {
                let started = std::time::Instant::now();
                let mut out = std::io::stderr();
                let built = set
                    .build_missing(&engine, &mut out)
                    .await
                    .map_err(|e| CliError::Environment(e.into()))?;
                let _ = writeln!(
                    out,
                    "{} image(s) built; {:.1}s in all",
                    built.len(),
                    started.elapsed().as_secs_f64()
                );
                Ok(exit::OK)
            }
        }
    })
}

pub fn up(a: UpArgs) -> Result<u8, CliError> {
    runtime().block_on(async {
        let engine = engine_and_sweep().await?;
        let images =
            ImageSet::resolve(&project_root()).map_err(|e| CliError::BadInput(e.to_string()))?;
        // Missing images are built first; one that cannot be built stops here with its log tail.
        images
            .build_missing(&engine, &mut std::io::sink())
            .await
            .map_err(|e| CliError::Environment(e.into()))?;
        let run_id = new_run_id();
        let mut config = StackConfig::new(&run_id, &a.work_dir);
        config.hcd_nodes = a.hcd_nodes;
        config.hcd_data_volume_mb = a.data_volume_mb;
        eprintln!("run {run_id}: bringing the stack up (Ctrl-C removes everything)");
        let mut progress = |m: &str| eprintln!("  {m}");
        let stack = tokio::select! {
            r = RunningStack::up(&engine, &images, config.clone(), &mut progress) => r,
            _ = tokio::signal::ctrl_c() => {
                // Dropping the `up` future dropped every started service; sweep by label too.
                let n = engine.remove_run(&run_id).await.unwrap_or(0);
                eprintln!("interrupted: removed the run's containers ({n} left over)");
                if !a.keep_files { let _ = std::fs::remove_dir_all(&config.run_dir); }
                return Ok(exit::INTERRUPTED);
            }
        };
        let stack = match stack {
            Ok(s) => s,
            Err(e) => {
                let _ = engine.remove_run(&run_id).await;
                return Err(CliError::Environment(e.into()));
            }
        };
        println!(
            "stack {run_id} is up in {:.1}s:",
            stack.total_startup.as_secs_f64()
        );
        for (name, ip, port) in stack.tls_endpoints() {
            println!("  {name:<20} {ip}:{port}");
        }
        println!(
            "  CA certificate       {}",
            config.run_dir.join("tls/vault/ca.crt").display()
        );
        println!(
            "  secrets              in Vault under {}/ (root token: {}, mode 0600)",
            crate::runtime::KV_MOUNT,
            config.run_dir.join("secrets/root.token").display()
        );
        stack
            .write_root_token()
            .map_err(|e| CliError::Environment(e.into()))?;
        println!("Ctrl-C (or `stackdrill down --run {run_id}`) stops it.");
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("stopping…");
        stack
            .down(a.keep_files)
            .await
            .map_err(|e| CliError::Environment(e.into()))?;
        Ok(exit::OK)
    })
}

pub fn down(a: DownArgs) -> Result<u8, CliError> {
    runtime().block_on(async {
        let engine = engine_and_sweep().await?;
        let label = match &a.run {
            Some(r) => format!("{}={r}", crate::runtime::LABEL_RUN),
            None => crate::runtime::LABEL_RUN.to_owned(),
        };
        let list = engine
            .containers_labelled(&label)
            .await
            .map_err(|e| CliError::Environment(e.into()))?;
        for (id, _) in &list {
            engine
                .remove(id)
                .await
                .map_err(|e| CliError::Environment(e.into()))?;
        }
        println!("removed {} container(s)", list.len());
        Ok(exit::OK)
    })
}
