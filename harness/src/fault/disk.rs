//! [`SmallVolume`]: a small, real ext4 filesystem (an image file, loop-mounted) to put under a
//! service's data directory, so that "disk full" can be made to happen and healed.
//!
//! [`SmallVolume::fill`] writes a balloon file until at most the requested number of bytes is
//! free, [`SmallVolume::confirm_full`] proves the fault by failing to write
//! [`CONFIRM_PROBE_BYTES`] with `ENOSPC`, and [`SmallVolume::free`] heals it by removing the
//! balloon. The filesystem is made with no blocks reserved for root (`mkfs.ext4 -m 0`), so
//! "full" means full for every user, root included.
//!
//! A container sees the volume only if it is mounted before the container starts and
//! `mount_point` (or a parent) is bind-mounted into it: mounts made later do not propagate into
//! an already running container unless its bind is `rshared`.
//!
//! Needs root (or `CAP_SYS_ADMIN`), a free loop device, and `mkfs.ext4`, `mount`, `umount` and
//! `losetup`. The calls block (they run commands and write files); call them from
//! `tokio::task::spawn_blocking` in async code.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;

/// How many bytes [`SmallVolume::confirm_full`] tries to write; a full volume refuses them.
pub const CONFIRM_PROBE_BYTES: u64 = 1 << 20;
const MIN_SIZE_MB: u64 = 8;
const MAX_SIZE_MB: u64 = 64 * 1024;
const BALLOON: &str = ".stackdrill-balloon";
const PROBE: &str = ".stackdrill-enospc-probe";
const WRITE_CHUNK: usize = 1 << 20;
/// Rounds of "measure, write the difference, sync" in [`SmallVolume::fill`]; the first normally
/// suffices, later ones catch up with metadata and delayed allocation.
const FILL_ROUNDS: u32 = 16;
/// Where system tools live on Debian when `PATH` lacks the sbin directories.
const EXTRA_TOOL_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// A failure of a [`SmallVolume`].
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// A required command is not installed.
    #[error("find `{tool}` on PATH or in /usr/sbin, /sbin (hint: {hint})")]
    ToolMissing {
        /// The command.
        tool: &'static str,
        /// What to install.
        hint: &'static str,
    },
    /// The requested size is out of range.
    #[error("make a {size_mb} MiB volume: the size must be {MIN_SIZE_MB} to {MAX_SIZE_MB} MiB")]
    InvalidSize {
        /// The size asked for.
        size_mb: u64,
    },
    /// The image file exists already; it is not overwritten.
    #[error(
        "create volume image {path}: the file already exists (hint: pick a fresh path; if a \
         crashed run left it, check `losetup -a` and /proc/mounts, then remove it)"
    )]
    ImageExists {
        /// The image path.
        path: PathBuf,
    },
    /// Something is mounted at the mount point already.
    #[error("mount a volume at {path}: something is mounted there already")]
    AlreadyMounted {
        /// The mount point.
        path: PathBuf,
    },
    /// A file operation failed.
    #[error("{what} {path}")]
    Io {
        /// What was being done, e.g. `write the balloon file`.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A command failed.
    #[error("run `{command}` ({status}): {stderr}{hint}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status, or why it could not start.
        status: String,
        /// Its standard error, trimmed.
        stderr: String,
        /// A hint, starting with a space, or empty.
        hint: &'static str,
    },
    /// Filling did not get free space down to the target.
    #[error(
        "fill {mount_point} to {leave_bytes} free bytes: {free_bytes} bytes are still free after \
         {FILL_ROUNDS} rounds"
    )]
    FillStalled {
        /// The mount point.
        mount_point: PathBuf,
        /// The target.
        leave_bytes: u64,
        /// What is free.
        free_bytes: u64,
    },
    /// The disk-full confirmation wrote its probe without `ENOSPC`.
    #[error(
        "confirm that {mount_point} is full: a {CONFIRM_PROBE_BYTES}-byte write succeeded \
         ({free_bytes} bytes were free; hint: fill with fewer than {CONFIRM_PROBE_BYTES} bytes left)"
    )]
    NotFull {
        /// The mount point.
        mount_point: PathBuf,
        /// What was free before the probe.
        free_bytes: u64,
    },
    /// The volume was unmounted already.
    #[error("use the volume at {mount_point}: it is not mounted any more")]
    NotMounted {
        /// The mount point.
        mount_point: PathBuf,
    },
}

