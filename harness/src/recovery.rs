//! Operator procedures under test: [`backup`] (a Cassandra snapshot of JanusGraph's keyspaces with
//! their schema, copied out, optionally encrypted; plus a Vault raft snapshot) and [`restore_hcd`]
//! (into a fresh node on an empty data folder). They act; they never judge.
//!
//! A restore places each table's files straight into the table's data directory of the fresh node
//! (`<data>/<keyspace>/<table>-<id>`, the id from the snapshot's `schema.cql`), then creates the
//! table with that id: Cassandra opens the files already in its directory when it creates the
//! table, so the data phase costs a file copy (plus decryption and a sha256 check), not one
//! `nodetool` JVM per table. A table whose schema carries no id falls back to
//! `nodetool import` from a staging folder.
//!
//! Backup layout (`manifest.json` is versioned):
//! ```text
//! <dest>/manifest.json
//! <dest>/hcd/<keyspace>/<table>/<sstable files>[.enc]
//! <dest>/vault/raft.snap[.enc]
//! ```
//! Encryption is AES-256-GCM per file (random 96-bit nonce prepended); the key is generated per
//! backup and kept in Vault at `secret/backup-<tag>`, never next to the files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::runtime::{KV_MOUNT, RunningStack, StackError};
use crate::secrets::Secret;

/// The manifest format version.
pub const MANIFEST_VERSION: u32 = 1;

/// The keyspaces a backup takes: JanusGraph's two, and the harness's write ledger (so that RPO
/// is measured on the same backup as the graph). Absent ones are skipped.
pub const BACKUP_KEYSPACES: [&str; 3] = ["janusgraph", "janusgraph_credentials", "stackdrill"];

/// A failed procedure.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The stack refused an operation.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// A command inside a container failed.
    #[error("`{command}` in {component} exited with {code}: {stderr}")]
    Exec {
        component: String,
        command: String,
        code: i64,
        stderr: String,
    },
    /// A file operation failed.
    #[error("failed to {what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// CQL failed.
    #[error("{what}: {reason}")]
    Cql { what: String, reason: String },
    /// The backup is not usable.
    #[error("the backup at {path} is not usable: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// Vault failed.
    #[error("Vault failed during {what}")]
    Vault {
        what: &'static str,
        #[source]
        source: crate::secrets::VaultError,
    },
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> RecoveryError + 'a {
    move |source| RecoveryError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// One backed-up file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// File name.
    pub name: String,
    /// Plain size in bytes.
    pub bytes: u64,
    /// sha256 of the plain content.
    pub sha256: String,
}

/// One table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableBackup {
    /// Its `schema.cql` from the snapshot.
    pub schema_cql: String,
    /// Its SSTable files.
    pub files: Vec<FileEntry>,
}

/// One keyspace.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyspaceBackup {
    /// `replication` as in system_schema.keyspaces.
    pub replication: BTreeMap<String, String>,
    /// Tables by name.
    pub tables: BTreeMap<String, TableBackup>,
}

/// What a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// [`MANIFEST_VERSION`].
    pub format_version: u32,
    /// Snapshot tag.
    pub tag: String,
    /// The run that took it.
    pub run_id: String,
    /// Wall-clock time the snapshot was taken (RFC 3339).
    pub taken_at: String,
    /// Whether files are encrypted.
    pub encrypted: bool,
    /// Keyspaces.
    pub keyspaces: BTreeMap<String, KeyspaceBackup>,
    /// The Vault raft snapshot, if taken.
    pub vault: Option<FileEntry>,
}

impl Manifest {
    /// Total plain bytes of Cassandra files.
    pub fn hcd_bytes(&self) -> u64 {
        self.keyspaces
            .values()
            .flat_map(|k| k.tables.values())
            .flat_map(|t| t.files.iter())
            .map(|f| f.bytes)
            .sum()
    }
}

