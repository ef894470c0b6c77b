//! Where the Wayland and IPC sockets live: `XDG_RUNTIME_DIR`, or a private stand-in when it is
//! unset (as on a bare machine or a plain `su` shell).
//!
//! `main` calls [`for_session`] before a backend starts: an unset variable becomes
//! `$TMPDIR/tandem-runtime-UID`, kept between runs so that `tandem-compositor msg` from another
//! terminal ([`session_default`]) finds the compositor there. The demo and the stress test are
//! self-contained and take a [`Private`] directory that is removed when they end.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The stand-in used when `XDG_RUNTIME_DIR` is unset.
pub fn session_default() -> PathBuf {
    std::env::temp_dir().join(format!("tandem-runtime-{}", user_id()))
}

/// This process's effective user id (the owner of its /proc entry).
fn user_id() -> u32 {
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

/// Makes sure `XDG_RUNTIME_DIR` names a usable private directory, setting it to
/// [`session_default`] (created if missing) when it is unset. Call before any thread starts.
pub fn for_session() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if !dir.is_dir() {
            return Err(format!(
                "XDG_RUNTIME_DIR={} does not exist: create it (mkdir -m 700 -p {0}) or unset \
                 XDG_RUNTIME_DIR to use {}",
                dir.display(),
                session_default().display()
            ));
        }
        return Ok(dir);
    }
    let dir = session_default();
    create_private(&dir)?;
    tracing::info!(dir = %dir.display(), "XDG_RUNTIME_DIR is not set: using a private directory");
    // SAFETY: called from main before any other thread exists.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    Ok(dir)
}

/// Creates `dir` with mode 0700 if missing, and checks that it belongs to this user and that
/// nobody else can enter it.
fn create_private(dir: &Path) -> Result<(), String> {
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("{}: {e}", dir.display()))?,
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(format!("{}: {err}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let uid = user_id();
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{} is not a private directory of user {uid}: remove it, or set XDG_RUNTIME_DIR",
            dir.display()
        ));
    }
    Ok(())
}

/// A private runtime directory for a self-contained run (the demo, the stress test) when
/// `XDG_RUNTIME_DIR` is unset; removed when dropped.
pub struct Private(PathBuf);

impl Private {
    /// Sets `XDG_RUNTIME_DIR` to a new private directory if it is unset. Call before any thread
    /// starts.
    pub fn ensure() -> Result<Option<Private>, String> {
        if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| !d.is_empty()) {
            return Ok(None);
        }
        let path = std::env::temp_dir().join(format!("tandem-demo-{}", std::process::id()));
        create_private(&path)?;
        // SAFETY: called before any thread that reads the environment is started.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &path) };
        Ok(Some(Private(path)))
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
