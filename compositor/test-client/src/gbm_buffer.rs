//! Buffers a GPU allocated: a linear GBM buffer object on a DRM device node, exported as a dmabuf.
//!
//! The window's pixels are still painted into its CPU-side memfd ([`Pixels`](crate::Pixels));
//! `Window::commit` copies the damaged rows into the buffer object through `gbm_bo_map`, which
//! drivers that keep a host-side copy (virgl) turn into a transfer, so the GPU sees them.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::Path;

use gbm::{BufferObject, BufferObjectFlags, Device, Format};

use crate::Pixels;

/// A GBM device on a render node.
pub struct GbmAllocator {
    device: Device<File>,
}

impl GbmAllocator {
    pub fn open(path: &Path) -> Result<GbmAllocator, String> {
        let file = File::options()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let device = Device::new(file).map_err(|e| format!("GBM on {}: {e}", path.display()))?;
        Ok(GbmAllocator { device })
    }

    /// A GBM device on the DRM device numbered `device` (a dev_t, as dmabuf feedback names it):
    /// the node itself or, when it cannot allocate (a display-only device's render node hands
    /// out no dumb buffers), another node of the same device. Returns the node used.
    pub fn open_device_number(device: u64) -> Result<(GbmAllocator, String), String> {
        let (major, minor) = (rustix::fs::major(device), rustix::fs::minor(device));
        let nodes = std::fs::read_dir(format!("/sys/dev/char/{major}:{minor}/device/drm"))
            .map_err(|e| format!("DRM device {major}:{minor}: {e}"))?;
        let mut names: Vec<String> = nodes
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.starts_with("renderD") || name.starts_with("card"))
            .collect();
        // Render nodes first.
        names.sort_by_key(|name| !name.starts_with("renderD"));
        let mut refusals = Vec::new();
        for name in names {
            let path = Path::new("/dev/dri").join(&name);
            let probe = |gbm: GbmAllocator| gbm.allocate(16, 16)?.dmabuf_fd().map(|_| gbm);
            match GbmAllocator::open(&path).and_then(probe) {
                Ok(gbm) => return Ok((gbm, path.display().to_string())),
                Err(err) => refusals.push(err),
            }
        }
        Err(format!(
            "no node of DRM device {major}:{minor} allocates: {}",
            refusals.join("; ")
        ))
    }

    /// A linear ARGB8888 buffer object of `width`x`height`.
    pub fn allocate(&self, width: i32, height: i32) -> Result<GbmBuffer, String> {
        let bo = self
            .device
            .create_buffer_object::<()>(
                width as u32,
                height as u32,
                Format::Argb8888,
                BufferObjectFlags::LINEAR | BufferObjectFlags::RENDERING,
            )
            .map_err(|e| format!("GBM allocation of {width}x{height}: {e}"))?;
        Ok(GbmBuffer { bo })
    }
}

/// One buffer object and what the compositor needs to import it.
pub struct GbmBuffer {
    bo: BufferObject<()>,
}

impl GbmBuffer {
    pub fn dmabuf_fd(&self) -> Result<OwnedFd, String> {
        self.bo.fd().map_err(|e| format!("dmabuf export: {e}"))
    }

    pub fn stride(&self) -> u32 {
        self.bo.stride()
    }

    /// Copies `rect` (x, y, w, h) of `pixels` into the buffer object.
    pub fn upload(&mut self, pixels: &Pixels, rect: (i32, i32, i32, i32)) -> Result<(), String> {
        let x = rect.0.clamp(0, pixels.width);
        let y = rect.1.clamp(0, pixels.height);
        let w = rect.2.clamp(0, pixels.width - x);
        let h = rect.3.clamp(0, pixels.height - y);
        if w == 0 || h == 0 {
            return Ok(());
        }
        let source = pixels.bytes();
        let row_bytes = w as usize * 4;
        self.bo
            .map_mut(x as u32, y as u32, w as u32, h as u32, |mapped| {
                let stride = mapped.stride() as usize;
                let target = mapped.buffer_mut();
                for row in 0..h as usize {
                    let from = (y as usize + row) * pixels.stride as usize + x as usize * 4;
                    let to = row * stride;
                    target[to..to + row_bytes].copy_from_slice(&source[from..from + row_bytes]);
                }
            })
            .map_err(|e| format!("gbm_bo_map: {e}"))
    }
}
