//! One IPC connection, served from the event loop without ever blocking it: the request line is
//! read as it arrives, the reply written as the peer takes it.
//!
//! `server::listen` hands each accepted stream to [`read_request`]; the request goes to
//! `server::answer` (or to the backend's queue), and the reply to [`write_reply`]. A peer that
//! sends no full request within [`REQUEST_TIMEOUT`], or takes no part of its reply for
//! [`REPLY_TIMEOUT`], is dropped.

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::{Interest, LoopHandle, Mode, PostAction, RegistrationToken};

use super::messages::{Reply, Request};
use crate::state::State;

/// Longest a `msg` client may take to send its request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest a peer may go without taking any of its reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest request line accepted.
const MAX_REQUEST: usize = 64 * 1024;

/// The event source serving one stage of a connection, removed by its timer if it is still
/// there when the timer fires.
type Stage = Rc<Cell<Option<RegistrationToken>>>;

/// Removes `stage`'s source after `timeout` unless it finished first; `progress` restarts the
/// clock each time the peer moved.
fn expire(
    handle: &LoopHandle<'static, State>,
    stage: &Stage,
    progress: Rc<Cell<bool>>,
    timeout: Duration,
    what: &'static str,
) {
    let stage = stage.clone();
    let remover = handle.clone();
    let inserted = handle.insert_source(Timer::from_duration(timeout), move |_, _, _| {
        if stage.get().is_none() {
            return TimeoutAction::Drop;
        }
        if progress.replace(false) {
            return TimeoutAction::ToDuration(timeout);
        }
        if let Some(token) = stage.take() {
            remover.remove(token);
            tracing::debug!(what, "IPC peer timed out");
        }
        TimeoutAction::Drop
    });
    if let Err(err) = inserted {
        tracing::warn!(%err, "IPC timer");
    }
}

/// Reads one request line from `stream` as it arrives, then answers it.
pub fn read_request(handle: &LoopHandle<'static, State>, stream: UnixStream) {
    if let Err(err) = stream.set_nonblocking(true) {
        tracing::debug!(%err, "IPC stream");
        return;
    }
    let stage: Stage = Rc::default();
    let progress = Rc::new(Cell::new(false));
    let mut line = Vec::new();
    let source_stage = stage.clone();
    let source_progress = progress.clone();
    let writer = handle.clone();
    let inserted = handle.insert_source(
        Generic::new(stream, Interest::READ, Mode::Level),
        move |_, stream, state| {
            let mut chunk = [0u8; 4096];
            let mut reader: &UnixStream = stream;
            let request = loop {
                match reader.read(&mut chunk) {
                    Ok(0) => break Some(parse(&line)),
                    Ok(n) => {
                        source_progress.set(true);
                        line.extend_from_slice(&chunk[..n]);
                        if let Some(end) = line.iter().position(|b| *b == b'\n') {
                            line.truncate(end);
                            break Some(parse(&line));
                        }
                        if line.len() > MAX_REQUEST {
                            break Some(Err(format!("request longer than {MAX_REQUEST} bytes")));
                        }
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => break None,
                    Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                    Err(err) => break Some(Err(format!("reading the request: {err}"))),
                }
            };
            let Some(request) = request else {
                return Ok(PostAction::Continue);
            };
            source_stage.set(None);
            let Ok(stream) = stream.try_clone() else {
                return Ok(PostAction::Remove);
            };
            match request {
                Ok(request) if request.is_for_backend() => {
                    state.backend_requests.push((request, stream));
                }
                Ok(request) => {
                    let reply = super::server::answer(state, request);
                    write_reply(&writer, stream, &reply);
                }
                Err(message) => write_reply(&writer, stream, &Reply::Error { message }),
            }
            Ok(PostAction::Remove)
        },
    );
    match inserted {
        Ok(token) => {
            stage.set(Some(token));
            expire(handle, &stage, progress, REQUEST_TIMEOUT, "request");
        }
        Err(err) => tracing::warn!(%err, "IPC connection"),
    }
}

fn parse(line: &[u8]) -> Result<Request, String> {
    let text = String::from_utf8_lossy(line);
    serde_json::from_str(text.trim()).map_err(|e| format!("bad request {text:?}: {e}"))
}

/// Writes `reply` to `stream` as fast as the peer takes it, from the event loop.
pub fn write_reply(handle: &LoopHandle<'static, State>, mut stream: UnixStream, reply: &Reply) {
    let mut bytes = serde_json::to_string(reply)
        .unwrap_or_else(|e| {
            format!("{{\"reply\":\"error\",\"message\":\"cannot encode reply: {e}\"}}")
        })
        .into_bytes();
    bytes.push(b'\n');
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let mut written = 0;
    match write_some(&mut stream, &bytes, &mut written) {
        Ok(true) => return,
        Ok(false) => {}
        Err(err) => {
            tracing::debug!(%err, "IPC client went away before the reply");
            return;
        }
    }
    let stage: Stage = Rc::default();
    let progress = Rc::new(Cell::new(false));
    let source_stage = stage.clone();
    let source_progress = progress.clone();
    let inserted = handle.insert_source(
        Generic::new(stream, Interest::WRITE, Mode::Level),
        move |_, stream, _| {
            let before = written;
            let mut peer: &UnixStream = stream;
            let done = write_some(&mut peer, &bytes, &mut written);
            if written > before {
                source_progress.set(true);
            }
            match done {
                Ok(false) => Ok(PostAction::Continue),
                Ok(true) => {
                    source_stage.set(None);
                    Ok(PostAction::Remove)
                }
                Err(err) => {
                    tracing::debug!(%err, "IPC client went away during the reply");
                    source_stage.set(None);
                    Ok(PostAction::Remove)
                }
            }
        },
    );
    match inserted {
        Ok(token) => {
            stage.set(Some(token));
            expire(handle, &stage, progress, REPLY_TIMEOUT, "reply");
        }
        Err(err) => tracing::warn!(%err, "IPC reply"),
    }
}

/// Writes what the peer takes now; true once everything is written.
fn write_some(stream: &mut impl Write, bytes: &[u8], written: &mut usize) -> std::io::Result<bool> {
    while *written < bytes.len() {
        match stream.write(&bytes[*written..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => *written += n,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(true)
}
