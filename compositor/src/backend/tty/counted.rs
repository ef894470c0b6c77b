//! Swapchain buffers in Tandem's ledger: a GBM allocator (and its framebuffer exporter) whose
//! buffers carry a ledger entry, so that `msg vram` shows each output's scanout buffers as the
//! compositor's own, by the bytes the kernel allocated.
//!
//! `output.rs` hands these to smithay's DrmCompositor in place of the plain GBM ones; the
//! swapchain allocates and drops buffers as it needs, and each buffer's entry goes with it.

use smithay::backend::allocator::dmabuf::{AsDmabuf, Dmabuf};
use smithay::backend::allocator::gbm::{GbmAllocator, GbmBuffer, GbmConvertError};
use smithay::backend::allocator::{Allocator, Buffer, Format, Fourcc, Modifier};
use smithay::backend::drm::exporter::gbm::GbmFramebufferExporter;
use smithay::backend::drm::exporter::{ExportBuffer, ExportFramebuffer};
use smithay::backend::drm::gbm::GbmFramebuffer;
use smithay::backend::drm::DrmDeviceFd;
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
