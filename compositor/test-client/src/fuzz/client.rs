//! One fuzz client: a Wayland connection to the compositor that sends random, well-formed
//! requests to every live object through `wayland_backend`'s untyped API, for as many steps as
//! its generation was given (then it is dropped with requests in flight), until the compositor
//! posts a protocol error, closes the socket, or stops answering.
//!
//! The run (`mod.rs`) makes one [`Client`] per connection and calls [`Client::run`]; the client
//! owns its live objects, its [`Rng`], its buffer [`Plans`] and its request log; events land in
//! its [`Inbox`] through each object's [`Recorder`] while it reads the socket, and are taken in
//! between steps. Every object argument names a live object of the right interface (or null
//! where the XML allows it), new objects take their parent's version, binds a version the global
//! and the XML both have, and no request is sent before its `since`.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use wayland_client::backend::protocol::{Argument, Message};
use wayland_client::backend::smallvec::SmallVec;
use wayland_client::backend::{Backend, ObjectData, ObjectId, WaylandError};
use wayland_client::Connection;

use super::buffers::{Formats, Plans};
use super::inbox::{lock, Inbox, Recorder};
use super::protocol::{self, ArgKind, MessageMeta};
use super::rng::Rng;
use super::values::{self, Value, MESSAGE_PAYLOAD_BUDGET};

/// How long the compositor may take to answer a wl_display.sync (or to drain the socket)
/// before the client calls it hung.
pub const HANG_TIMEOUT: Duration = Duration::from_secs(30);

/// How a client's connection ended.
#[derive(Debug)]
pub enum Ending {
    /// It reached its last step (or the run ended) and was dropped with requests in flight.
    Killed,
    /// The compositor posted a protocol error.
    ProtocolError {
        interface: String,
        code: u32,
        message: String,
    },
    /// The socket closed with no protocol error to read.
    Disconnected(String),
    /// No answer to a wl_display.sync within [`HANG_TIMEOUT`].
    Hang,
    /// The run was stopped (another client saw the compositor die).
    Stopped,
}

#[derive(Debug, Clone)]
struct Live {
    id: ObjectId,
    interface: usize,
    version: u32,
}

pub struct Client {
    backend: Backend,
    /// Keeps the connection open; dropping the client drops it abruptly.
    _connection: Connection,
    inbox: Arc<Mutex<Inbox>>,
    rng: Rng,
    live: Vec<Live>,
    plans: Plans,
    display: usize,
    registry: usize,
    callback: usize,
    /// Every request this connection sent, as `interface@id.request(args)`.
    pub history: Vec<String>,
    pub requests: u64,
    /// Requests sent, by (interface, opcode).
    pub counts: HashMap<(usize, usize), u64>,
    /// Globals bound, by interface.
    pub binds: HashMap<usize, u64>,
    /// Requests never sent: (interface, opcode).
    skip: Vec<(usize, usize)>,
    /// How often (percent) an integer is drawn from every family rather than tamely: drawn per
    /// connection, so that some connections stay well-behaved long enough to go deep.
    wildness: u64,
    /// The interface of every object id this connection used, for naming the object of a
    /// protocol error read after the object was gone.
    names: HashMap<u32, usize>,
    /// When set, every request is printed to stderr after this prefix.
    trace: Option<String>,
}