/// Timings and sizes of a backup.
#[derive(Debug, Clone)]
pub struct BackupReport {
    /// Where it was written.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Whole procedure.
    pub took: Duration,
}

/// Options of [`backup`].
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// Snapshot tag (also the backup's name).
    pub tag: String,
    /// Encrypt files (key kept in Vault).
    pub encrypt: bool,
    /// Also snapshot Vault's raft storage.
    pub include_vault: bool,
}

/// Takes a backup of JanusGraph's keyspaces from node `hcd-1` into `dest`.
pub async fn backup(
    stack: &RunningStack,
    opts: &BackupOptions,
    dest: &Path,
) -> Result<BackupReport, RecoveryError> {
    let t = Instant::now();
    let key = if opts.encrypt {
        let k = Secret::generate(43);
        stack
            .vault()
            .kv_put(
                stack.vault_root_token(),
                KV_MOUNT,
                &format!("backup-{}", opts.tag),
                &[("key", &k)],
            )
            .await
            .map_err(|source| RecoveryError::Vault {
                what: "storing the backup key",
                source,
            })?;
        Some(aead_key(&k))
    } else {
        None
    };
    let session = stack.admin_session().await?;
    let mut keyspaces = BTreeMap::new();
    for ks in BACKUP_KEYSPACES {
        let rows = session
            .query_unpaged(
                "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?",
                (ks,),
            )
            .await
            .map_err(|e| cql_err(format!("reading keyspace {ks}"), &e))?
            .into_rows_result()
            .map_err(|e| RecoveryError::Cql {
                what: format!("reading keyspace {ks}"),
                reason: e.to_string(),
            })?;
        let replication: Option<BTreeMap<String, String>> = rows
            .maybe_first_row::<(BTreeMap<String, String>,)>()
            .map_err(|e| RecoveryError::Cql {
                what: format!("reading keyspace {ks}"),
                reason: e.to_string(),
            })?
            .map(|(r,)| r);
        if let Some(replication) = replication {
            keyspaces.insert(ks.to_owned(), replication);
        }
    }
    drop(session);
    let ks_list: Vec<&str> = keyspaces.keys().map(String::as_str).collect();
    let mut args = vec!["nodetool", "snapshot", "-t", &opts.tag];
    args.extend(&ks_list);
    exec_ok(stack, "hcd-1", &args).await?;
    let taken_at = now_rfc3339();

    let data = stack.component_dir("hcd-1").join("data");
    let mut manifest = Manifest {
        format_version: MANIFEST_VERSION,
        tag: opts.tag.clone(),
        run_id: stack.config.run_id.clone(),
        taken_at,
        encrypted: key.is_some(),
        keyspaces: BTreeMap::new(),
        vault: None,
    };
    for (ks, replication) in keyspaces {
        let mut tables = BTreeMap::new();
        let ks_dir = data.join(&ks);
        for entry in fs::read_dir(&ks_dir).map_err(io("read", &ks_dir))? {
            let table_dir = entry.map_err(io("read", &ks_dir))?.path();
            let snap = table_dir.join("snapshots").join(&opts.tag);
            if !snap.is_dir() {
                continue;
            }
            let dir_name = table_dir.file_name().unwrap_or_default().to_string_lossy();
            let table = dir_name
                .rsplit_once('-')
                .map_or(&*dir_name, |(t, _)| t)
                .to_owned();
            let schema_cql = fs::read_to_string(snap.join("schema.cql"))
                .map_err(io("read", &snap.join("schema.cql")))?;
            let out_dir = dest.join("hcd").join(&ks).join(&table);
            fs::create_dir_all(&out_dir).map_err(io("create", &out_dir))?;
            let mut files = Vec::new();
            for f in fs::read_dir(&snap).map_err(io("read", &snap))? {
                let p = f.map_err(io("read", &snap))?.path();
                let name = p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                if name == "schema.cql" || name == "manifest.json" || p.is_dir() {
                    continue;
                }
                files.push(copy_out(&p, &out_dir.join(&name), key.as_ref())?);
            }
            files.sort_by(|a, b| a.name.cmp(&b.name));
            tables.insert(table, TableBackup { schema_cql, files });
        }
        manifest.keyspaces.insert(
            ks,
            KeyspaceBackup {
                replication,
                tables,
            },
        );
    }
    // The snapshot's hard links are no longer needed once copied out.
    exec_ok(
        stack,
        "hcd-1",
        &["nodetool", "clearsnapshot", "-t", &opts.tag, "--all"],
    )
    .await
    .ok();

    if opts.include_vault {
        let snap = stack
            .vault()
            .raft_snapshot(stack.vault_root_token())
            .await
            .map_err(|source| RecoveryError::Vault {
                what: "taking a raft snapshot",
                source,
            })?;
        let dir = dest.join("vault");
        fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let tmp = dir.join("raft.snap.plain");
        fs::write(&tmp, &snap).map_err(io("write", &tmp))?;
        let entry = copy_out(&tmp, &dir.join("raft.snap"), key.as_ref())?;
        fs::remove_file(&tmp).map_err(io("remove", &tmp))?;
        manifest.vault = Some(entry);
    }
    let mpath = dest.join("manifest.json");
    fs::write(
        &mpath,
        serde_json::to_vec_pretty(&manifest).expect("the manifest serializes"),
    )
    .map_err(io("write", &mpath))?;
    Ok(BackupReport {
        dir: dest.to_owned(),
        manifest,
        took: t.elapsed(),
    })
}

