//! Argument values for fuzzed requests: integers from boundary values, small numbers, plausible
//! sizes and what the compositor itself sent (the [`Pool`] of uint/int event arguments: serials,
//! formats, modifier halves, sizes); enum entries and OR-ed bitfields; fixed-point numbers;
//! strings; arrays; and file descriptors (memfds of assorted sizes, contents and seals). The
//! client (`client.rs`) owns one pool per connection and fills it from events; the
//! generators here only read it.

use std::ffi::CString;
use std::os::fd::OwnedFd;

use rustix::fs::{MemfdFlags, SealFlags};
use wayland_client::backend::ObjectId;

use super::protocol::{enums, ArgMeta};
use super::rng::Rng;

/// How many event values a pool keeps (the newest replace the oldest).
const POOL_CAPACITY: usize = 512;

/// Bytes of strings and arrays one message may carry: libwayland's messages stop at 4096 bytes.
pub const MESSAGE_PAYLOAD_BUDGET: usize = 3600;

/// One argument of a request being built, before it becomes a `wayland_backend` argument.
#[derive(Debug)]
pub enum Value {
    Int(i32),
    Uint(u32),
    Fixed(i32),
    Str(Option<CString>),
    /// A live object, or null.
    Object(Option<ObjectId>),
    /// A typed new_id: the object the request creates.
    NewId,
    /// An untyped new_id (wl_registry.bind): interface name, version, then the new object.
    Bind {
        interface: CString,
        version: u32,
    },
    Array(Vec<u8>),
    Fd(OwnedFd, FdInfo),
}

/// uint and int values the compositor sent, newest last.
#[derive(Debug, Default)]
pub struct Pool {
    values: Vec<u32>,
    next: usize,
    /// The last few serials (any uint called `serial` in an event).
    serials: Vec<u32>,
}

impl Pool {
    pub fn push(&mut self, value: u32) {
        if self.values.len() < POOL_CAPACITY {
            self.values.push(value);
        } else {
            self.values[self.next] = value;
            self.next = (self.next + 1) % POOL_CAPACITY;
        }
    }

    pub fn push_serial(&mut self, serial: u32) {
        if self.serials.len() >= 16 {
            self.serials.remove(0);
        }
        self.serials.push(serial);
    }

    fn pick(&self, rng: &mut Rng) -> Option<u32> {
        rng.pick(&self.values).copied()
    }

    fn serial(&self, rng: &mut Rng) -> Option<u32> {
        rng.pick(&self.serials).copied()
    }
}

/// A uint or int argument (as its bits). A `wild` one is drawn from every family; a tame one is
/// what a well-behaved client might send (an enum entry, a serial it was given, a plausible
/// size), so that a connection gets past its first requests.
pub fn integer(rng: &mut Rng, pool: &Pool, arg: &ArgMeta, wild: bool) -> u32 {
    if let Some(e) = arg.enumeration.and_then(|i| enums().get(i)) {
        if !e.values.is_empty() && (!wild || rng.percent(80)) {
            if e.bitfield && rng.percent(60) {
                let mut bits = 0;
                for _ in 0..rng.range(1, 4) {
                    bits |= rng.pick(e.values).copied().unwrap_or(0);
                }
                return bits;
            }
            return rng.pick(e.values).copied().unwrap_or(0);
        }
    }
    if arg.name.contains("serial") && (!wild || rng.percent(70)) {
        if let Some(serial) = pool.serial(rng) {
            return serial;
        }
    }
    if wild {
        number(rng, pool, arg.name)
    } else if rng.percent(70) {
        plausible(rng, arg.name)
    } else {
        rng.range(1, 16) as u32
    }
}

/// Any 32-bit number, drawn from the families that find bugs.
pub fn number(rng: &mut Rng, pool: &Pool, name: &str) -> u32 {
    match rng.below(100) {
        0..=19 => rng.range(0, 64) as u32,
        20..=37 => boundary(rng),
        38..=55 => pool.pick(rng).unwrap_or_else(|| rng.range(0, 64) as u32),
        56..=79 => plausible(rng, name),
        80..=91 => {
            let power = 1u32.wrapping_shl(rng.below(32) as u32);
            match rng.below(3) {
                0 => power,
                1 => power.wrapping_sub(1),
                _ => power.wrapping_add(1),
            }
        }
        92..=95 => (-(rng.range(1, 64) as i32)) as u32,
        _ => rng.next_u32(),
    }
}