impl Client {
    /// Connects to `display` (a socket name in `$XDG_RUNTIME_DIR`, or a path), or to
    /// `$WAYLAND_DISPLAY`, and asks for the registry.
    pub fn connect(
        mut rng: Rng,
        skip: Vec<(usize, usize)>,
        display: Option<&str>,
    ) -> Result<Self, String> {
        let wildness = [2, 10, 40][rng.index(3)];
        let connection = match display {
            None => Connection::connect_to_env().map_err(|e| e.to_string())?,
            Some(name) => {
                let path = if name.starts_with('/') {
                    std::path::PathBuf::from(name)
                } else {
                    std::path::PathBuf::from(
                        std::env::var_os("XDG_RUNTIME_DIR").unwrap_or_default(),
                    )
                    .join(name)
                };
                let stream = std::os::unix::net::UnixStream::connect(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Connection::from_socket(stream).map_err(|e| e.to_string())?
            }
        };
        let backend = connection.backend();
        let index = |name| protocol::find(name).ok_or(format!("no {name} in the protocol tables"));
        let display = index("wl_display")?;
        let mut client = Client {
            live: vec![Live {
                id: backend.display_id(),
                interface: display,
                version: 1,
            }],
            backend,
            _connection: connection,
            inbox: Arc::default(),
            rng,
            plans: Plans::default(),
            display,
            registry: index("wl_registry")?,
            callback: index("wl_callback")?,
            history: Vec::new(),
            requests: 0,
            counts: HashMap::new(),
            binds: HashMap::new(),
            skip,
            wildness,
            names: HashMap::new(),
            trace: None,
        };
        let get_registry = protocol::interface(display)
            .requests
            .iter()
            .position(|r| r.name == "get_registry")
            .ok_or("wl_display has no get_registry")?;
        let display_object = client.live[0].clone();
        client
            .send(&display_object, get_registry, vec![Value::NewId])
            .map_err(|e| format!("{e:?}"))?;
        Ok(client)
    }

    /// Prints every request from now on, after `prefix`.
    pub fn trace(&mut self, prefix: String) {
        self.trace = Some(prefix);
    }

    /// The globals the registry advertised so far: (interface, version).
    pub fn globals(&self) -> Vec<(String, u32)> {
        lock(&self.inbox)
            .globals
            .iter()
            .map(|g| (g.interface.clone(), g.version))
            .collect()
    }

    /// Sends `steps` requests (fewer if the connection ends first), reading events and
    /// roundtripping now and then.
    pub fn run(&mut self, steps: u64, deadline: Instant, stop: &AtomicBool) -> Ending {
        match self.run_inner(steps, deadline, stop) {
            Ok(()) => {
                // Requests in flight: flushed, never answered.
                let _ = self.backend.flush();
                Ending::Killed
            }
            Err(ending) => ending,
        }
    }

    fn run_inner(
        &mut self,
        steps: u64,
        deadline: Instant,
        stop: &AtomicBool,
    ) -> Result<(), Ending> {
        self.roundtrip()?;
        for _ in 0..steps {
            if stop.load(Ordering::Relaxed) {
                return Err(Ending::Stopped);
            }
            if Instant::now() >= deadline {
                return Ok(());
            }
            self.absorb();
            self.step()?;
            if self.rng.one_in(8) {
                self.flush()?;
                self.read_events(Duration::ZERO)?;
            }
            if self.rng.one_in(150) {
                self.roundtrip()?;
            }
        }
        Ok(())
    }

    /// Takes what events did: objects they created or destroyed.
    fn absorb(&mut self) {
        let (created, destroyed) = {
            let mut inbox = lock(&self.inbox);
            if inbox.callbacks_done.len() > 64 {
                inbox.callbacks_done.clear();
            }
            (
                std::mem::take(&mut inbox.created),
                std::mem::take(&mut inbox.destroyed),
            )
        };
        for (id, version) in created {
            if let Some(interface) = protocol::find(id.interface().name) {
                self.names.insert(id.protocol_id(), interface);
                self.live.push(Live {
                    id,
                    interface,
                    version,
                });
            }
        }
        for id in destroyed {
            self.forget(&id);
        }
    }

    fn forget(&mut self, id: &ObjectId) {
        if let Some(i) = self.live.iter().position(|l| &l.id == id) {
            if i != 0 {
                self.live.swap_remove(i);
            }
        }
        self.plans.forget(id);
    }

    /// One request to a random live object (or a bind).
    fn step(&mut self) -> Result<(), Ending> {
        let bind_chance = if self.live.len() < 8 { 40 } else { 6 };
        if self.rng.percent(bind_chance) {
            return self.bind();
        }
        let object = self.live[self.rng.index(self.live.len())].clone();
        if object.interface == self.display && !self.rng.one_in(8) {
            return Ok(());
        }
        if object.interface == self.registry {
            return self.bind();
        }
        let meta = protocol::interface(object.interface);
        let eligible: SmallVec<[usize; 32]> = (0..meta.requests.len())
            .filter(|&i| meta.requests[i].since <= object.version)
            .collect();
        let Some(&first) = self.rng.pick(&eligible) else {
            return Ok(());
        };
        // Destructors come, but objects live a while first.
        let opcode = if meta.requests[first].destructor && self.rng.percent(70) {
            eligible[self.rng.index(eligible.len())]
        } else {
            first
        };
        if self.skip.contains(&(object.interface, opcode)) {
            return Ok(());
        }
        let request = &meta.requests[opcode];
        let Some(mut values) = self.build(request) else {
            return Ok(());
        };
        if Plans::knows(meta.name, request.name) && self.rng.percent(85) {
            let formats = {
                let inbox = lock(&self.inbox);
                Formats {
                    shm: inbox.shm_formats.clone(),
                    dmabuf: inbox.dmabuf_formats.clone(),
                }
            };
            self.plans.shape(
                &mut self.rng,
                meta.name,
                request.name,
                &object.id,
                &mut values,
                &formats,
            );
        }
        self.send(&object, opcode, values).map(|_| ())
    }

    /// The arguments of `request`, or None when one cannot be well-formed (an object argument
    /// with no live object of its interface and no null allowed).
    fn build(&mut self, request: &MessageMeta) -> Option<Vec<Value>> {
        let mut budget = MESSAGE_PAYLOAD_BUDGET;
        let mut values = Vec::with_capacity(request.args.len());
        for arg in request.args {
            let value = match arg.kind {
                ArgKind::Int => {
                    let wild = self.rng.percent(self.wildness);
                    let inbox = lock(&self.inbox);
                    Value::Int(values::integer(&mut self.rng, &inbox.pool, arg, wild) as i32)
                }
                ArgKind::Uint => {
                    let wild = self.rng.percent(self.wildness);
                    let inbox = lock(&self.inbox);
                    Value::Uint(values::integer(&mut self.rng, &inbox.pool, arg, wild))
                }
                ArgKind::Fixed => {
                    let inbox = lock(&self.inbox);
                    Value::Fixed(values::fixed(&mut self.rng, &inbox.pool))
                }
                ArgKind::Str => {
                    if arg.allow_null && self.rng.one_in(8) {
                        Value::Str(None)
                    } else {
                        let s = values::string(&mut self.rng, budget);
                        budget = budget.saturating_sub(s.as_bytes().len() + 8);
                        Value::Str(Some(s))
                    }
                }
                ArgKind::Array => {
                    let inbox = lock(&self.inbox);
                    let a = values::array(&mut self.rng, &inbox.pool, budget);
                    budget = budget.saturating_sub(a.len() + 4);
                    Value::Array(a)
                }
                ArgKind::Fd => {
                    let (fd, info) = values::fd(&mut self.rng)?;
                    Value::Fd(fd, info)
                }
                ArgKind::Object => {
                    let candidates: SmallVec<[usize; 16]> = match arg.interface {
                        Some(t) => (1..self.live.len())
                            .filter(|&i| self.live[i].interface == t)
                            .collect(),
                        None => SmallVec::new(),
                    };
                    if arg.allow_null && (candidates.is_empty() || self.rng.one_in(6)) {
                        Value::Object(None)
                    } else {
                        let chosen = *self.rng.pick(&candidates)?;
                        Value::Object(Some(self.live[chosen].id.clone()))
                    }
                }
                ArgKind::NewId => {
                    arg.interface?;
                    Value::NewId
                }
                // Only wl_registry.bind has one, and binds are made in `bind`.
                ArgKind::UntypedNewId => return None,
            };
            values.push(value);
        }
        Some(values)
    }

    /// wl_registry.bind of a random advertised global the tables know, at a random version
    /// both the global and the XML have.
    fn bind(&mut self) -> Result<(), Ending> {
        let globals: Vec<(u32, usize, u32)> = lock(&self.inbox)
            .globals
            .iter()
            .filter_map(|g| Some((g.name, protocol::find(&g.interface)?, g.version)))
            .collect();
        let Some(&(name, interface, advertised)) = self.rng.pick(&globals) else {
            return Ok(());
        };
        let Some(registry) = self
            .live
            .iter()
            .find(|l| l.interface == self.registry)
            .cloned()
        else {
            return Ok(());
        };
        let meta = protocol::interface(interface);
        let version = self
            .rng
            .range(1, u64::from(advertised.min(meta.version).max(1))) as u32;
        let Ok(interface_name) = CString::new(meta.name) else {
            return Ok(());
        };
        let sent = self.send(
            &registry,
            0,
            vec![
                Value::Uint(name),
                Value::Bind {
                    interface: interface_name,
                    version,
                },
            ],
        )?;
        if sent.is_some() {
            *self.binds.entry(interface).or_default() += 1;
        }
        Ok(())
    }

    /// Sends one request; returns the object it created, if any.
    fn send(
        &mut self,
        object: &Live,
        opcode: usize,
        values: Vec<Value>,
    ) -> Result<Option<ObjectId>, Ending> {
        let meta = protocol::interface(object.interface);
        let request = &meta.requests[opcode];
        let mut text = format!(
            "{}@{}.{}(",
            meta.name,
            object.id.protocol_id(),
            request.name
        );
        let mut child: Option<(usize, u32)> = None;
        for (i, (arg, value)) in request.args.iter().zip(&values).enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            describe(&mut text, value);
            match value {
                Value::NewId => {
                    child = arg.interface.map(|t| (t, object.version));
                }
                Value::Bind { interface, version } => {
                    child = interface
                        .to_str()
                        .ok()
                        .and_then(protocol::find)
                        .map(|t| (t, *version));
                }
                _ => {}
            }
        }
        text.push(')');

        let pool_size = Plans::pool_size(meta.name, request.name, &values);
        let mut fds = Vec::new();
        let mut args = SmallVec::new();
        for value in values {
            match value {
                Value::Int(v) => args.push(Argument::Int(v)),
                Value::Uint(v) => args.push(Argument::Uint(v)),
                Value::Fixed(v) => args.push(Argument::Fixed(v)),
                Value::Str(s) => args.push(Argument::Str(s.map(Box::new))),
                Value::Object(o) => args.push(Argument::Object(o.unwrap_or_else(ObjectId::null))),
                Value::NewId => args.push(Argument::NewId(ObjectId::null())),
                Value::Bind { interface, version } => {
                    args.push(Argument::Str(Some(Box::new(interface))));
                    args.push(Argument::Uint(version));
                    args.push(Argument::NewId(ObjectId::null()));
                }
                Value::Array(a) => args.push(Argument::Array(Box::new(a))),
                Value::Fd(fd, _) => {
                    args.push(Argument::Fd(fd.as_raw_fd()));
                    fds.push(fd);
                }
            }
        }
        let message = Message {
            sender_id: object.id.clone(),
            opcode: opcode as u16,
            args,
        };
        let child_spec = child.map(|(t, version)| (protocol::interface(t).interface, version));
        let data =
            child.map(|(_, version)| Recorder::new(&self.inbox, version) as Arc<dyn ObjectData>);
        let result = self.backend.send_request(message, data, child_spec);
        drop(fds);
        let created = match result {
            Ok(id) => id,
            Err(_) => {
                // The object is gone (destroyed by an event this client has not taken yet).
                self.forget(&object.id);
                return Ok(None);
            }
        };
        let created = match child {
            Some((interface, version)) if !created.is_null() => {
                text.push_str(&format!(
                    " -> {}@{}",
                    protocol::interface(interface).name,
                    created.protocol_id()
                ));
                if let Some(size) = pool_size {
                    self.plans.pool_created(&created, size);
                }
                self.names.insert(created.protocol_id(), interface);
                self.live.push(Live {
                    id: created.clone(),
                    interface,
                    version,
                });
                Some(created)
            }
            _ => None,
        };
        if request.destructor {
            self.forget(&object.id);
        }
        self.requests += 1;
        *self.counts.entry((object.interface, opcode)).or_default() += 1;
        if let Some(prefix) = &self.trace {
            eprintln!("{prefix}: {text}");
        }
        self.history.push(text);
        if let Some(WaylandError::Protocol(_)) = self.backend.last_error() {
            return Err(self.ending(None));
        }
        Ok(created)
    }

