//! The X11 display the compositor owns while it runs: the lock file `/tmp/.X<N>-lock`, the
//! socket `/tmp/.X11-unix/X<N>` and its abstract twin.
//!
//! `xwayland::Xwayland::open` claims one with [`X11Display::claim`] and keeps it for the
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
    lock_path: PathBuf,
    socket_path: PathBuf,
    listeners: Vec<UnixListener>,
}

impl X11Display {
    /// Claims the lowest free display number from :0 to :32, taking over the lock of a server
    /// that is no longer running.
    pub fn claim() -> io::Result<X11Display> {
        for number in 0..=LAST_DISPLAY {
            match X11Display::try_claim(number) {
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
        let socket_path = PathBuf::from(format!("{SOCKET_DIR}/X{number}"));
        let display = X11Display {
            number,
            lock_path,
            socket_path,
            listeners: Vec::new(),
        };
        display.bind()
    }

    fn bind(mut self) -> io::Result<X11Display> {
        if fs::metadata(SOCKET_DIR).is_err() {
            fs::create_dir_all(SOCKET_DIR)?;
            fs::set_permissions(SOCKET_DIR, fs::Permissions::from_mode(0o1777))?;
        }
        let abstract_name = self.socket_path.as_os_str().as_encoded_bytes().to_vec();
        let abstract_listener = SocketAddr::from_abstract_name(&abstract_name)
            .and_then(|addr| UnixListener::bind_addr(&addr))
            .map_err(|err| match err.kind() {
                io::ErrorKind::AddrInUse => io::Error::from(io::ErrorKind::AlreadyExists),
                _ => err,
            })?;
        // The lock is ours, so a socket file left here belongs to a server that is gone.
        let _ = fs::remove_file(&self.socket_path);
        let file_listener = UnixListener::bind(&self.socket_path)?;
        self.listeners = vec![file_listener, abstract_listener];
        Ok(self)
    }

    /// The display number: clients use `DISPLAY=:<number>`.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The value of `DISPLAY` for X11 clients.
    pub fn name(&self) -> String {
        format!(":{}", self.number)
    }

    /// The listening sockets, handed to each Xwayland with `-listenfd`.
    pub fn listeners(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.listeners.iter().map(AsFd::as_fd)
    }
}

impl Drop for X11Display {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.socket_path);
        let _ = fs::remove_file(&self.lock_path);
    }
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