fn boundary(rng: &mut Rng) -> u32 {
    const VALUES: [u32; 12] = [
        0,
        1,
        u32::MAX, // -1
        2,
        i32::MAX as u32,
        i32::MIN as u32,
        (i32::MIN + 1) as u32,
        (i32::MAX - 1) as u32,
        u32::MAX - 1,
        0x7fff,
        0x8000,
        0xffff,
    ];
    VALUES[rng.index(VALUES.len())]
}

/// A value a well-behaved client might send for an argument called `name`.
fn plausible(rng: &mut Rng, name: &str) -> u32 {
    let sizes = [1u32, 16, 64, 100, 128, 256, 640, 1024, 1920, 4096];
    let base = sizes[rng.index(sizes.len())];
    if name.contains("plane") {
        rng.range(0, 3) as u32
    } else if name.contains("stride") {
        base.wrapping_mul(4)
    } else if name.contains("scale") {
        rng.range(1, 4) as u32
    } else if name.contains("offset") || name == "x" || name == "y" {
        rng.range(0, 512) as u32
    } else {
        base
    }
}

/// A fixed-point argument (24.8, as its raw bits).
pub fn fixed(rng: &mut Rng, pool: &Pool) -> i32 {
    match rng.below(4) {
        0 => (rng.range(0, 2048) as i32) << 8,
        1 => (rng.range(0, 2048 * 256) as i32) - 1024 * 256,
        2 => boundary(rng) as i32,
        _ => number(rng, pool, "fixed") as i32,
    }
}

/// A string argument of at most `budget` bytes, never with a NUL (C strings on the wire).
pub fn string(rng: &mut Rng, budget: usize) -> CString {
    const WORDS: [&str; 10] = [
        "wl_compositor",
        "xdg_wm_base",
        "org.example.app",
        "text/plain",
        "text/plain;charset=utf-8",
        "x-special/nautilus-clipboard",
        "default",
        "left_ptr",
        "HEADLESS-1",
        "tandem",
    ];
    let mut text: Vec<u8> = match rng.below(10) {
        0 => Vec::new(),
        1 => {
            let len = (rng.range(1024, 4096) as usize).min(budget);
            random_ascii(rng, len)
        }
        2 | 3 => rng
            .pick(&WORDS)
            .map(|w| w.as_bytes().to_vec())
            .unwrap_or_default(),
        4 => "ünïcødé ✓ 字 🦀".as_bytes().to_vec(),
        _ => {
            let len = rng.range(1, 16) as usize;
            random_ascii(rng, len)
        }
    };
    text.truncate(budget);
    // Truncation may split a multi-byte character: the protocol says UTF-8, but a compositor
    // must survive a client that breaks that too, so it stays as it is.
    CString::new(text).unwrap_or_default()
}

fn random_ascii(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.range(0x20, 0x7e) as u8).collect()
}

/// An array argument of at most `budget` bytes.
pub fn array(rng: &mut Rng, pool: &Pool, budget: usize) -> Vec<u8> {
    let mut bytes = if rng.percent(50) {
        let words = rng.range(0, 32) as usize;
        let mut out = Vec::with_capacity(words * 4);
        for _ in 0..words {
            out.extend_from_slice(&number(rng, pool, "array").to_ne_bytes());
        }
        out
    } else {
        let mut out = vec![0; rng.range(0, 256) as usize];
        rng.fill(&mut out);
        out
    };
    bytes.truncate(budget - budget % 4);
    bytes
}

/// What a descriptor given to the compositor is, for the request log.
#[derive(Debug, Clone)]
pub struct FdInfo {
    pub size: u64,
    pub seals: SealFlags,
    pub pipe: bool,
}