/// A loop-mounted ext4 image. Unmounted (and its image removed) by [`SmallVolume::unmount`], or
/// on drop, where a busy mount is detached lazily (`umount -l`) as a last resort.
#[derive(Debug)]
pub struct SmallVolume {
    image: PathBuf,
    mount_point: PathBuf,
    size_mb: u64,
    mounted: bool,
}

impl SmallVolume {
    /// Makes a `size_mb` MiB ext4 image at `image_path` (which must not exist) and loop-mounts
    /// it at `mount_point` (created if missing; nothing may be mounted there).
    pub fn create(
        image_path: impl AsRef<Path>,
        mount_point: impl AsRef<Path>,
        size_mb: u64,
    ) -> Result<Self, DiskError> {
        let (image, mount_point) = (image_path.as_ref(), mount_point.as_ref());
        if !(MIN_SIZE_MB..=MAX_SIZE_MB).contains(&size_mb) {
            return Err(DiskError::InvalidSize { size_mb });
        }
        let mkfs = find_tool("mkfs.ext4", "install e2fsprogs")?;
        let mount = find_tool("mount", "install mount (util-linux)")?;
        find_tool("umount", "install mount (util-linux)")?;
        let losetup = find_tool("losetup", "install util-linux")?;

        fs::create_dir_all(mount_point).map_err(io_err("create the mount point", mount_point))?;
        let mount_point = mount_point
            .canonicalize()
            .map_err(io_err("resolve the mount point", mount_point))?;
        if is_mounted_at(&mount_point)? {
            return Err(DiskError::AlreadyMounted { path: mount_point });
        }

        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(image)
            .map_err(|source| match source.kind() {
                io::ErrorKind::AlreadyExists => DiskError::ImageExists {
                    path: image.to_owned(),
                },
                _ => io_err("create the volume image", image)(source),
            })?;
        let image = image
            .canonicalize()
            .map_err(io_err("resolve the volume image", image))?;
        // Remove the image again if anything below fails, so a failed create leaves nothing.
        let cleanup = RemoveOnDrop(Some(image.clone()));
        // Asking for a free loop device first turns "mount failed" into a precise diagnosis.
        run(
            &losetup,
            ["-f"],
            " (hint: loop devices need root or CAP_SYS_ADMIN and a kernel with \
             CONFIG_BLK_DEV_LOOP; in a container, run it privileged)",
        )?;
        file.set_len(size_mb << 20)
            .map_err(io_err("size the volume image", &image))?;
        drop(file);

        // -m 0: no blocks reserved for root, so the volume is full for root too.
        run(
            &mkfs,
            [
                OsStr::new("-q"),
                OsStr::new("-F"),
                OsStr::new("-m"),
                OsStr::new("0"),
                OsStr::new("-L"),
                OsStr::new("stackdrill"),
                image.as_os_str(),
            ],
            "",
        )?;
        run(
            &mount,
            [
                OsStr::new("-t"),
                OsStr::new("ext4"),
                OsStr::new("-o"),
                OsStr::new("loop"),
                image.as_os_str(),
                mount_point.as_os_str(),
            ],
            " (hint: loop mounts need root or CAP_SYS_ADMIN)",
        )?;
        cleanup.disarm();
        tracing::debug!(image = %image.display(), mount_point = %mount_point.display(), size_mb, "small volume mounted");
        Ok(Self {
            image,
            mount_point,
            size_mb,
            mounted: true,
        })
    }

    /// Where the filesystem is mounted (canonical).
    pub fn mount_point(&self) -> &Path {
        &self.mount_point
    }

    /// The image file (canonical).
    pub fn image_path(&self) -> &Path {
        &self.image
    }

    /// The image's size in MiB (the filesystem's usable space is smaller: metadata and journal).
    pub fn size_mb(&self) -> u64 {
        self.size_mb
    }

