//! What WLCS asks of the compositor thread, and the handle that asks it.
//!
//! `lib.rs` and `devices` build [`Action`]s and send them through [`Requests::call`], which
//! waits until the compositor thread (`compositor_thread::apply`) has carried the action out,
//! so that whatever it sends to clients is queued before WLCS's next roundtrip.

use std::os::fd::RawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::Duration;

use smithay::reexports::calloop::channel;

/// How long a request may take before WLCS is told it failed (a wedged or dead compositor).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// One thing for the compositor to do.
#[derive(Debug)]
pub enum Action {
    /// A client connected through `stream`; `key` is the client end's fd, by which WLCS names
    /// the client later.
    AddClient {
        key: RawFd,
        stream: UnixStream,
    },
    /// Move the window whose main surface has protocol id `surface` in client `key` so that
    /// the surface's origin lies at `origin`.
    Place {
        key: RawFd,
        surface: u32,
        origin: (i32, i32),
    },
    PointerTo {
        x: f64,
        y: f64,
    },
    PointerBy {
        dx: f64,
        dy: f64,
    },
    Button {
        code: u32,
        pressed: bool,
    },
    TouchDown {
        slot: u32,
        x: f64,
        y: f64,
    },
    TouchMove {
        slot: u32,
        x: f64,
        y: f64,
    },
    TouchUp {
        slot: u32,
    },
    /// Leave the event loop.
    Stop,
}

/// An action and where its outcome goes.
pub struct Request {
    pub action: Action,
    pub answer: mpsc::Sender<Result<(), String>>,
}

/// The way to the compositor thread.
#[derive(Clone)]
pub struct Requests(pub channel::Sender<Request>);

impl Requests {
    /// A handle whose every request fails: devices made while no compositor runs (a null
    /// device would crash the WLCS runner instead of failing the test).
    pub fn nowhere() -> Requests {
        Requests(channel::channel().0)
    }

    /// Has the compositor thread carry out `action`, and waits until it has.
    pub fn call(&self, action: Action) -> std::io::Result<()> {
        let (answer, outcome) = mpsc::channel();
        self.0
            .send(Request { action, answer })
            .map_err(|_| std::io::Error::other("the compositor thread has ended"))?;
        match outcome.recv_timeout(ANSWER_TIMEOUT) {
            Ok(result) => result.map_err(std::io::Error::other),
            Err(_) => Err(std::io::Error::other(
                "the compositor thread did not answer",
            )),
        }
    }

    /// Like `call`, for WLCS entry points that cannot report a failure: it is logged.
    pub fn call_logged(&self, action: Action) {
        let what = format!("{action:?}");
        if let Err(err) = self.call(action) {
            tracing::error!(%err, "{what}");
        }
    }
}