impl std::fmt::Display for FdInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.pipe {
            return write!(f, "fd(pipe)");
        }
        write!(f, "fd(memfd {} B", self.size)?;
        if !self.seals.is_empty() {
            write!(f, " sealed {:?}", self.seals)?;
        }
        write!(f, ")")
    }
}

/// A memfd of a random size with random contents and seals (or, rarely, a pipe).
pub fn fd(rng: &mut Rng) -> Option<(OwnedFd, FdInfo)> {
    if rng.one_in(40) {
        let (read, _write) = rustix::pipe::pipe().ok()?;
        return Some((
            read,
            FdInfo {
                size: 0,
                seals: SealFlags::empty(),
                pipe: true,
            },
        ));
    }
    let size = match rng.below(6) {
        0 => 0,
        1 => 1,
        2 => 4096,
        3 => 1 << 20,
        4 => rng.range(1, 100_000) | 1,
        _ => rng.range(1, 64) * 4096,
    };
    let mut seals = SealFlags::empty();
    for seal in [
        SealFlags::SHRINK,
        SealFlags::GROW,
        SealFlags::WRITE,
        SealFlags::SEAL,
    ] {
        if rng.percent(40) {
            seals |= seal;
        }
    }
    let contents = rng.below(3);
    memfd(rng, size, seals, contents)
}

/// A memfd of `size` bytes with `seals`; `contents` 0 leaves it zeroed, 1 fills its first 64 KiB
/// with random bytes, 2 with a repeated 32-bit pattern.
pub fn memfd(
    rng: &mut Rng,
    size: u64,
    seals: SealFlags,
    contents: u64,
) -> Option<(OwnedFd, FdInfo)> {
    let fd = rustix::fs::memfd_create(
        "tandem-fuzz",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .ok()?;
    rustix::fs::ftruncate(&fd, size).ok()?;
    if contents != 0 && size > 0 {
        let mut head = vec![0u8; size.min(64 * 1024) as usize];
        if contents == 1 {
            rng.fill(&mut head);
        } else {
            let word = rng.next_u32().to_ne_bytes();
            for chunk in head.chunks_mut(4) {
                chunk.copy_from_slice(&word[..chunk.len()]);
            }
        }
        rustix::io::pwrite(&fd, &head, 0).ok()?;
    }
    if !seals.is_empty() {
        rustix::fs::fcntl_add_seals(&fd, seals).ok()?;
    }
    Some((
        fd,
        FdInfo {
            size,
            seals,
            pipe: false,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::protocol::ArgKind;

    #[test]
    fn enum_arguments_mostly_take_entries() {
        let surface =
            crate::fuzz::protocol::interface(crate::fuzz::protocol::find("wl_surface").unwrap());
        let arg = &surface
            .requests
            .iter()
            .find(|m| m.name == "set_buffer_transform")
            .unwrap()
            .args[0];
        assert_eq!(arg.kind, ArgKind::Int);
        let mut rng = Rng::new(3);
        let pool = Pool::default();
        let inside = (0..1000)
            .filter(|_| integer(&mut rng, &pool, arg, true) < 8)
            .count();
        assert!(inside > 700, "{inside}");
    }

    #[test]
    fn strings_and_arrays_respect_the_budget() {
        let mut rng = Rng::new(9);
        let pool = Pool::default();
        for _ in 0..2000 {
            assert!(string(&mut rng, 100).as_bytes().len() <= 100);
            assert!(array(&mut rng, &pool, 64).len() <= 64);
        }
    }

    #[test]
    fn memfds_get_their_size_and_seals() {
        let mut rng = Rng::new(1);
        let (fd, info) = memfd(&mut rng, 8192, SealFlags::SHRINK | SealFlags::GROW, 1).unwrap();
        assert_eq!(rustix::fs::fstat(&fd).unwrap().st_size, 8192);
        assert_eq!(info.size, 8192);
        assert!(rustix::fs::fcntl_get_seals(&fd)
            .unwrap()
            .contains(SealFlags::SHRINK | SealFlags::GROW));
        for _ in 0..50 {
            assert!(super::fd(&mut rng).is_some());
        }
    }
}