    /// Bytes an unprivileged user can still write (`statvfs` `f_bavail × f_frsize`; with no
    /// reserved blocks that is also what root can write).
    pub fn free_bytes(&self) -> Result<u64, DiskError> {
        self.ensure_mounted()?;
        let stat = rustix::fs::statvfs(&self.mount_point).map_err(|e| DiskError::Io {
            what: "read the free space of",
            path: self.mount_point.clone(),
            source: e.into(),
        })?;
        Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    /// Writes a balloon file until at most `leave_bytes` are free, and returns what is free.
    /// Data is synced, so the space is really allocated rather than merely reserved.
    pub fn fill(&self, leave_bytes: u64) -> Result<u64, DiskError> {
        let balloon_path = self.mount_point.join(BALLOON);
        let mut balloon = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&balloon_path)
            .map_err(io_err("open the balloon file", &balloon_path))?;
        let zeros = vec![0u8; WRITE_CHUNK];
        for _ in 0..FILL_ROUNDS {
            let free = self.free_bytes()?;
            if free <= leave_bytes {
                return Ok(free);
            }
            let mut left = free - leave_bytes;
            while left > 0 {
                let n = usize::try_from(left).map_or(WRITE_CHUNK, |l| l.min(WRITE_CHUNK));
                match balloon.write_all(&zeros[..n]) {
                    Ok(()) => left -= n as u64,
                    Err(e) if is_enospc(&e) => break,
                    Err(e) => return Err(io_err("write the balloon file", &balloon_path)(e)),
                }
            }
            match balloon.sync_all() {
                Ok(()) => {}
                Err(e) if is_enospc(&e) => {}
                Err(e) => return Err(io_err("sync the balloon file", &balloon_path)(e)),
            }
        }
        let free_bytes = self.free_bytes()?;
        if free_bytes <= leave_bytes {
            Ok(free_bytes)
        } else {
            Err(DiskError::FillStalled {
                mount_point: self.mount_point.clone(),
                leave_bytes,
                free_bytes,
            })
        }
    }

    /// Proves the volume is full: writing [`CONFIRM_PROBE_BYTES`] (and syncing) fails with
    /// `ENOSPC`. The probe file is removed either way.
    pub fn confirm_full(&self) -> Result<(), DiskError> {
        let free_bytes = self.free_bytes()?;
        let probe_path = self.mount_point.join(PROBE);
        let outcome = write_synced(&probe_path, CONFIRM_PROBE_BYTES);
        let removed = remove_if_present(&probe_path);
        match outcome {
            Err(e) if is_enospc(&e) => removed,
            Err(e) => Err(io_err("write the disk-full probe", &probe_path)(e)),
            Ok(()) => {
                removed?;
                Err(DiskError::NotFull {
                    mount_point: self.mount_point.clone(),
                    free_bytes,
                })
            }
        }
    }

    /// Heals a fill: removes the balloon, syncs the filesystem so the space shows as free, and
    /// returns what is free.
    pub fn free(&self) -> Result<u64, DiskError> {
        self.ensure_mounted()?;
        remove_if_present(&self.mount_point.join(BALLOON))?;
        let dir = File::open(&self.mount_point)
            .map_err(io_err("open the mount point", &self.mount_point))?;
        rustix::fs::syncfs(&dir).map_err(|e| DiskError::Io {
            what: "sync the filesystem at",
            path: self.mount_point.clone(),
            source: e.into(),
        })?;
        self.free_bytes()
    }

    /// Whether the volume is still mounted, according to `/proc/mounts`.
    pub fn is_mounted(&self) -> Result<bool, DiskError> {
        Ok(self.mounted && is_mounted_at(&self.mount_point)?)
    }

    /// Unmounts the volume and removes its image. Fails if the filesystem is busy (a process
    /// has a file open there); the volume then stays mounted, and dropping it detaches it
    /// lazily. Unmounting twice is not an error.
    pub fn unmount(&mut self) -> Result<(), DiskError> {
        if !self.mounted {
            return Ok(());
        }
        let umount = find_tool("umount", "install mount (util-linux)")?;
        run(
            &umount,
            [self.mount_point.as_os_str()],
            " (hint: is a process or container still using it? see `fuser -m`)",
        )?;
        self.mounted = false;
        remove_if_present(&self.image)
    }

