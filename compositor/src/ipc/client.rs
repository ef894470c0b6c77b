//! `tandem-compositor msg`: finds the compositor's IPC socket, sends one request, prints the reply.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use super::messages::{Reply, Request};

/// The IPC socket: `TANDEM_SOCKET`, or the only one in XDG_RUNTIME_DIR (or, when that is
/// unset, in the private directory the compositor uses instead).
pub fn socket_path() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("TANDEM_SOCKET").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(crate::runtime_dir::session_default);
    let mut found: Vec<PathBuf> = std::fs::read_dir(&runtime)
        .map_err(|e| {
            format!(
                "{}: {e}: is tandem-compositor running? (set TANDEM_SOCKET to its IPC socket)",
                runtime.display()
            )
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("tandem-") && n.ends_with(".ipc.sock"))
        })
        .collect();
    match found.len() {
        0 => Err(format!(
            "no tandem-compositor IPC socket in {}: is it running?",
            runtime.display()
        )),
        1 => Ok(found.remove(0)),
        _ => Err(format!(
            "several compositors are running ({}); set TANDEM_SOCKET to one of them",
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

pub fn send(request: &Request) -> Result<Reply, String> {
    let path = socket_path()?;
    let mut stream = UnixStream::connect(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let text = serde_json::to_string(request).map_err(|e| e.to_string())?;
    writeln!(stream, "{text}").map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| format!("no reply: {e}"))?;
    serde_json::from_str(&line).map_err(|e| format!("bad reply {line:?}: {e}"))
}

/// `msg clients` as a table: one line per client, its sandbox last.
pub fn clients_table(reply: &super::messages::ClientsReply) -> String {
    use std::fmt::Write as _;
    let mut out = format!("{:<8} {:<8} {:<9} sandbox\n", "pid", "GPU", "xwayland");
    for client in &reply.clients {
        let pid = client.pid.map_or("-".to_owned(), |pid| pid.to_string());
        let sandbox = match &client.sandbox {
            None => "none (privileged)".to_owned(),
            Some(sandbox) => format!(
                "{} app {} instance {}",
                sandbox.engine.as_deref().unwrap_or("unnamed engine"),
                sandbox.app_id.as_deref().unwrap_or("-"),
                sandbox.instance_id.as_deref().unwrap_or("-"),
            ),
        };
        let xwayland = if client.xwayland { "yes" } else { "no" };
        let _ = writeln!(out, "{pid:<8} {:<8} {xwayland:<9} {sandbox}", client.gpu);
    }
    out
}