/// Reads and checks a backup's manifest.
pub fn read_manifest(dir: &Path) -> Result<Manifest, RecoveryError> {
    let p = dir.join("manifest.json");
    let bytes = fs::read(&p).map_err(io("read", &p))?;
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| RecoveryError::Corrupt {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    if m.format_version != MANIFEST_VERSION {
        return Err(RecoveryError::Corrupt {
            path: p,
            reason: format!(
                "manifest format {} (this stackdrill reads {MANIFEST_VERSION})",
                m.format_version
            ),
        });
    }
    Ok(m)
}

/// Timings of a restore.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// Fresh node up (container created on an empty folder, roles bootstrapped).
    pub node: Duration,
    /// Schema recreated, files verified, decrypted and loaded (the whole data phase).
    pub load: Duration,
    /// Of `load`, the time spent moving files into place (read, decrypt, sha256 check, write).
    pub files: Duration,
    /// Bytes restored.
    pub bytes: u64,
    /// Tables loaded by placing their files before creating them, and by `nodetool import`.
    pub placed_tables: usize,
    pub imported_tables: usize,
    /// A plain copy (`fs::copy`) of the same backup files onto the same file system, timed
    /// after the restore: the yardstick for the restore's throughput.
    pub plain_copy: Duration,
    /// JanusGraph restarted and answering.
    pub reconnect: Duration,
}

impl RestoreReport {
    /// Restore throughput over plain-copy throughput for the same bytes (1.0: as fast as a
    /// copy), counting only the file phase.
    pub fn files_vs_copy(&self) -> f64 {
        self.plain_copy.as_secs_f64() / self.files.as_secs_f64().max(1e-9)
    }

    /// The same counting the whole data phase, schema creation included.
    pub fn load_vs_copy(&self) -> f64 {
        self.plain_copy.as_secs_f64() / self.load.as_secs_f64().max(1e-9)
    }
}

/// The table id in a snapshot's `schema.cql` (`... WITH ID = 5a1c395e-b41f-...`).
fn table_id(schema_cql: &str) -> Option<String> {
    let lower = schema_cql.to_ascii_lowercase();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find("id") {
        let before_ok = i == 0
            || !rest.as_bytes()[i - 1].is_ascii_alphanumeric() && rest.as_bytes()[i - 1] != b'_';
        let after = rest[i + 2..].trim_start();
        if before_ok && let Some(v) = after.strip_prefix('=') {
            let v = v.trim_start();
            let id: String = v.chars().take(36).collect();
            if id.len() == 36
                && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
                && id.matches('-').count() == 4
            {
                return Some(id);
            }
        }
        rest = &rest[i + 2..];
    }
    None
}

