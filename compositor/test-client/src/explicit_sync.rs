//! Explicit sync windows (`tandem-test-client --explicit-sync`): a toplevel whose two linear GBM
//! buffers take turns, each commit carrying an acquire point (signalled by the client from the
//! CPU, at once or `late_acquire` later, as a GPU still drawing would) and a release point, and
//! each buffer written again only once the compositor signalled its release point, as Mesa's
//! Vulkan WSI does. Every frame fills the whole buffer with one colour, so that a buffer
//! written while the compositor still read it would show two colours at once.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wayland_client::protocol::wl_buffer::WlBuffer;

use crate::gbm_buffer::GbmBuffer;
use crate::timeline::Timeline;
use crate::{Pixels, TestClient};

/// How long a release or a frame may take before the client gives up.
const PATIENCE: Duration = Duration::from_secs(5);

pub struct ExplicitSyncOptions {
    pub size: (i32, i32),
    /// Frames alternate between these colours (ARGB).
    pub colours: [u32; 2],
    /// Frames after the first.
    pub frames: u32,
    /// The first frame's acquire point is signalled this long after its commit.
    pub late_acquire: Option<Duration>,
    /// Where the times of acquires, shown frames and releases go (milliseconds since the Unix
    /// epoch): `acquire-signalled FRAME MS`, `shown FRAME MS`, `released FRAME MS`.
    pub log: Option<PathBuf>,
    pub app_id: String,
}

struct SyncedBuffer {
    pixels: Pixels,
    bo: GbmBuffer,
    wl_buffer: WlBuffer,
    /// The release point of the frame that last showed this buffer, and that frame.
    pending_release: Option<(u64, u32)>,
}

/// Opens the window on the DRM node `node` (GBM buffers and timelines both) and runs its frames;
/// returns once the last frame was shown.
pub fn run(
    client: &mut TestClient,
    node: &Path,
    options: &ExplicitSyncOptions,
) -> Result<(), String> {
    let manager = client.globals.syncobj.clone().ok_or(
        "the compositor offers no wp_linux_drm_syncobj_manager_v1 (explicit sync needs a DRM GPU \
         with timeline syncobjs; `tandem-compositor msg gpus` says whether it has one)",
    )?;
    client.open_gbm(node)?;
    let qh = client.qh();
    let acquire = Timeline::create(node)?;
    let release = Timeline::create(node)?;
    let acquire_timeline = manager.import_timeline(acquire.export()?.as_fd(), &qh, ());
    let release_timeline = manager.import_timeline(release.export()?.as_fd(), &qh, ());
    let mut window = client.gbm_window(options.size);
    window.make_toplevel(client, &options.app_id, "explicit sync");
    let syncobj_surface = manager.get_surface(&window.surface, &qh, ());
    client.roundtrip()?;
    let (w, h) = options.size;
    let mut buffers = Vec::new();
    for _ in 0..2 {
        let bo = client.gbm_allocator()?.allocate(w, h)?;
        let fd = bo.dmabuf_fd()?;
        let dmabuf = client
            .globals
            .dmabufs
            .first()
            .ok_or("no zwp_linux_dmabuf_v1 on this socket")?;
        let wl_buffer = crate::linear_dmabuf(dmabuf, &qh, fd.as_fd(), bo.stride(), options.size);
        buffers.push(SyncedBuffer {
            pixels: Pixels::with_stride(w, h, w * 4),
            bo,
            wl_buffer,
            pending_release: None,
        });
    }
    let mut log = String::new();
    for frame in 0..=options.frames {
        let buffer = &mut buffers[frame as usize % 2];
        if let Some((point, shown_in)) = buffer.pending_release.take() {
            if !release.wait(point, PATIENCE)? {
                return Err(format!(
                    "the release point of frame {shown_in} was not signalled within {} s",
                    PATIENCE.as_secs()
                ));
            }
            log += &format!("released {shown_in} {}\n", epoch_ms());
        }
        let colour = options.colours[frame as usize % 2];
        buffer.pixels.fill((0, 0, w, h), colour);
        buffer.bo.upload(&buffer.pixels, (0, 0, w, h))?;
        let point = u64::from(frame) + 1;
        let (hi, lo) = ((point >> 32) as u32, point as u32);
        syncobj_surface.set_acquire_point(&acquire_timeline, hi, lo);
        syncobj_surface.set_release_point(&release_timeline, hi, lo);
        buffer.pending_release = Some((point, frame));
        let done = Arc::new(AtomicBool::new(false));
        window.surface.frame(&qh, done.clone());
        window.surface.attach(Some(&buffer.wl_buffer), 0, 0);
        window.surface.damage_buffer(0, 0, w, h);
        window.surface.commit();
        client.roundtrip()?;
        if let (0, Some(late)) = (frame, options.late_acquire) {
            println!(
                "explicit sync: first frame committed; its acquire point is signalled in {} s",
                late.as_secs_f64()
            );
            std::thread::sleep(late);
        }
        acquire.signal(point)?;
        log += &format!("acquire-signalled {frame} {}\n", epoch_ms());
        if !client.wait_frame_done(&done, PATIENCE)? {
            return Err(format!(
                "frame {frame} got no frame callback within {} s",
                PATIENCE.as_secs()
            ));
        }
        log += &format!("shown {frame} {}\n", epoch_ms());
    }
    if let Some(path) = &options.log {
        std::fs::write(path, log).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!(
        "explicit sync: {} frames shown, every buffer reused only after its release",
        options.frames + 1
    );
    Ok(())
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}
