//! Programs the compositor starts (the `-- COMMAND` client, the terminal on Super+Return):
//! kept until they exit and reaped as soon as they do, so none lingers as a zombie.
//!
//! `State` owns one [`Children`]; `server::spawn_client` adds to it (and `shell::x11` hands it an
//! exiting Xwayland), `Server::dispatch` reaps
//! it after every dispatch, and `main` kills the `-- COMMAND` client when the compositor quits.

use std::process::{Child, Command};

#[derive(Debug, Default)]
pub struct Children {
    running: Vec<Child>,
}

impl Children {
    /// Starts `command` and keeps it; returns its pid.
    pub fn spawn(&mut self, command: &mut Command) -> std::io::Result<u32> {
        let child = command.spawn()?;
        let pid = child.id();
        self.running.push(child);
        Ok(pid)
    }

    /// Keeps `child`, started elsewhere, to be reaped when it exits.
    pub fn adopt(&mut self, child: Child) {
        self.running.push(child);
    }

    /// Collects the exit status of every child that has exited.
    pub fn reap(&mut self) {
        self.running.retain_mut(|child| match child.try_wait() {
            Ok(Some(status)) => {
                tracing::info!(pid = child.id(), %status, "client exited");
                false
            }
            Ok(None) => true,
            Err(err) => {
                tracing::warn!(pid = child.id(), %err, "cannot wait for a client");
                false
            }
        });
    }

    /// Stops the child `pid` if it still runs, and waits for it.
    pub fn kill(&mut self, pid: u32) {
        if let Some(index) = self.running.iter().position(|c| c.id() == pid) {
            let mut child = self.running.swap_remove(index);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
