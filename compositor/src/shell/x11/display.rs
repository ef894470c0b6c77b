//! The X11 display the compositor owns while it runs: the lock file `/tmp/.X<N>-lock`, the
//! socket `/tmp/.X11-unix/X<N>` and its abstract twin. Where `/tmp` cannot be written (a
//! read-only root), the abstract socket alone: binding it is exclusive, so it is the lock too,
//! and X11 clients on Linux try it first.
//!
//! `shell::x11::enable` claims one with [`X11Display::claim`] and keeps it for the
//! compositor's lifetime, whether or not Xwayland runs: X11 clients find the display at once,
//! their first connection is what starts Xwayland, and a new Xwayland after a crash is handed
//! the same sockets. Dropping it removes the lock file and the socket file.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::PathBuf;

/// Where X11 clients look for display sockets.
const SOCKET_DIR: &str = "/tmp/.X11-unix";

/// The highest display number tried.
const LAST_DISPLAY: u32 = 32;

/// A claimed X11 display number with its listening sockets.
#[derive(Debug)]
pub struct X11Display {
    number: u32,
    /// The lock file and the socket file, unless the display has only its abstract socket.
    files: Option<(PathBuf, PathBuf)>,
    listeners: Vec<UnixListener>,
}

impl X11Display {
    /// Claims the lowest free display number from :0 to :32, taking over the lock of a server
    /// that is no longer running.
    pub fn claim() -> io::Result<X11Display> {
        match X11Display::claim_first(X11Display::try_claim) {
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied
                ) =>
            {
                tracing::warn!(%err, "/tmp cannot be written: the X11 display gets only its abstract socket");
                X11Display::claim_first(X11Display::claim_abstract)
            }
            claimed => claimed,
        }
    }

    fn claim_first(try_claim: fn(u32) -> io::Result<X11Display>) -> io::Result<X11Display> {
        for number in 0..=LAST_DISPLAY {
            match try_claim(number) {
                Ok(display) => return Ok(display),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(err),
            }
        }
        Err(io::Error::other(format!(
            "no free X11 display from :0 to :{LAST_DISPLAY}"
        )))
    }

    fn try_claim(number: u32) -> io::Result<X11Display> {
        let lock_path = PathBuf::from(format!("/tmp/.X{number}-lock"));
        take_lock(&lock_path)?;
        let socket_path = socket_path(number);
        // From here on, dropping the display releases the lock.
        let mut display = X11Display {
            number,
            files: Some((lock_path, socket_path.clone())),
            listeners: Vec::new(),
        };
        if fs::metadata(SOCKET_DIR).is_err() {
            fs::create_dir_all(SOCKET_DIR)?;
            fs::set_permissions(SOCKET_DIR, fs::Permissions::from_mode(0o1777))?;
        }
        let abstract_listener = bind_abstract(number)?;
        // The lock is ours, so a socket file left here belongs to a server that is gone.
        let _ = fs::remove_file(&socket_path);
        let file_listener = UnixListener::bind(&socket_path)?;
        display.listeners = vec![file_listener, abstract_listener];
        Ok(display)
    }

    fn claim_abstract(number: u32) -> io::Result<X11Display> {
        Ok(X11Display {
            number,
            files: None,
            listeners: vec![bind_abstract(number)?],
        })
    }

    /// The display number: clients use `DISPLAY=:<number>`.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The value of `DISPLAY` for X11 clients.
    pub fn name(&self) -> String {
        format!(":{}", self.number)
    }

    /// Accepts and closes every connection waiting on the display (their clients see the
    /// connection closed), so that a waiting client does not start Xwayland again.
    pub fn refuse_waiting(&self) -> usize {
        let mut refused = 0;
        for listener in &self.listeners {
            if listener.set_nonblocking(true).is_err() {
                continue;
            }
            while listener.accept().is_ok() {
                refused += 1;
            }
        }
        refused
    }

    /// The listening sockets, handed to each Xwayland with `-listenfd`.
    pub fn listeners(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.listeners.iter().map(AsFd::as_fd)
    }
}

impl Drop for X11Display {
    fn drop(&mut self) {
        if let Some((lock_path, socket_path)) = &self.files {
            let _ = fs::remove_file(socket_path);
            let _ = fs::remove_file(lock_path);
        }
    }
}

fn socket_path(number: u32) -> PathBuf {
    PathBuf::from(format!("{SOCKET_DIR}/X{number}"))
}

/// Binds the abstract socket `@/tmp/.X11-unix/X<N>`; `AlreadyExists` if another server has it.
fn bind_abstract(number: u32) -> io::Result<UnixListener> {
    let name = socket_path(number).into_os_string().into_encoded_bytes();
    SocketAddr::from_abstract_name(&name)
        .and_then(|addr| UnixListener::bind_addr(&addr))
        .map_err(|err| match err.kind() {
            io::ErrorKind::AddrInUse => io::Error::from(io::ErrorKind::AlreadyExists),
            _ => err,
        })
}

/// Creates `path` holding this process's pid as X servers write it (ten columns and a
/// newline); a lock whose process is gone is replaced. `AlreadyExists` if a live one holds it.
fn take_lock(path: &PathBuf) -> io::Result<()> {
    for _ in 0..2 {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o444)
            .open(path)
        {
            Ok(mut file) => {
                let written = file.write_all(format!("{:>10}\n", std::process::id()).as_bytes());
                if let Err(err) = written {
                    let _ = fs::remove_file(path);
                    return Err(err);
                }
                return Ok(());
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                if lock_holder_alive(path) {
                    return Err(err);
                }
                tracing::info!(lock = %path.display(), "removing the lock of an X server that is gone");
                let _ = fs::remove_file(path);
            }
            Err(err) => return Err(err),
        }
    }
    Err(io::ErrorKind::AlreadyExists.into())
}

/// Whether the pid in an X lock file names a running process (unreadable locks count as held).
fn lock_holder_alive(path: &PathBuf) -> bool {
    let mut text = String::new();
    let read = fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text));
    match (read, text.trim().parse::<u32>()) {
        (Ok(_), Ok(pid)) => PathBuf::from(format!("/proc/{pid}")).exists(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_lock_is_taken_over_and_a_live_one_is_not() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lock = dir.path().join("lock");
        fs::write(&lock, format!("{:>10}\n", std::process::id())).expect("write");
        assert_eq!(
            take_lock(&lock).map_err(|e| e.kind()),
            Err(io::ErrorKind::AlreadyExists)
        );
        // A pid above the kernel's limit (4194304) never runs.
        fs::write(&lock, format!("{:>10}\n", 4_194_305)).expect("write");
        take_lock(&lock).expect("stale lock taken over");
        let text = fs::read_to_string(&lock).expect("read");
        assert_eq!(text, format!("{:>10}\n", std::process::id()));
        assert_eq!(text.len(), 11);
    }
}