    fn ensure_mounted(&self) -> Result<(), DiskError> {
        if self.mounted {
            Ok(())
        } else {
            Err(DiskError::NotMounted {
                mount_point: self.mount_point.clone(),
            })
        }
    }
}

impl Drop for SmallVolume {
    fn drop(&mut self) {
        if !self.mounted {
            return;
        }
        let Ok(umount) = find_tool("umount", "") else {
            tracing::error!(mount_point = %self.mount_point.display(), "cannot unmount a small volume: umount is missing");
            return;
        };
        let detached = run(&umount, [self.mount_point.as_os_str()], "").or_else(|e| {
            tracing::warn!(error = %e, "small volume busy; detaching it lazily");
            run(
                &umount,
                [OsStr::new("-l"), self.mount_point.as_os_str()],
                "",
            )
        });
        match detached {
            Ok(_) => {
                self.mounted = false;
                // With a lazy detach the loop device keeps the (unlinked) image open until the
                // last user goes; removing the name is still right.
                if let Err(e) = remove_if_present(&self.image) {
                    tracing::warn!(error = %e, "small volume image left behind");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, mount_point = %self.mount_point.display(), "small volume left mounted");
            }
        }
    }
}

/// Removes a file on drop unless disarmed.
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = fs::remove_file(path);
        }
    }
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DiskError {
    let path = path.to_owned();
    move |source| DiskError::Io { what, path, source }
}

fn is_enospc(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOSPC)
}

fn remove_if_present(path: &Path) -> Result<(), DiskError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("remove", path)(e)),
        _ => Ok(()),
    }
}

fn write_synced(path: &Path, bytes: u64) -> io::Result<()> {
    let mut file = File::create(path)?;
    let zeros = vec![0u8; WRITE_CHUNK];
    let mut left = bytes;
    while left > 0 {
        let n = usize::try_from(left).map_or(WRITE_CHUNK, |l| l.min(WRITE_CHUNK));
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    file.sync_all()
}

fn find_tool(tool: &'static str, hint: &'static str) -> Result<PathBuf, DiskError> {
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    path_dirs
        .into_iter()
        .chain(EXTRA_TOOL_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
        .ok_or(DiskError::ToolMissing { tool, hint })
}

/// Runs a command to completion and returns its standard output.
fn run<I, S>(program: &Path, args: I, hint: &'static str) -> Result<String, DiskError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let command = std::iter::once(program.as_os_str())
        .chain(args.iter().map(|a| a.as_os_str()))
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let failed = |status: String, stderr: String| DiskError::Command {
        command: command.clone(),
        status,
        stderr,
        hint,
    };
    let output = Command::new(program)
        .args(&args)
        .output()
        .map_err(|e| failed(format!("could not start: {e}"), String::new()))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(failed(
            output.status.to_string(),
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ))
    }
}

fn is_mounted_at(path: &Path) -> Result<bool, DiskError> {
    let proc_mounts = Path::new("/proc/mounts");
    let text = fs::read_to_string(proc_mounts).map_err(io_err("read", proc_mounts))?;
    Ok(mount_points(&text).any(|p| p == path))
}

/// The mount points listed in `/proc/mounts` text (the second field, with the kernel's octal
/// escapes for space, tab, newline and backslash undone).
fn mount_points(text: &str) -> impl Iterator<Item = PathBuf> + '_ {
    text.lines()
        .filter_map(|line| line.split(' ').nth(1))
        .map(|field| PathBuf::from(unescape_octal(field)))
}