/// Restores a backup into a fresh `hcd-1` on an empty data folder (the old node, if still there,
/// is removed and wiped first), then restarts JanusGraph so it reconnects.
pub async fn restore_hcd(
    stack: &mut RunningStack,
    backup_dir: &Path,
) -> Result<RestoreReport, RecoveryError> {
    let manifest = read_manifest(backup_dir)?;
    let key = if manifest.encrypted {
        let k = stack
            .vault()
            .kv_get(
                stack.vault_root_token(),
                KV_MOUNT,
                &format!("backup-{}", manifest.tag),
                "key",
            )
            .await
            .map_err(|source| RecoveryError::Vault {
                what: "reading the backup key",
                source,
            })?;
        Some(aead_key(&k))
    } else {
        None
    };
    let t = Instant::now();
    stack.recreate_hcd(1, true).await?;
    let node = t.elapsed();

    let t = Instant::now();
    let session = stack.admin_session().await?;
    let data = stack.component_dir("hcd-1").join("data");
    let staging = stack.component_dir("hcd-1").join("restore-staging");
    let mut bytes = 0;
    let mut files_time = Duration::ZERO;
    let (mut placed_tables, mut imported_tables) = (0, 0);
    for (ks, kb) in &manifest.keyspaces {
        let repl = kb
            .replication
            .iter()
            .map(|(k, v)| format!("'{k}': '{v}'"))
            .collect::<Vec<_>>()
            .join(", ");
        run_cql(
            &session,
            &format!("CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {{{repl}}}"),
        )
        .await?;
        for (table, tb) in &kb.tables {
            let id = table_id(&tb.schema_cql);
            // Files first, into the directory the table will open when it is created.
            let dir = match &id {
                Some(id) => data
                    .join(ks)
                    .join(format!("{table}-{}", id.replace('-', ""))),
                None => staging.join(ks).join(table),
            };
            fs::create_dir_all(&dir).map_err(io("create", &dir))?;
            let tf = Instant::now();
            for f in &tb.files {
                let src = backup_dir.join("hcd").join(ks).join(table).join(&f.name);
                copy_in(&src, &dir.join(&f.name), f, key.as_ref())?;
                bytes += f.bytes;
            }
            files_time += tf.elapsed();
            for stmt in tb
                .schema_cql
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty() && !s.starts_with("--"))
            {
                let stmt = strip_comments(stmt);
                if !stmt.is_empty() {
                    run_cql(&session, &stmt).await?;
                }
            }
            if id.is_some() {
                placed_tables += 1;
            } else {
                let dir_s = dir.display().to_string();
                exec_ok(stack, "hcd-1", &["nodetool", "import", ks, table, &dir_s]).await?;
                imported_tables += 1;
            }
        }
        run_cql(
            &session,
            &format!(
                "GRANT ALL PERMISSIONS ON KEYSPACE {ks} TO {}",
                crate::runtime::JANUSGRAPH_CQL_ROLE
            ),
        )
        .await?;
    }
    let _ = fs::remove_dir_all(&staging);
    let load = t.elapsed();
    let plain_copy = time_plain_copy(backup_dir, &stack.component_dir("hcd-1"), &manifest)?;

    let t = Instant::now();
    stack.restart("janusgraph").await?;
    Ok(RestoreReport {
        node,
        load,
        files: files_time,
        bytes,
        placed_tables,
        imported_tables,
        plain_copy,
        reconnect: t.elapsed(),
    })
}

