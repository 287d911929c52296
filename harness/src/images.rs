//! The stack's container images: [`ImageSet`] names every image, tags it by a hash of its inputs,
//! and builds the missing ones from `fixtures/images/<name>/build.sh`, with no registry.
//!
//! Each image's inputs are the files of its folder (plus shared scripts) and its parent image's
//! tag, so a change anywhere below rebuilds exactly what depends on it, and an unchanged tree
//! builds nothing. An image name can be replaced by configuration (`STACKDRILL_IMAGE_<NAME>`, e.g.
//! `STACKDRILL_IMAGE_HCD=registry.example/hcd:1.2`): such an image is used as given, never built.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::runtime::Engine;

/// The repository prefix of locally built images. `localhost/` makes any accidental pull go to
/// loopback and fail at once instead of reaching out to a public registry.
pub const REPO_PREFIX: &str = "localhost/stackdrill";

/// One image of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImageName {
    /// Debian bookworm, debootstrapped.
    Base,
    /// Base + OpenJDK 17.
    Jre,
    /// Cassandra 5.0 (the HCD stand-in).
    Hcd,
    /// JanusGraph Server 1.1.
    Janusgraph,
    /// OpenBao (Vault API).
    Vault,
    /// Prometheus and promtool.
    Prometheus,
    /// Alertmanager and amtool.
    Alertmanager,
    /// Prometheus's blackbox exporter (TLS and HTTP probes of every endpoint).
    Blackbox,
    /// Prometheus's node exporter (filesystems, memory, load).
    NodeExporter,
}

impl ImageName {
    /// Every image, parents before children.
    pub const ALL: [ImageName; 9] = [
        ImageName::Base,
        ImageName::Jre,
        ImageName::Hcd,
        ImageName::Janusgraph,
        ImageName::Vault,
        ImageName::Prometheus,
        ImageName::Alertmanager,
        ImageName::Blackbox,
        ImageName::NodeExporter,
    ];

    /// The folder name under fixtures/images and the image repository name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageName::Base => "base",
            ImageName::Jre => "jre",
            ImageName::Hcd => "hcd",
            ImageName::Janusgraph => "janusgraph",
            ImageName::Vault => "vault",
            ImageName::Prometheus => "prometheus",
            ImageName::Alertmanager => "alertmanager",
            ImageName::Blackbox => "blackbox",
            ImageName::NodeExporter => "node-exporter",
        }
    }

    /// The image this one is built from, passed to its build script as an environment variable.
    fn parent(self) -> Option<(ImageName, &'static str)> {
        match self {
            ImageName::Base | ImageName::Vault => None,
            ImageName::Jre
            | ImageName::Prometheus
            | ImageName::Alertmanager
            | ImageName::Blackbox
            | ImageName::NodeExporter => Some((ImageName::Base, "BASE_IMAGE")),
            ImageName::Hcd | ImageName::Janusgraph => Some((ImageName::Jre, "JRE_IMAGE")),
        }
    }

    /// Files outside the image's folder that its build uses.
    fn shared_inputs(self) -> &'static [&'static str] {
        match self {
            ImageName::Prometheus
            | ImageName::Alertmanager
            | ImageName::Blackbox
            | ImageName::NodeExporter => &["slim-from-deb.sh"],
            ImageName::Hcd | ImageName::Janusgraph => &["maven-image.sh"],
            _ => &[],
        }
    }

    fn env_override(self) -> String {
        format!(
            "STACKDRILL_IMAGE_{}",
            self.as_str().replace('-', "_").to_ascii_uppercase()
        )
    }
}

impl std::fmt::Display for ImageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A failure to resolve or build images.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The recipe folder is missing.
    #[error(
        "the recipe of image `{name}` is missing: {path} (hint: run from a stackdrill checkout or set STACKDRILL_ROOT)"
    )]
    NoRecipe { name: ImageName, path: PathBuf },
    /// Reading a recipe file failed.
    #[error("failed to read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The build script failed.
    #[error(
        "failed to build image `{name}` ({tag}): its build script exited with {status}\n--- last lines of {log} ---\n{tail}"
    )]
    Build {
        name: ImageName,
        tag: String,
        status: String,
        log: PathBuf,
        tail: String,
    },
    /// An image the stack needs is not present.
    #[error(
        "image `{name}` ({tag}) is not present in the Docker engine (hint: run `stackdrill images build`{hint})"
    )]
    Missing {
        name: ImageName,
        tag: String,
        hint: &'static str,
    },
    /// The engine could not be asked.
    #[error("failed to ask the Docker engine about image {tag}")]
    Engine {
        tag: String,
        #[source]
        source: anyhow::Error,
    },
}