    /// Sends everything queued, waiting (and reading events) while the socket is full.
    fn flush(&mut self) -> Result<(), Ending> {
        let started = Instant::now();
        loop {
            match self.backend.flush() {
                Ok(()) => return Ok(()),
                Err(WaylandError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if started.elapsed() > HANG_TIMEOUT {
                        return Err(Ending::Hang);
                    }
                    self.read_events(Duration::from_millis(50))?;
                }
                Err(e) => return Err(self.ending(Some(e))),
            }
        }
    }

    /// Reads and dispatches what the compositor sent, waiting at most `wait` for it.
    fn read_events(&mut self, wait: Duration) -> Result<(), Ending> {
        if let Some(guard) = self.backend.prepare_read() {
            let ready = {
                let fd = guard.connection_fd();
                let mut fds = [PollFd::new(&fd, PollFlags::IN | PollFlags::ERR)];
                let timeout = Timespec {
                    tv_sec: wait.as_secs() as i64,
                    tv_nsec: i64::from(wait.subsec_nanos()),
                };
                rustix::event::poll(&mut fds, Some(&timeout)).unwrap_or(0) > 0
            };
            if ready {
                match guard.read() {
                    Ok(_) => {}
                    Err(WaylandError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(self.ending(Some(e))),
                }
            }
        }
        match self.backend.dispatch_inner_queue() {
            Ok(_) => Ok(()),
            Err(e) => Err(self.ending(Some(e))),
        }
    }

    /// wl_display.sync, then events until its callback is done (or [`HANG_TIMEOUT`]).
    fn roundtrip(&mut self) -> Result<(), Ending> {
        let display = self.live[0].clone();
        let sync = protocol::interface(self.display)
            .requests
            .iter()
            .position(|r| r.name == "sync")
            .unwrap_or(0);
        let Some(callback) = self.send(&display, sync, vec![Value::NewId])? else {
            return Ok(());
        };
        debug_assert_eq!(
            protocol::find(callback.interface().name),
            Some(self.callback)
        );
        let started = Instant::now();
        loop {
            self.flush()?;
            self.read_events(Duration::from_millis(100))?;
            {
                let mut inbox = lock(&self.inbox);
                if let Some(i) = inbox.callbacks_done.iter().position(|c| c == &callback) {
                    inbox.callbacks_done.swap_remove(i);
                    return Ok(());
                }
            }
            if started.elapsed() > HANG_TIMEOUT {
                return Err(Ending::Hang);
            }
        }
    }

    /// How the connection ended, given the error a call returned.
    fn ending(&self, error: Option<WaylandError>) -> Ending {
        match error.or_else(|| self.backend.last_error()) {
            Some(WaylandError::Protocol(p)) => Ending::ProtocolError {
                // libwayland names no interface when the object is already gone.
                interface: match (p.object_interface.is_empty(), self.names.get(&p.object_id)) {
                    (true, Some(&i)) => protocol::interface(i).name.to_string(),
                    (true, None) => "(a destroyed object)".to_string(),
                    _ => p.object_interface,
                },
                code: p.code,
                message: p.message,
            },
            Some(WaylandError::Io(e)) => match self.unread_error() {
                Some((object, code, message)) => Ending::ProtocolError {
                    interface: self
                        .names
                        .get(&object)
                        .map(|&i| protocol::interface(i).name.to_string())
                        .unwrap_or_else(|| format!("object {object}")),
                    code,
                    message: format!("{message} (read after the socket closed)"),
                },
                None => Ending::Disconnected(e.to_string()),
            },
            None => Ending::Disconnected("no error".into()),
        }
    }

    /// A wl_display.error still in the socket when writing failed first: the compositor posts
    /// the error and closes, and a client that was writing sees the closed socket before it
    /// reads. Read straight from the socket (the backend will not read after an error).
    fn unread_error(&self) -> Option<(u32, u32, String)> {
        let fd = self.backend.poll_fd();
        let mut bytes = vec![0u8; 64 * 1024];
        let mut filled = 0;
        loop {
            let mut fds = [PollFd::new(&fd, PollFlags::IN)];
            let ready = rustix::event::poll(
                &mut fds,
                Some(&Timespec {
                    tv_sec: 0,
                    tv_nsec: 50_000_000,
                }),
            )
            .unwrap_or(0);
            if ready == 0 || filled == bytes.len() {
                break;
            }
            match rustix::io::read(fd, &mut bytes[filled..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => filled += n,
            }
        }
        find_display_error(&bytes[..filled])
    }
}

/// Finds a wl_display.error event (object 1, opcode 0: object id, code, message) in raw
/// protocol bytes, wherever it starts on a 4-byte boundary.
fn find_display_error(bytes: &[u8]) -> Option<(u32, u32, String)> {
    let word = |at: usize| -> Option<u32> {
        let b = bytes.get(at..at + 4)?;
        Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut at = 0;
    while at + 16 <= bytes.len() {
        if word(at) == Some(1) {
            let header = word(at + 4)?;
            let (size, opcode) = ((header >> 16) as usize, header & 0xffff);
            if opcode == 0 && (20..=4096).contains(&size) && at + size <= bytes.len() {
                let object = word(at + 8)?;
                let code = word(at + 12)?;
                let len = word(at + 16)? as usize;
                let text = bytes.get(at + 20..at + 20 + len.saturating_sub(1))?;
                return Some((object, code, String::from_utf8_lossy(text).into_owned()));
            }
        }
        at += 4;
    }
    None
}

/// Appends a request argument as the log shows it.
fn describe(text: &mut String, value: &Value) {
    use std::fmt::Write as _;
    let _ = match value {
        Value::Int(v) => write!(text, "{v}"),
        Value::Uint(v) => write!(text, "{v}"),
        Value::Fixed(v) => write!(text, "{}", f64::from(*v) / 256.0),
        Value::Str(None) | Value::Object(None) => write!(text, "null"),
        Value::Str(Some(s)) => {
            let s = s.to_string_lossy();
            if s.len() > 40 {
                let cut = s.char_indices().nth(32).map(|(i, _)| i).unwrap_or(s.len());
                write!(text, "{:?}... ({} bytes)", &s[..cut], s.len())
            } else {
                write!(text, "{s:?}")
            }
        }
        Value::Object(Some(id)) => write!(text, "{}@{}", id.interface().name, id.protocol_id()),
        Value::NewId => write!(text, "new_id"),
        Value::Bind { interface, version } => {
            write!(text, "{:?} v{version}, new_id", interface.to_string_lossy())
        }
        Value::Array(a) => write!(text, "array[{} bytes]", a.len()),
        Value::Fd(_, info) => write!(text, "{info}"),
    };
}

#[cfg(test)]
mod tests {
    use super::find_display_error;

    #[test]
    fn display_errors_are_found_in_raw_bytes() {
        let message = b"bad stride\0\0";
        let mut bytes = vec![0u8; 8];
        let words = [1u32, ((20 + message.len() as u32) << 16), 5, 3, 11];
        for w in words {
            bytes.extend_from_slice(&w.to_ne_bytes());
        }
        bytes.extend_from_slice(message);
        let found = find_display_error(&bytes).unwrap();
        assert_eq!(found, (5, 3, "bad stride".to_string()));
        assert_eq!(find_display_error(&[0; 64]), None);
    }
}