fn unescape_octal(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(byte) if byte.is_ascii() => {
                out.push(char::from(byte));
                rest = &rest[i + 4..];
            }
            _ => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_mounts() {
        let text = "\
/dev/root / ext4 rw,relatime 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
/dev/loop0 /tmp/with\\040space/mnt ext4 rw,relatime 0 0
/dev/loop1 /tmp/tab\\011and\\134slash ext4 rw 0 0
/dev/loop2 /tmp/odd\\9x ext4 rw 0 0
";
        let points: Vec<_> = mount_points(text).collect();
        let want = [
            "/",
            "/proc",
            "/tmp/with space/mnt",
            "/tmp/tab\tand\\slash",
            "/tmp/odd\\9x",
        ];
        assert_eq!(points, want.map(PathBuf::from));
    }

    #[test]
    fn rejects_sizes_out_of_range() {
        for size_mb in [0, MIN_SIZE_MB - 1, MAX_SIZE_MB + 1] {
            let err = SmallVolume::create("/nonexistent/img", "/nonexistent/mnt", size_mb)
                .expect_err("size out of range");
            assert!(
                matches!(err, DiskError::InvalidSize { .. }),
                "{size_mb}: {err}"
            );
        }
    }

    /// A scratch directory removed at the end of the test.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "stackdrill-{name}-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ));
            fs::create_dir_all(&dir).expect("create a scratch directory under the temp dir");
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// The whole fault on a real loop-mounted filesystem. Needs root and a free loop device;
    /// without them it fails (it does not skip), with `create`'s error saying what is missing.
    #[test]
    fn fill_confirm_free_unmount_on_a_real_volume() {
        let scratch = Scratch::new("disk");
        let mut volume = SmallVolume::create(scratch.0.join("hcd.img"), scratch.0.join("mnt"), 32)
            .unwrap_or_else(|e| {
                panic!(
                    "the disk-full fault needs a loop-mounted volume and this machine cannot \
                     make one: {}",
                    error_chain(&e)
                )
            });
        let mount_point = volume.mount_point().to_owned();
        assert!(volume.is_mounted().expect("read /proc/mounts"));
        let initially = volume.free_bytes().expect("free bytes");
        assert!(
            initially > 16 << 20,
            "a 32 MiB volume has most of it free: {initially}"
        );

        let not_full = volume
            .confirm_full()
            .expect_err("an empty volume is not full");
        assert!(matches!(not_full, DiskError::NotFull { .. }), "{not_full}");

        let left = volume.fill(64 * 1024).expect("fill");
        assert!(left <= 64 * 1024, "{left} bytes left");
        volume
            .confirm_full()
            .expect("a filled volume refuses 1 MiB");
        // Filling again is a no-op rather than an error.
        assert!(volume.fill(64 * 1024).expect("fill again") <= 64 * 1024);

        let freed = volume.free().expect("free");
        assert!(freed > 16 << 20, "after free: {freed}");
        write_synced(&mount_point.join("after-heal"), CONFIRM_PROBE_BYTES)
            .expect("a 1 MiB write succeeds after the heal");

        volume.unmount().expect("unmount");
        volume.unmount().expect("unmounting twice is fine");
        let mounts = fs::read_to_string("/proc/mounts").expect("read /proc/mounts");
        assert!(
            !mount_points(&mounts).any(|p| p == mount_point),
            "{} is still in /proc/mounts",
            mount_point.display()
        );
        assert!(!scratch.0.join("hcd.img").exists(), "the image is removed");
        assert!(matches!(
            volume.free_bytes(),
            Err(DiskError::NotMounted { .. })
        ));
    }

    #[test]
    fn drop_unmounts_even_when_busy() {
        let scratch = Scratch::new("disk-drop");
        let volume = SmallVolume::create(scratch.0.join("v.img"), scratch.0.join("mnt"), 8)
            .unwrap_or_else(|e| panic!("make a loop-mounted volume: {}", error_chain(&e)));
        let mount_point = volume.mount_point().to_owned();
        // An open file keeps the filesystem busy, so a plain umount fails and drop detaches
        // lazily.
        let busy = File::create(mount_point.join("held-open")).expect("create a file");
        drop(volume);
        let mounts = fs::read_to_string("/proc/mounts").expect("read /proc/mounts");
        assert!(!mount_points(&mounts).any(|p| p == mount_point));
        drop(busy);
    }

    #[test]
    fn refuses_an_existing_image() {
        let scratch = Scratch::new("disk-exists");
        let image = scratch.0.join("taken.img");
        fs::write(&image, b"not an image").expect("write");
        let err = SmallVolume::create(&image, scratch.0.join("mnt"), 8).expect_err("exists");
        assert!(matches!(err, DiskError::ImageExists { .. }), "{err}");
        assert_eq!(fs::read(&image).expect("read"), b"not an image");
    }

    fn error_chain(e: &dyn std::error::Error) -> String {
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}