/// One resolved image.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// Which image.
    pub name: ImageName,
    /// `repository:tag` to run.
    pub reference: String,
    /// Whether the reference came from configuration (then it is never built).
    pub configured: bool,
}

impl ResolvedImage {
    /// The repository part.
    pub fn repository(&self) -> &str {
        self.reference
            .rsplit_once(':')
            .map_or(self.reference.as_str(), |(r, _)| r)
    }

    /// The tag part (`latest` when the reference has none).
    pub fn tag(&self) -> &str {
        self.reference.rsplit_once(':').map_or("latest", |(_, t)| t)
    }
}

/// Every image of the stack, resolved to references.
#[derive(Debug, Clone)]
pub struct ImageSet {
    root: PathBuf,
    images: Vec<ResolvedImage>,
}

/// The project root: `STACKDRILL_ROOT`, else the checkout this binary was built from.
pub fn project_root() -> PathBuf {
    std::env::var_os("STACKDRILL_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("the harness crate lives in a workspace")
                .to_owned()
        })
}

/// The cache of downloaded artifacts and build logs (`STACKDRILL_CACHE`, else
/// `$XDG_CACHE_HOME/stackdrill`, else `~/.cache/stackdrill`).
pub fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("STACKDRILL_CACHE") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(p).join("stackdrill");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache").join("stackdrill")
}

impl ImageSet {
    /// Resolves every image from the recipes under `root/fixtures/images`.
    pub fn resolve(root: &Path) -> Result<Self, ImageError> {
        let mut images: Vec<ResolvedImage> = Vec::new();
        for name in ImageName::ALL {
            if let Ok(reference) = std::env::var(name.env_override()) {
                images.push(ResolvedImage {
                    name,
                    reference,
                    configured: true,
                });
                continue;
            }
            let parent_tag = name.parent().map(|(p, _)| {
                images
                    .iter()
                    .find(|i| i.name == p)
                    .expect("parents come first in ALL")
                    .reference
                    .clone()
            });
            let hash = input_hash(root, name, parent_tag.as_deref())?;
            images.push(ResolvedImage {
                name,
                reference: format!("{REPO_PREFIX}/{}:{}", name.as_str(), &hash[..12]),
                configured: false,
            });
        }
        Ok(Self {
            root: root.to_owned(),
            images,
        })
    }

    /// The resolved image for `name`.
    pub fn get(&self, name: ImageName) -> &ResolvedImage {
        self.images
            .iter()
            .find(|i| i.name == name)
            .expect("every image is resolved")
    }

    /// Every image, parents first.
    pub fn all(&self) -> &[ResolvedImage] {
        &self.images
    }

    /// Fails with a clear message when an image the stack runs is absent.
    pub async fn require(&self, engine: &Engine, names: &[ImageName]) -> Result<(), ImageError> {
        for &name in names {
            let img = self.get(name);
            let present = engine
                .image_exists(&img.reference)
                .await
                .map_err(|source| ImageError::Engine {
                    tag: img.reference.clone(),
                    source,
                })?;
            if !present {
                return Err(ImageError::Missing {
                    name,
                    tag: img.reference.clone(),
                    hint: if img.configured {
                        " or load the configured image into the engine"
                    } else {
                        ""
                    },
                });
            }
        }
        Ok(())
    }

    /// Builds every image that is missing, parents first, printing progress to `out`.
    /// Returns what was built and how long each took.
    pub async fn build_missing(
        &self,
        engine: &Engine,
        out: &mut dyn std::io::Write,
    ) -> Result<Vec<(ImageName, Duration)>, ImageError> {
        let cache = cache_dir();
        let mut built = Vec::new();
        for img in &self.images {
            let present = engine
                .image_exists(&img.reference)
                .await
                .map_err(|source| ImageError::Engine {
                    tag: img.reference.clone(),
                    source,
                })?;
            if present {
                let _ = writeln!(out, "  {:<13} {}  present", img.name, img.reference);
                continue;
            }
            if img.configured {
                return Err(ImageError::Missing {
                    name: img.name,
                    tag: img.reference.clone(),
                    hint: " or load the configured image into the engine",
                });
            }
            let started = Instant::now();
            let _ = writeln!(out, "  {:<13} {}  building…", img.name, img.reference);
            let _ = out.flush();
            self.build_one(img, &cache).await?;
            let took = started.elapsed();
            let _ = writeln!(
                out,
                "  {:<13} {}  built in {:.1}s",
                img.name,
                img.reference,
                took.as_secs_f64()
            );
            built.push((img.name, took));
        }
        Ok(built)
    }

