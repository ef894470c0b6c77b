//! Buffers a compositor should accept, amid the noise: with some probability the client
//! (`client.rs`) lets [`Plans::shape`] rewrite the arguments of wl_shm.create_pool,
//! wl_shm_pool.create_buffer and zwp_linux_buffer_params_v1.add / create / create_immed into a
//! coherent buffer (a memfd as large as the pool or the planes, strides that fit, formats and
//! modifiers the compositor advertised, sealed memfds for dmabufs as software GPUs require), so
//! that the fuzzer reaches what happens once a buffer exists: attaching, committing, copying
//! between GPUs, releasing. Plans are per object and die with it.

use std::collections::HashMap;

use rustix::fs::SealFlags;
use wayland_client::backend::ObjectId;

use super::rng::Rng;
use super::values::{memfd, Value};

/// DRM fourcc codes of the formats every compositor takes.
const ARGB8888: u32 = 0x3432_5241;
const XRGB8888: u32 = 0x3432_5258;

/// What the compositor announced, copied out of the inbox for one request.
#[derive(Debug, Default, Clone)]
pub struct Formats {
    pub shm: Vec<u32>,
    pub dmabuf: Vec<(u32, u64)>,
}

/// The dmabuf one zwp_linux_buffer_params_v1 is building.
#[derive(Debug, Clone, Copy)]
struct DmabufPlan {
    width: u32,
    height: u32,
    format: u32,
    modifier: u64,
}

#[derive(Debug, Default)]
pub struct Plans {
    dmabufs: HashMap<ObjectId, DmabufPlan>,
    /// wl_shm_pool sizes.
    pools: HashMap<ObjectId, u32>,
}

impl Plans {
    /// Whether `interface.request` is one [`Plans::shape`] knows.
    pub fn knows(interface: &str, request: &str) -> bool {
        matches!(
            (interface, request),
            ("wl_shm", "create_pool")
                | ("wl_shm_pool", "create_buffer")
                | (
                    "zwp_linux_buffer_params_v1",
                    "add" | "create" | "create_immed"
                )
        )
    }

    /// Rewrites the arguments of a request to `object` into a plausible buffer.
    pub fn shape(
        &mut self,
        rng: &mut Rng,
        interface: &str,
        request: &str,
        object: &ObjectId,
        values: &mut [Value],
        formats: &Formats,
    ) {
        match (interface, request, values) {
            ("wl_shm", "create_pool", [_, fd, size]) => {
                let bytes = [4096u32, 65536, 1 << 20, 4 << 20][rng.index(4)];
                let seals = if rng.percent(50) {
                    SealFlags::SHRINK
                } else {
                    SealFlags::empty()
                };
                let contents = rng.below(3);
                if let Some((memfd, info)) = memfd(rng, u64::from(bytes), seals, contents) {
                    *fd = Value::Fd(memfd, info);
                    *size = Value::Int(bytes as i32);
                }
            }
            ("wl_shm_pool", "create_buffer", [_, offset, width, height, stride, format]) => {
                let pool = self.pools.get(object).copied().unwrap_or(4096).max(4);
                let w = rng.range(1, 256).min(u64::from(pool / 4)) as u32;
                let h = rng.range(1, 256).min(u64::from(pool / (w * 4))).max(1) as u32;
                *offset = Value::Int(0);
                *width = Value::Int(w as i32);
                *height = Value::Int(h as i32);
                *stride = Value::Int((w * 4) as i32);
                let shm = rng.pick(&formats.shm).copied();
                *format = Value::Uint(
                    shm.filter(|_| rng.percent(30))
                        .unwrap_or(rng.below(2) as u32),
                );
            }
            ("zwp_linux_buffer_params_v1", "add", [fd, plane, offset, stride, hi, lo]) => {
                let plan = *self
                    .dmabufs
                    .entry(object.clone())
                    .or_insert_with(|| new_plan(rng, formats));
                let row = (plan.width * 4).next_multiple_of(if rng.percent(50) { 64 } else { 4 });
                let seals = if rng.percent(90) {
                    SealFlags::SHRINK | SealFlags::GROW
                } else {
                    SealFlags::empty()
                };
                let bytes = u64::from(row) * u64::from(plan.height);
                let contents = 1 + rng.below(2);
                if let Some((memfd, info)) = memfd(rng, bytes, seals, contents) {
                    *fd = Value::Fd(memfd, info);
                }
                *plane = Value::Uint(0);
                *offset = Value::Uint(0);
                *stride = Value::Uint(row);
                *hi = Value::Uint((plan.modifier >> 32) as u32);
                *lo = Value::Uint(plan.modifier as u32);
            }
            ("zwp_linux_buffer_params_v1", "create", [width, height, format, flags])
            | ("zwp_linux_buffer_params_v1", "create_immed", [_, width, height, format, flags]) => {
                let plan = *self
                    .dmabufs
                    .entry(object.clone())
                    .or_insert_with(|| new_plan(rng, formats));
                *width = Value::Int(plan.width as i32);
                *height = Value::Int(plan.height as i32);
                *format = Value::Uint(plan.format);
                if rng.percent(80) {
                    *flags = Value::Uint(0);
                }
            }
            _ => {}
        }
    }

    /// The size of the pool a wl_shm.create_pool with these arguments makes.
    pub fn pool_size(interface: &str, request: &str, values: &[Value]) -> Option<u32> {
        match (interface, request, values) {
            ("wl_shm", "create_pool", [_, _, Value::Int(size)]) => Some((*size).max(0) as u32),
            _ => None,
        }
    }

    pub fn pool_created(&mut self, pool: &ObjectId, size: u32) {
        self.pools.insert(pool.clone(), size);
    }

    pub fn forget(&mut self, object: &ObjectId) {
        self.dmabufs.remove(object);
        self.pools.remove(object);
    }
}

fn new_plan(rng: &mut Rng, formats: &Formats) -> DmabufPlan {
    let linear: Vec<(u32, u64)> = formats
        .dmabuf
        .iter()
        .copied()
        .filter(|&(f, m)| m == 0 && (f == ARGB8888 || f == XRGB8888))
        .collect();
    let (format, modifier) = if rng.percent(70) && !linear.is_empty() {
        linear[rng.index(linear.len())]
    } else if let Some(pair) = rng.pick(&formats.dmabuf) {
        *pair
    } else {
        (ARGB8888, 0)
    };
    let sizes = [1u32, 16, 64, 100, 128, 256, 333, 512, 1024];
    DmabufPlan {
        width: sizes[rng.index(sizes.len())],
        height: sizes[rng.index(sizes.len())],
        format,
        modifier,
    }
}
