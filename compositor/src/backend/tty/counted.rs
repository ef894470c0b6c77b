//! An output's scanout and cursor buffers in Tandem's ledger, as the compositor's own, by the
//! bytes the kernel allocated.
//!
//! Swapchains: a GBM allocator (and its framebuffer exporter) whose buffers carry a ledger entry;
//! `output.rs` hands these to smithay's DrmCompositor in place of the plain GBM ones, which
//! allocates and drops buffers as it needs, and each buffer's entry goes with it. Cursor planes:
//! DrmCompositor allocates their buffers inside itself, so [`CursorPlaneCount`] reads, after each
//! page flip (`redraw.rs`), which framebuffer the kernel shows on the output's cursor plane and
//! counts that one.

use smithay::backend::allocator::dmabuf::{AsDmabuf, Dmabuf};
use smithay::backend::allocator::gbm::{GbmAllocator, GbmBuffer, GbmConvertError};
use smithay::backend::allocator::{Allocator, Buffer, Format, Fourcc, Modifier};
use smithay::backend::drm::exporter::gbm::GbmFramebufferExporter;
use smithay::backend::drm::exporter::{ExportBuffer, ExportFramebuffer};
use smithay::backend::drm::gbm::GbmFramebuffer;
use smithay::backend::drm::{DrmDeviceFd, DrmSurface};
use smithay::reexports::drm::control::{framebuffer, Device as ControlDevice};
use smithay::utils::{Buffer as BufferCoord, Size};
use tandem::ledger::LedgerEntry;
use tandem::{GpuId, Ledger};

/// A GBM allocator that counts what it allocates under one purpose ("swapchain card0-DP-1").
pub struct CountedAllocator {
    inner: GbmAllocator<DrmDeviceFd>,
    ledger: Ledger,
    gpu: GpuId,
    purpose: String,
}

impl CountedAllocator {
    pub fn new(
        inner: GbmAllocator<DrmDeviceFd>,
        ledger: Ledger,
        gpu: GpuId,
        purpose: String,
    ) -> Self {
        CountedAllocator {
            inner,
            ledger,
            gpu,
            purpose,
        }
    }
}

/// A GBM buffer and its count in the ledger.
#[derive(Debug)]
pub struct CountedBuffer {
    buffer: GbmBuffer,
    _account: LedgerEntry,
}

impl Allocator for CountedAllocator {
    type Buffer = CountedBuffer;
    type Error = std::io::Error;

    fn create_buffer(
        &mut self,
        width: u32,
        height: u32,
        fourcc: Fourcc,
        modifiers: &[Modifier],
    ) -> Result<CountedBuffer, std::io::Error> {
        let buffer = self.inner.create_buffer(width, height, fourcc, modifiers)?;
        let bytes = match buffer.export() {
            Ok(dmabuf) => tandem::gpu::dmabuf_allocation_bytes(&dmabuf),
            Err(_) => u64::from(width) * u64::from(height) * 4,
        };
        let account = self
            .ledger
            .record_compositor(self.gpu, &self.purpose, bytes);
        Ok(CountedBuffer {
            buffer,
            _account: account,
        })
    }
}

impl Buffer for CountedBuffer {
    fn size(&self) -> Size<i32, BufferCoord> {
        self.buffer.size()
    }

    fn format(&self) -> Format {
        self.buffer.format()
    }
}

impl AsDmabuf for CountedBuffer {
    type Error = GbmConvertError;

    fn export(&self) -> Result<Dmabuf, GbmConvertError> {
        self.buffer.export()
    }
}

/// smithay's GBM framebuffer exporter for [`CountedBuffer`]s.
pub struct CountedExporter(pub GbmFramebufferExporter<DrmDeviceFd>);

fn uncounted<'a>(buffer: &ExportBuffer<'a, CountedBuffer>) -> ExportBuffer<'a, GbmBuffer> {
    match buffer {
        ExportBuffer::Wayland(buffer) => ExportBuffer::Wayland(buffer),
        ExportBuffer::Allocator(counted) => ExportBuffer::Allocator(&counted.buffer),
    }
}

impl ExportFramebuffer<CountedBuffer> for CountedExporter {
    type Framebuffer = GbmFramebuffer;
    type Error = <GbmFramebufferExporter<DrmDeviceFd> as ExportFramebuffer<GbmBuffer>>::Error;

    fn add_framebuffer(
        &self,
        drm: &DrmDeviceFd,
        buffer: ExportBuffer<'_, CountedBuffer>,
        use_opaque: bool,
    ) -> Result<Option<GbmFramebuffer>, Self::Error> {
        self.0.add_framebuffer(drm, uncounted(&buffer), use_opaque)
    }

    fn can_add_framebuffer(&self, buffer: &ExportBuffer<'_, CountedBuffer>) -> bool {
        self.0.can_add_framebuffer(&uncounted(buffer))
    }
}

/// The buffer shown on an output's cursor plane, counted while the kernel shows it.
pub struct CursorPlaneCount {
    purpose: String,
    shown: Option<(framebuffer::Handle, LedgerEntry)>,
}

impl CursorPlaneCount {
    pub fn new(purpose: String) -> Self {
        CursorPlaneCount {
            purpose,
            shown: None,
        }
    }

    /// The cursor plane shows nothing any more (its output's compositor went).
    pub fn forget(&mut self) {
        self.shown = None;
    }

    /// Counts the framebuffer `surface`'s cursor plane shows now (nothing when it shows none).
    pub fn update(&mut self, surface: &DrmSurface, ledger: &Ledger, gpu: GpuId) {
        let shown = surface
            .planes()
            .cursor
            .iter()
            .find_map(|plane| surface.get_plane(plane.handle).ok()?.framebuffer());
        match shown {
            None => self.shown = None,
            Some(fb)
                if self
                    .shown
                    .as_ref()
                    .is_some_and(|(counted, _)| *counted == fb) => {}
            Some(fb) => {
                let bytes = framebuffer_bytes(surface, fb);
                self.shown = Some((fb, ledger.record_compositor(gpu, &self.purpose, bytes)));
            }
        }
    }
}

/// Bytes of a framebuffer's planes (pitch times height), as the kernel describes it.
fn framebuffer_bytes(device: &impl ControlDevice, fb: framebuffer::Handle) -> u64 {
    if let Ok(info) = device.get_planar_framebuffer(fb) {
        let height = u64::from(info.size().1);
        info.pitches()
            .iter()
            .map(|pitch| u64::from(*pitch) * height)
            .sum()
    } else if let Ok(info) = device.get_framebuffer(fb) {
        u64::from(info.pitch()) * u64::from(info.size().1)
    } else {
        0
    }
}
