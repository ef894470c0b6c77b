//! X11 questions that need the X server's reply, asked off the event loop.
//!
//! A reply can take as long as the X server wants: an X11 client that grabs the server, or
//! one that rewrites its title in a loop, would stall every output, input and IPC if the event
//! loop waited for it. The window manager (`wm`) hands each question to a [`Queries`] thread,
//! which sends the requests on the window manager's connection, waits for the replies there,
//! and posts each answer to the event loop through a channel; `wm` applies answers as they
//! arrive. Questions about a window that are still waiting are asked once (a title rewritten
//! a thousand times is read once more, not a thousand times).

use std::collections::BTreeSet;
use std::sync::mpsc::{self, Receiver, RecvError, Sender};
use std::sync::Arc;

use smithay::reexports::calloop::channel::{self, Channel};
use smithay::xwayland::xwm::Atoms;
use x11rb::protocol::res::{ClientIdMask, ClientIdSpec, ConnectionExt as _};
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _};
use x11rb::rust_connection::RustConnection;

/// Longest title or class kept from a window's properties, in bytes.
const MAX_PROPERTY_BYTES: u32 = 4096;

/// A question for the X server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Question {
    /// The title, class, pid and protocols of a window.
    Properties(u32),
    /// How many X11 clients the server has besides the window manager.
    OtherClients,
}

/// What a window's properties say.
#[derive(Debug, Clone, Default)]
pub struct Properties {
    pub title: String,
    pub class: String,
    pub pid: Option<u32>,
    /// It takes WM_DELETE_WINDOW.
    pub deletable: bool,
}

/// The X server's answer to a [`Question`].
#[derive(Debug)]
pub enum Answer {
    Properties(u32, Properties),
    /// `None` when the server did not answer.
    OtherClients(Option<usize>),
}

/// The thread that asks: dropping it ends the thread once the question it is waiting on (if
/// any) is answered or the connection closes.
pub struct Queries {
    questions: Sender<Question>,
}

impl Queries {
    /// Starts the thread on `conn`; its answers come out of the returned channel.
    pub fn start(
        conn: Arc<RustConnection>,
        atoms: Atoms,
        wm_window: u32,
    ) -> std::io::Result<(Queries, Channel<Answer>)> {
        let (questions, asked) = mpsc::channel();
        let (answers, channel) = channel::channel();
        std::thread::Builder::new()
            .name("x11-queries".into())
            .spawn(move || {
                let asker = Asker {
                    conn,
                    atoms,
                    wm_window,
                };
                while let Ok(batch) = next_batch(&asked) {
                    for question in batch {
                        if answers.send(asker.answer(question)).is_err() {
                            return;
                        }
                    }
                }
            })?;
        Ok((Queries { questions }, channel))
    }

    /// Asks `question`; its answer reaches the event loop later.
    pub fn ask(&self, question: Question) {
        // The thread is gone only when the connection is: nobody waits for the answer then.
        let _ = self.questions.send(question);
    }
}

/// The next question and every one queued behind it, each once.
fn next_batch(asked: &Receiver<Question>) -> Result<BTreeSet<Question>, RecvError> {
    let mut batch = BTreeSet::from([asked.recv()?]);
    batch.extend(asked.try_iter());
    Ok(batch)
}

struct Asker {
    conn: Arc<RustConnection>,
    atoms: Atoms,
    wm_window: u32,
}

impl Asker {
    fn answer(&self, question: Question) -> Answer {
        match question {
            Question::Properties(window) => Answer::Properties(window, self.properties(window)),
            Question::OtherClients => Answer::OtherClients(self.other_clients()),
        }
    }

    fn text(&self, window: u32, property: u32) -> Option<String> {
        let reply = self
            .conn
            .get_property(
                false,
                window,
                property,
                AtomEnum::ANY,
                0,
                MAX_PROPERTY_BYTES / 4,
            )
            .ok()?
            .reply()
            .ok()?;
        Some(String::from_utf8_lossy(&reply.value).into_owned())
    }

    fn cardinals(&self, window: u32, property: u32, kind: AtomEnum) -> Vec<u32> {
        self.conn
            .get_property(false, window, property, kind, 0, 64)
            .ok()
            .and_then(|cookie| cookie.reply().ok())
            .and_then(|reply| reply.value32().map(|values| values.collect()))
            .unwrap_or_default()
    }

    fn properties(&self, window: u32) -> Properties {
        let title = self
            .text(window, self.atoms._NET_WM_NAME)
            .filter(|t| !t.is_empty())
            .or_else(|| self.text(window, AtomEnum::WM_NAME.into()))
            .unwrap_or_default();
        // WM_CLASS holds the instance and the class, each ending in a NUL.
        let class = self
            .text(window, AtomEnum::WM_CLASS.into())
            .and_then(|c| c.split('\0').nth(1).map(str::to_owned))
            .unwrap_or_default();
        let pid = self
            .cardinals(window, self.atoms._NET_WM_PID, AtomEnum::CARDINAL)
            .first()
            .copied()
            .or_else(|| self.client_pid(window));
        let deletable = self
            .cardinals(window, self.atoms.WM_PROTOCOLS, AtomEnum::ATOM)
            .contains(&self.atoms.WM_DELETE_WINDOW);
        Properties {
            title,
            class,
            pid,
            deletable,
        }
    }

    /// The pid of the local client that owns `window`, as the X server knows it (for programs
    /// that set no _NET_WM_PID).
    fn client_pid(&self, window: u32) -> Option<u32> {
        let spec = ClientIdSpec {
            client: window,
            mask: ClientIdMask::LOCAL_CLIENT_PID,
        };
        let reply = self.conn.res_query_client_ids(&[spec]).ok()?.reply().ok()?;
        reply
            .ids
            .iter()
            .find(|id| id.spec.mask == ClientIdMask::LOCAL_CLIENT_PID)
            .and_then(|id| id.value.first().copied())
    }

    fn other_clients(&self) -> Option<usize> {
        let reply = self.conn.res_query_clients().ok()?.reply().ok()?;
        // The server itself is listed as the client with resource base 0.
        let others = reply.clients.iter().filter(|client| {
            client.resource_base != 0
                && client.resource_base != self.wm_window & !client.resource_mask
        });
        Some(others.count())
    }
}