/// Times `fs::copy` of every Cassandra file of the backup into a scratch folder under `scratch`
/// (the restored node's file system), then removes the copies.
fn time_plain_copy(
    backup_dir: &Path,
    scratch: &Path,
    manifest: &Manifest,
) -> Result<Duration, RecoveryError> {
    let dst = scratch.join("plain-copy-yardstick");
    let t = Instant::now();
    for (ks, kb) in &manifest.keyspaces {
        for (table, tb) in &kb.tables {
            let d = dst.join(ks).join(table);
            fs::create_dir_all(&d).map_err(io("create", &d))?;
            for f in &tb.files {
                let src = backup_dir.join("hcd").join(ks).join(table).join(&f.name);
                fs::copy(&src, d.join(&f.name)).map_err(io("copy", &src))?;
            }
        }
    }
    let took = t.elapsed();
    let _ = fs::remove_dir_all(&dst);
    Ok(took)
}

fn strip_comments(stmt: &str) -> String {
    stmt.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

async fn run_cql(
    session: &scylla::client::session::Session,
    stmt: &str,
) -> Result<(), RecoveryError> {
    session
        .query_unpaged(stmt.to_owned(), &[])
        .await
        .map(drop)
        .map_err(|e| cql_err(format!("running `{}`", first_line(stmt)), &e))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

fn cql_err(what: String, e: &dyn std::error::Error) -> RecoveryError {
    RecoveryError::Cql {
        what,
        reason: crate::workload::error_chain(e),
    }
}

async fn exec_ok(
    stack: &RunningStack,
    component: &str,
    args: &[&str],
) -> Result<String, RecoveryError> {
    let svc = stack
        .service(component)
        .ok_or_else(|| RecoveryError::Exec {
            component: component.to_owned(),
            command: args.join(" "),
            code: -1,
            stderr: "the component is not running".into(),
        })?;
    let (code, out, err) = svc
        .exec(args)
        .await
        .map_err(|e| RecoveryError::Stack(e.into()))?;
    if code != 0 {
        return Err(RecoveryError::Exec {
            component: component.to_owned(),
            command: args.join(" "),
            code,
            stderr: last_lines(if err.trim().is_empty() { &out } else { &err }, 10),
        });
    }
    Ok(out)
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn aead_key(secret: &Secret) -> LessSafeKey {
    // 32 key bytes derived from the secret (a random 43-character alphanumeric string).
    let digest = Sha256::digest(secret.expose().as_bytes());
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &digest).expect("32 bytes make an AES-256 key"))
}

/// Copies `src` to `dst`, encrypting when a key is given; returns the plain file's entry.
fn copy_out(src: &Path, dst: &Path, key: Option<&LessSafeKey>) -> Result<FileEntry, RecoveryError> {
    let name = dst
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    match key {
        None => {
            let bytes = fs::copy(src, dst).map_err(io("copy", src))?;
            let sha = sha256_file(dst)?;
            Ok(FileEntry {
                name,
                bytes,
                sha256: sha,
            })
        }
        Some(k) => {
            let mut data = fs::read(src).map_err(io("read", src))?;
            let entry = FileEntry {
                name,
                bytes: data.len() as u64,
                sha256: hex::encode(Sha256::digest(&data)),
            };
            let mut nonce = [0u8; NONCE_LEN];
            SystemRandom::new()
                .fill(&mut nonce)
                .expect("the system RNG works");
            k.seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut data,
            )
            .expect("AES-GCM sealing of an in-memory buffer cannot fail");
            let mut out = nonce.to_vec();
            out.extend_from_slice(&data);
            fs::write(dst, out).map_err(io("write", dst))?;
            Ok(entry)
        }
    }
}