    async fn build_one(&self, img: &ResolvedImage, cache: &Path) -> Result<(), ImageError> {
        let recipe = self.root.join("fixtures/images").join(img.name.as_str());
        let ctx = cache.join("contexts").join(img.name.as_str());
        let logs = cache.join("logs");
        for d in [&ctx, &logs] {
            let _ = fs::remove_dir_all(d.as_path().join("rootfs"));
            fs::create_dir_all(d).map_err(|source| ImageError::Read {
                path: d.clone(),
                source,
            })?;
        }
        let log = logs.join(format!("{}.log", img.name));
        let log_file = fs::File::create(&log).map_err(|source| ImageError::Read {
            path: log.clone(),
            source,
        })?;
        let mut cmd = tokio::process::Command::new("bash");
        cmd.arg(recipe.join("build.sh"))
            .arg(&img.reference)
            .arg(&ctx)
            .arg(cache)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().map_err(|source| ImageError::Read {
                path: log.clone(),
                source,
            })?)
            .stderr(log_file)
            .kill_on_drop(true);
        if let Some((parent, var)) = img.name.parent() {
            cmd.env(var, &self.get(parent).reference);
        }
        let status = cmd.status().await.map_err(|source| ImageError::Read {
            path: recipe.join("build.sh"),
            source,
        })?;
        let _ = fs::remove_dir_all(&ctx);
        if !status.success() {
            let text = fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(25)..].join("\n");
            return Err(ImageError::Build {
                name: img.name,
                tag: img.reference.clone(),
                status: status.to_string(),
                log,
                tail,
            });
        }
        Ok(())
    }
}

/// sha256 over the image's recipe files (sorted by path, names and contents) and its parent's tag.
fn input_hash(root: &Path, name: ImageName, parent: Option<&str>) -> Result<String, ImageError> {
    let images = root.join("fixtures/images");
    let dir = images.join(name.as_str());
    if !dir.is_dir() {
        return Err(ImageError::NoRecipe { name, path: dir });
    }
    let mut files = Vec::new();
    collect_files(&dir, &mut files)?;
    files.extend(name.shared_inputs().iter().map(|f| images.join(f)));
    files.sort();
    let mut h = Sha256::new();
    h.update(b"stackdrill-image-v1\0");
    if let Some(p) = parent {
        h.update(p.as_bytes());
        h.update(b"\0");
    }
    for f in &files {
        let rel = f.strip_prefix(&images).unwrap_or(f);
        h.update(rel.to_string_lossy().as_bytes());
        h.update(b"\0");
        let bytes = fs::read(f).map_err(|source| ImageError::Read {
            path: f.clone(),
            source,
        })?;
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(hex::encode(h.finalize()))
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ImageError> {
    let entries = fs::read_dir(dir).map_err(|source| ImageError::Read {
        path: dir.to_owned(),
        source,
    })?;
    for e in entries {
        let p = e
            .map_err(|source| ImageError::Read {
                path: dir.to_owned(),
                source,
            })?
            .path();
        if p.is_dir() {
            collect_files(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_inputs_and_parents() {
        let tmp = std::env::temp_dir().join(format!("sd-img-{}", uuid::Uuid::new_v4()));
        for n in ImageName::ALL {
            let d = tmp.join("fixtures/images").join(n.as_str());
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("build.sh"), format!("echo {n}")).unwrap();
        }
        fs::write(tmp.join("fixtures/images/slim-from-deb.sh"), "x").unwrap();
        fs::write(tmp.join("fixtures/images/maven-image.sh"), "m").unwrap();
        let a = ImageSet::resolve(&tmp).unwrap();
        let again = ImageSet::resolve(&tmp).unwrap();
        for n in ImageName::ALL {
            assert_eq!(a.get(n).reference, again.get(n).reference);
            assert!(a.get(n).reference.starts_with("localhost/stackdrill/"));
        }
        // A change to the jre recipe changes jre and its children, nothing else.
        fs::write(tmp.join("fixtures/images/jre/build.sh"), "changed").unwrap();
        let b = ImageSet::resolve(&tmp).unwrap();
        for n in ImageName::ALL {
            let changed = a.get(n).reference != b.get(n).reference;
            let expect = matches!(n, ImageName::Jre | ImageName::Hcd | ImageName::Janusgraph);
            assert_eq!(changed, expect, "{n}");
        }
        // The shared deb script changes both slim images.
        fs::write(tmp.join("fixtures/images/slim-from-deb.sh"), "y").unwrap();
        let c = ImageSet::resolve(&tmp).unwrap();
        assert_ne!(
            b.get(ImageName::Prometheus).reference,
            c.get(ImageName::Prometheus).reference
        );
        assert_eq!(
            b.get(ImageName::Vault).reference,
            c.get(ImageName::Vault).reference
        );
        fs::remove_dir_all(tmp).unwrap();
    }
}
