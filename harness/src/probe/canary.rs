//! [`scan`]: the "no hard-coded or leaked credentials" check. Every secret the run generated is a
//! canary; this looks for each of them, in clear, in the run's files (rendered configuration,
//! service logs written by the services themselves, audit logs, data files) and in what the
//! engine holds about each container (environment, raw output before the harness's redaction).
//!
//! Files whose whole purpose is to hold one secret for one reader are exempt and listed as such:
//! the per-service Vault token sink files under `secrets/` (mode 0600).

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use testcontainers::bollard::container::LogOutput;
use testcontainers::bollard::query_parameters::LogsOptionsBuilder;

use crate::runtime::RunningStack;

/// Where a canary was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// A file path, or `container <name> env` / `container <name> output`.
    pub place: String,
    /// The secret's first four characters, to tell findings apart without printing it.
    pub hint: String,
}

/// What a scan covered.
#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    /// Canaries looked for.
    pub canaries: usize,
    /// Files read.
    pub files: usize,
    /// Bytes read from files.
    pub bytes: u64,
    /// Containers whose environment and output were read.
    pub containers: usize,
    /// Places where a canary was found.
    pub findings: Vec<Finding>,
}

/// Scans the run folder and every container of `stack` for the `canaries`.
pub async fn scan(stack: &RunningStack, canaries: &[String]) -> ScanReport {
    let canaries: Vec<&String> = canaries.iter().filter(|c| c.len() >= 8).collect();
    let mut report = ScanReport {
        canaries: canaries.len(),
        ..ScanReport::default()
    };
    let mut files = Vec::new();
    walk(&stack.config.run_dir, &mut files);
    for f in files {
        if f.parent()
            .and_then(Path::file_name)
            .is_some_and(|n| n == "secrets")
            && f.extension().is_some_and(|e| e == "token")
        {
            continue;
        }
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        report.files += 1;
        report.bytes += bytes.len() as u64;
        look(
            &bytes,
            &canaries,
            &f.display().to_string(),
            &mut report.findings,
        );
    }
    let docker = stack.engine().docker().clone();
    for name in stack.service_names() {
        let Some(svc) = stack.service(&name) else {
            continue;
        };
        let id = svc.id().to_owned();
        report.containers += 1;
        if let Ok(info) = docker.inspect_container(&id, None).await {
            let env = info
                .config
                .and_then(|c| c.env)
                .unwrap_or_default()
                .join("\n");
            look(
                env.as_bytes(),
                &canaries,
                &format!("container {name} env"),
                &mut report.findings,
            );
        }
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .build();
        let mut stream = docker.logs(&id, Some(opts));
        let mut raw = Vec::new();
        while let Some(Ok(chunk)) = stream.next().await {
            if let LogOutput::StdOut { message } | LogOutput::StdErr { message } = chunk {
                raw.extend_from_slice(&message);
            }
        }
        look(
            &raw,
            &canaries,
            &format!("container {name} output"),
            &mut report.findings,
        );
    }
    report
}

fn look(hay: &[u8], canaries: &[&String], place: &str, out: &mut Vec<Finding>) {
    for c in canaries {
        if hay.windows(c.len()).any(|w| w == c.as_bytes()) {
            out.push(Finding {
                place: place.to_owned(),
                hint: format!("{}…", &c[..4]),
            });
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&p, out),
            Ok(t) if t.is_file() => out.push(p),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_canary_and_not_its_prefix() {
        let c = "s3cretCanary42".to_owned();
        let mut out = Vec::new();
        look(b"x=s3cretCanary42;", &[&c], "f", &mut out);
        look(b"x=s3cretCanary4", &[&c], "g", &mut out);
        assert_eq!(
            out,
            vec![Finding {
                place: "f".into(),
                hint: "s3cr…".into()
            }]
        );
    }
}
