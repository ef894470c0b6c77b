//! What the compositor sent one fuzz client: the [`Inbox`] that every object's [`Recorder`]
//! (the `wayland_backend` object data of each fuzzed object) writes events into while the
//! client reads its socket, and that the client (`client.rs`) drains between requests: objects
//! created by events (wl_data_device.data_offer and the like) and objects destroyed, advertised
//! globals, completed callbacks, uint/int values for the [`Pool`], and the formats and modifiers
//! that wl_shm and linux-dmabuf announce (the format table's (format, modifier) pairs are read
//! from its fd).

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard};

use wayland_client::backend::protocol::{Argument, Message};
use wayland_client::backend::{Backend, ObjectData, ObjectId};

use super::protocol;
use super::values::Pool;

/// A global as the registry advertised it.
#[derive(Debug, Clone)]
pub struct Global {
    pub name: u32,
    pub interface: String,
    pub version: u32,
}

#[derive(Default)]
pub struct Inbox {
    pub pool: Pool,
    /// Objects events created, with their version.
    pub created: Vec<(ObjectId, u32)>,
    pub destroyed: Vec<ObjectId>,
    pub globals: Vec<Global>,
    /// wl_callback objects whose `done` came.
    pub callbacks_done: Vec<ObjectId>,
    /// (format, modifier) pairs linux-dmabuf announced (modifier events, format tables).
    pub dmabuf_formats: Vec<(u32, u64)>,
    pub shm_formats: Vec<u32>,
    pub events: u64,
}

/// Locks an inbox; a poisoned lock (a panic elsewhere) still holds usable data.
pub fn lock(inbox: &Mutex<Inbox>) -> MutexGuard<'_, Inbox> {
    inbox
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The object data of every fuzzed object: files its events into the client's inbox.
pub struct Recorder {
    pub inbox: Arc<Mutex<Inbox>>,
    /// The object's version, which objects created by its events inherit.
    pub version: u32,
}

impl Recorder {
    pub fn new(inbox: &Arc<Mutex<Inbox>>, version: u32) -> Arc<Self> {
        Arc::new(Self {
            inbox: inbox.clone(),
            version,
        })
    }
}

impl ObjectData for Recorder {
    fn event(
        self: Arc<Self>,
        _backend: &Backend,
        msg: Message<ObjectId, OwnedFd>,
    ) -> Option<Arc<dyn ObjectData>> {
        let interface = msg.sender_id.interface().name;
        let event = protocol::find(interface)
            .and_then(|i| protocol::interface(i).events.get(usize::from(msg.opcode)));
        let event_name = event.map(|e| e.name).unwrap_or("");
        let mut child: Option<Arc<dyn ObjectData>> = None;
        let mut fd = None;
        let mut uints = Vec::new();
        let mut strings = Vec::new();

        let mut inbox = lock(&self.inbox);
        inbox.events += 1;
        for (i, arg) in msg.args.into_iter().enumerate() {
            let arg_name = event.and_then(|e| e.args.get(i)).map(|a| a.name);
            match arg {
                Argument::Uint(v) => {
                    inbox.pool.push(v);
                    if arg_name.is_some_and(|n| n.contains("serial")) {
                        inbox.pool.push_serial(v);
                    }
                    uints.push(v);
                }
                Argument::Int(v) => inbox.pool.push(v as u32),
                Argument::Fixed(v) => inbox.pool.push((v >> 8) as u32),
                Argument::NewId(id) => {
                    inbox.created.push((id, self.version));
                    child = Some(Recorder::new(&self.inbox, self.version));
                }
                Argument::Fd(f) => fd = Some(f),
                Argument::Str(Some(s)) => strings.push(s.to_string_lossy().into_owned()),
                _ => {}
            }
        }

        match (interface, event_name) {
            ("wl_registry", "global") => {
                if let ([name, version], Some(iface)) = (uints.as_slice(), strings.pop()) {
                    inbox.globals.push(Global {
                        name: *name,
                        interface: iface,
                        version: *version,
                    });
                }
            }
            ("wl_registry", "global_remove") => {
                if let Some(name) = uints.first() {
                    inbox.globals.retain(|g| g.name != *name);
                }
            }
            ("wl_callback", "done") => inbox.callbacks_done.push(msg.sender_id.clone()),
            ("wl_shm", "format") => {
                if let Some(format) = uints.first() {
                    if !inbox.shm_formats.contains(format) && inbox.shm_formats.len() < 256 {
                        inbox.shm_formats.push(*format);
                    }
                }
            }
            ("zwp_linux_dmabuf_v1", "format") => {
                if let Some(format) = uints.first() {
                    add_dmabuf_format(&mut inbox, *format, 0);
                }
            }
            ("zwp_linux_dmabuf_v1", "modifier") => {
                if let [format, hi, lo] = uints.as_slice() {
                    add_dmabuf_format(&mut inbox, *format, u64::from(*hi) << 32 | u64::from(*lo));
                }
            }
            ("zwp_linux_dmabuf_feedback_v1", "format_table") => {
                if let (Some(fd), Some(size)) = (fd.as_ref(), uints.first()) {
                    for (format, modifier) in read_format_table(fd, *size) {
                        inbox.pool.push(format);
                        inbox.pool.push((modifier >> 32) as u32);
                        inbox.pool.push(modifier as u32);
                        add_dmabuf_format(&mut inbox, format, modifier);
                    }
                }
            }
            _ => {}
        }
        child
    }

    fn destroyed(&self, object_id: ObjectId) {
        lock(&self.inbox).destroyed.push(object_id);
    }
}

fn add_dmabuf_format(inbox: &mut Inbox, format: u32, modifier: u64) {
    if !inbox.dmabuf_formats.contains(&(format, modifier)) && inbox.dmabuf_formats.len() < 1024 {
        inbox.dmabuf_formats.push((format, modifier));
    }
}

/// The (format, modifier) pairs of a linux-dmabuf format table: 16-byte entries (format, 4 bytes
/// of padding, modifier). Read with `pread` rather than mapped, so that a table shorter than
/// announced cannot fault the fuzzer.
fn read_format_table(fd: &OwnedFd, size: u32) -> Vec<(u32, u64)> {
    let size = (size as usize).min(1 << 20);
    let mut bytes = vec![0u8; size];
    let Ok(read) = rustix::io::pread(fd, &mut bytes, 0) else {
        return Vec::new();
    };
    bytes[..read.min(size)]
        .chunks_exact(16)
        .map(|entry| {
            let mut format = [0; 4];
            let mut modifier = [0; 8];
            format.copy_from_slice(&entry[..4]);
            modifier.copy_from_slice(&entry[8..]);
            (u32::from_ne_bytes(format), u64::from_ne_bytes(modifier))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::read_format_table;

    #[test]
    fn format_tables_are_read_entry_by_entry() {
        let fd = rustix::fs::memfd_create("table", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        let mut table = Vec::new();
        for (format, modifier) in [(0x3432_5241u32, 0u64), (0x3432_5258, 0x0100_0000_0000_0001)] {
            table.extend_from_slice(&format.to_ne_bytes());
            table.extend_from_slice(&[0; 4]);
            table.extend_from_slice(&modifier.to_ne_bytes());
        }
        rustix::io::pwrite(&fd, &table, 0).unwrap();
        let pairs = read_format_table(&fd, 32);
        assert_eq!(
            pairs,
            vec![(0x3432_5241, 0), (0x3432_5258, 0x0100_0000_0000_0001)]
        );
        // Announced larger than it is: what is there is read, nothing faults.
        assert_eq!(read_format_table(&fd, 4096).len(), 2);
    }
}