/// Copies a backed-up file into place, decrypting and verifying its sha256, reading the source
/// once (the hash is taken on the bytes being written).
fn copy_in(
    src: &Path,
    dst: &Path,
    entry: &FileEntry,
    key: Option<&LessSafeKey>,
) -> Result<(), RecoveryError> {
    use std::io::{Read as _, Write as _};
    let mut hasher = Sha256::new();
    match key {
        None => {
            let mut input = fs::File::open(src).map_err(io("open", src))?;
            let mut out = fs::File::create(dst).map_err(io("create", dst))?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = input.read(&mut buf).map_err(io("read", src))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n]).map_err(io("write", dst))?;
            }
        }
        Some(k) => {
            let raw = fs::read(src).map_err(io("read", src))?;
            if raw.len() < NONCE_LEN {
                return Err(RecoveryError::Corrupt {
                    path: src.to_owned(),
                    reason: "shorter than a nonce".into(),
                });
            }
            let (nonce, body) = raw.split_at(NONCE_LEN);
            let mut body = body.to_vec();
            let nonce = Nonce::try_assume_unique_for_key(nonce).expect("NONCE_LEN bytes");
            let plain = k
                .open_in_place(nonce, Aad::empty(), &mut body)
                .map_err(|_| RecoveryError::Corrupt {
                    path: src.to_owned(),
                    reason: "decryption failed (wrong key or tampered file)".into(),
                })?;
            hasher.update(&*plain);
            fs::write(dst, &*plain).map_err(io("write", dst))?;
        }
    }
    let sha = hex::encode(hasher.finalize());
    if sha != entry.sha256 {
        let _ = fs::remove_file(dst);
        return Err(RecoveryError::Corrupt {
            path: src.to_owned(),
            reason: format!("sha256 {sha} differs from the manifest's {}", entry.sha256),
        });
    }
    Ok(())
}

fn sha256_file(p: &Path) -> Result<String, RecoveryError> {
    let bytes = fs::read(p).map_err(io("read", p))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Base64 of bytes (for small binary values in reports).
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_copies_round_trip_and_detect_tampering() {
        let dir = std::env::temp_dir().join(format!("sd-rec-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).unwrap();
        let src = dir.join("a.db");
        fs::write(&src, b"sstable bytes").unwrap();
        let key = aead_key(&Secret::generate(43));
        let entry = copy_out(&src, &dir.join("a.enc"), Some(&key)).unwrap();
        assert_eq!(entry.bytes, 13);
        assert_ne!(fs::read(dir.join("a.enc")).unwrap(), b"sstable bytes");
        copy_in(&dir.join("a.enc"), &dir.join("b.db"), &entry, Some(&key)).unwrap();
        assert_eq!(fs::read(dir.join("b.db")).unwrap(), b"sstable bytes");
        let other = aead_key(&Secret::generate(43));
        assert!(matches!(
            copy_in(&dir.join("a.enc"), &dir.join("c.db"), &entry, Some(&other)),
            Err(RecoveryError::Corrupt { .. })
        ));
        let plain = copy_out(&src, &dir.join("p.db"), None).unwrap();
        fs::write(dir.join("p.db"), b"changed").unwrap();
        assert!(matches!(
            copy_in(&dir.join("p.db"), &dir.join("q.db"), &plain, None),
            Err(RecoveryError::Corrupt { .. })
        ));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reads_the_table_id_of_a_snapshot_schema() {
        let cql = "CREATE TABLE IF NOT EXISTS janusgraph.edgestore (\n key blob,\n PRIMARY KEY (key)\n) WITH ID = 5a1c395e-b41f-11e5-9f22-ba0be0483c18\n AND compaction = {'class': 'x'};";
        assert_eq!(
            table_id(cql).as_deref(),
            Some("5a1c395e-b41f-11e5-9f22-ba0be0483c18")
        );
        assert_eq!(
            table_id("CREATE TABLE t (id int PRIMARY KEY, valid text)"),
            None
        );
        assert_eq!(
            table_id("CREATE TABLE t (x int PRIMARY KEY) WITH id = nope"),
            None
        );
    }

    #[test]
    fn strips_schema_comments() {
        assert_eq!(
            strip_comments("-- table id\nCREATE TABLE x (a int PRIMARY KEY)"),
            "CREATE TABLE x (a int PRIMARY KEY)"
        );
    }
}
