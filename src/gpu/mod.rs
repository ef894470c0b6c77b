//! GPUs: identity, quirks, and the per-GPU renderer and allocator.
//!
//! A [`Gpu`] owns one `GlesRenderer` (one EGL context) and one dmabuf allocator. The
//! [`GpuManager`] owns every `Gpu`; nothing else holds a renderer. Textures are keyed by
//! [`GpuId`], never by GL texture name (two contexts both start at name 1); a GPU's textures go
//! with it, so a GPU opened again under its id starts with none.

pub(crate) mod budget;
mod clock;
pub(crate) mod failures;
mod format_probe;
mod gbm;
mod manager;
pub(crate) mod operations;
mod parking;
pub(crate) mod path_costs;
mod recovery;
mod soft;

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use smithay::backend::allocator::dmabuf::{Dmabuf, WeakDmabuf};
use smithay::backend::allocator::{Buffer, Format, Fourcc, Modifier};
use smithay::backend::renderer::gles::{GlesRenderer, GlesTexture};
use smithay::backend::renderer::{ContextId, Renderer};

pub use self::clock::{Clock, ManualClock, SystemClock};
pub use self::failures::PathFailure;
pub use self::gbm::{open_drm_gpu, open_drm_gpu_on_primary_node};
pub use self::manager::{CopyStats, GpuManager};
pub use self::operations::{Operation, OperationKind};
pub use self::parking::{ParkingStats, ReopenGpu};
pub use self::path_costs::CopyCost;
pub use self::soft::{software_egl_display, MemfdAllocator};
pub use crate::gpu_id::GpuId;

use crate::error::TandemError;

/// Which device node a GPU's renderer draws through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderAccess {
    /// The DRM render node: the usual way, open to any process.
    RenderNode,
    /// The session's primary node (`/dev/dri/cardN`), shared with the KMS side: the only way a
    /// display-only device's CPU rasterizer can map its own scanout buffers.
    PrimaryNode,
    /// No device: Mesa's CPU rasterizer on memfd buffers.
    Software,
}

impl fmt::Display for RenderAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RenderAccess::RenderNode => "render node",
            RenderAccess::PrimaryNode => "primary node",
            RenderAccess::Software => "software",
        })
    }
}

/// Per-GPU behaviour that cannot be discovered reliably from EGL alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quirks {
    /// May this GPU import dmabufs that another GPU allocated? (Off for NVIDIA in practice.)
    pub imports_foreign_dmabufs: bool,
    /// May other GPUs import dmabufs that this GPU's allocator hands out?
    pub exports_dmabufs: bool,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            imports_foreign_dmabufs: true,
            exports_dmabufs: true,
        }
    }
}

/// Hands out dmabufs that live in one GPU's memory.
pub trait DmabufAllocator {
    /// Allocates a `width`x`height` buffer of `fourcc` with one of `modifiers`.
    fn allocate(
        &mut self,
        width: u32,
        height: u32,
        fourcc: Fourcc,
        modifiers: &[Modifier],
    ) -> Result<Dmabuf, TandemError>;

    /// Modifiers this allocator can produce for `fourcc`, best first.
    fn modifiers(&self, fourcc: Fourcc) -> Vec<Modifier>;
}

/// Bytes a dmabuf occupies: the furthest end of any of its planes.
pub fn dmabuf_bytes(dmabuf: &Dmabuf) -> u64 {
    let height = dmabuf.height() as u64;
    dmabuf
        .offsets()
        .zip(dmabuf.strides())
        .map(|(offset, stride)| offset as u64 + stride as u64 * height)
        .max()
        .unwrap_or(0)
}

/// Bytes the kernel allocated for a dmabuf (its size as its fd reports it, alignment and
/// auxiliary planes included); [`dmabuf_bytes`] when the fd cannot tell.
pub fn dmabuf_allocation_bytes(dmabuf: &Dmabuf) -> u64 {
    dmabuf
        .handles()
        .next()
        .and_then(|fd| rustix::fs::seek(fd, rustix::fs::SeekFrom::End(0)).ok())
        .filter(|bytes| *bytes > 0)
        .unwrap_or_else(|| dmabuf_bytes(dmabuf))
}

/// One GPU: its renderer, its allocator, its quirks and its deferred-delete bookkeeping.
pub struct Gpu {
    id: GpuId,
    renderer: GlesRenderer,
    allocator: Box<dyn DmabufAllocator>,
    quirks: Quirks,
    /// Bumped whenever Tandem drops an object of this GPU; drained by cleanup.
    released: Arc<AtomicUsize>,
    /// Dmabufs imported or bound here: smithay's renderer caches their EGLImages (and render
    /// targets) until they are gone and its cleanup runs.
    imported: HashSet<WeakDmabuf>,
    /// How many times cleanup made this GPU's context current.
    cleanup_passes: u64,
    /// GL_RENDERER, as the driver names itself.
    renderer_name: String,
    access: RenderAccess,
    /// Why this GPU's driver refused a udmabuf staging buffer, once it did.
    udmabuf_refused: Option<String>,
    /// Why its context failed, once it did.
    lost: Option<String>,
    /// Rectangles read back from this GPU so far (each a round trip to it).
    readback_rects: u64,
    /// GL reads pixels back in BGRA byte order (GL_EXT_read_format_bgra).
    reads_bgra: bool,
    /// GLES 3 or later: R8 and RG8 textures, for YUV carried plane by plane.
    samples_planes: bool,
    /// The program that draws YUV planes, once this GPU received a buffer carried that way.
    plane_program: Option<smithay::backend::renderer::gles::GlesTexProgram>,
}

/// A string of the current GL context (glGetString), empty when the driver has none.
fn gl_string(gl: &smithay::backend::renderer::gles::ffi::Gles2, name: u32) -> String {
    // SAFETY: glGetString returns a static, NUL-terminated string owned by the driver, or null.
    let value = unsafe { gl.GetString(name) };
    if value.is_null() {
        return String::new();
    }
    // SAFETY: checked non-null above; the driver keeps it alive.
    unsafe { std::ffi::CStr::from_ptr(value.cast()) }
        .to_string_lossy()
        .into_owned()
}

/// The major version of a GLES context's GL_VERSION (`OpenGL ES 3.2 Mesa ...`).
fn gles_major_version(version: &str) -> Option<u32> {
    let number = version.strip_prefix("OpenGL ES ")?;
    number.split('.').next()?.parse().ok()
}

impl fmt::Debug for Gpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gpu")
            .field("id", &self.id)
            .field("quirks", &self.quirks)
            .finish_non_exhaustive()
    }
}

impl Gpu {
    /// Wraps a renderer and an allocator as one GPU.
    pub fn new(
        id: GpuId,
        mut renderer: GlesRenderer,
        allocator: Box<dyn DmabufAllocator>,
        quirks: Quirks,
    ) -> Gpu {
        use smithay::backend::renderer::gles::ffi;
        let (renderer_name, extensions, version) = renderer
            .with_context(|gl| {
                (
                    gl_string(gl, ffi::RENDERER),
                    gl_string(gl, ffi::EXTENSIONS),
                    gl_string(gl, ffi::VERSION),
                )
            })
            .unwrap_or_default();
        let samples_planes = gles_major_version(&version).is_some_and(|major| major >= 3);
        let reads_bgra = extensions
            .split_ascii_whitespace()
            .any(|extension| extension == "GL_EXT_read_format_bgra");
        Gpu {
            id,
            renderer,
            allocator,
            quirks,
            released: Arc::new(AtomicUsize::new(0)),
            imported: HashSet::new(),
            cleanup_passes: 0,
            renderer_name,
            access: match id {
                GpuId::Drm(_) => RenderAccess::RenderNode,
                GpuId::Software(_) => RenderAccess::Software,
            },
            udmabuf_refused: None,
            lost: None,
            readback_rects: 0,
            reads_bgra,
            samples_planes,
            plane_program: None,
        }
    }

    /// The same GPU, drawing through `access` (set by whoever opened its renderer).
    pub fn with_access(mut self, access: RenderAccess) -> Gpu {
        self.access = access;
        self
    }

    /// Why this GPU's driver refused to import a udmabuf staging buffer, if it did (CPU copies
    /// to it are then uploaded from the staging memory instead of sampled in place).
    pub fn udmabuf_refused(&self) -> Option<&str> {
        self.udmabuf_refused.as_deref()
    }

    pub(crate) fn set_udmabuf_refused(&mut self, reason: String) {
        self.udmabuf_refused = Some(reason);
    }

    /// Which device node this GPU's renderer draws through.
    pub fn access(&self) -> RenderAccess {
        self.access
    }

    /// Whether GL reads pixels back in BGRA byte order (GL_EXT_read_format_bgra): ARGB8888
    /// buffers are then read back as they lie in memory, with no swizzle.
    pub fn reads_bgra(&self) -> bool {
        self.reads_bgra
    }

    /// Whether this GPU samples R8 and RG8 textures (GLES 3), so YUV buffers it cannot import
    /// are carried to it plane by plane and converted as its frames draw them.
    pub fn samples_planes(&self) -> bool {
        self.samples_planes
    }

    /// The program this GPU draws YUV planes with, compiled on first use.
    pub(crate) fn plane_program(
        &mut self,
    ) -> Result<smithay::backend::renderer::gles::GlesTexProgram, crate::TandemError> {
        if let Some(program) = &self.plane_program {
            return Ok(program.clone());
        }
        let program = crate::renderer::plane_shader::compile(&mut self.renderer)
            .map_err(crate::TandemError::gles(self.id))?;
        self.plane_program = Some(program.clone());
        Ok(program)
    }

    /// The driver's name for its renderer (GL_RENDERER), e.g. `virgl (LLVMPIPE ...)`.
    pub fn renderer_name(&self) -> &str {
        &self.renderer_name
    }

    /// Does this GPU draw with Mesa's CPU rasterizers (llvmpipe, softpipe)? For a DRM device
    /// that means it has no 3D engine of its own: a display-only device (virtio-gpu without
    /// virgl, vkms, DisplayLink, simpledrm), whose scanout buffers such a renderer cannot reach
    /// through the render node.
    pub fn renders_on_cpu(&self) -> bool {
        self.renderer_name.starts_with("llvmpipe") || self.renderer_name.starts_with("softpipe")
    }

    /// The GPU's identity.
    pub fn id(&self) -> GpuId {
        self.id
    }

    /// What this GPU's driver can share (see [`Quirks`]).
    pub fn quirks(&self) -> Quirks {
        self.quirks
    }

    /// Changes what this GPU is taken to share (tests, and drivers found to refuse later).
    pub fn set_quirks(&mut self, quirks: Quirks) {
        self.quirks = quirks;
    }

    /// The GPU's renderer.
    pub fn renderer(&mut self) -> &mut GlesRenderer {
        &mut self.renderer
    }

    pub(crate) fn renderer_ref(&self) -> &GlesRenderer {
        &self.renderer
    }

    /// The identity of this GPU's EGL context (smithay's caches key textures by it).
    pub fn context_id(&self) -> ContextId<GlesTexture> {
        self.renderer.context_id()
    }

    pub(crate) fn allocator(&mut self) -> &mut dyn DmabufAllocator {
        self.allocator.as_mut()
    }

    pub(crate) fn released_counter(&self) -> Arc<AtomicUsize> {
        self.released.clone()
    }

    /// Remembers a dmabuf imported or bound here so cleanup knows when its cached EGLImage can
    /// go.
    pub(crate) fn track_import(&mut self, dmabuf: &Dmabuf) {
        self.imported.insert(dmabuf.weak());
    }

    /// Notes that a GL object of this GPU (a readback buffer) was dropped outside the ledger.
    pub(crate) fn mark_released(&self) {
        self.released.fetch_add(1, Ordering::Release);
    }

    /// True when something of this GPU waits to be freed.
    pub(crate) fn has_pending_frees(&self) -> bool {
        self.released.load(Ordering::Acquire) > 0 || self.imported.iter().any(|w| w.is_gone())
    }

    /// Frees deferred GL objects if there are any; returns whether the context was touched.
    pub(crate) fn cleanup(&mut self) -> Result<bool, TandemError> {
        if self.lost.is_some() || !self.has_pending_frees() {
            return Ok(false);
        }
        self.cleanup_passes += 1;
        if let Err(err) = self.renderer.cleanup_texture_cache() {
            tracing::error!(gpu = %self.id, %err, "the GPU's context failed: marked lost");
            self.lost = Some(err.to_string());
            return Err(err.into());
        }
        self.released.store(0, Ordering::Release);
        self.imported.retain(|weak| !weak.is_gone());
        Ok(true)
    }

    /// Rectangles read back from this GPU so far (each a round trip to it).
    pub fn readback_rects(&self) -> u64 {
        self.readback_rects
    }

    pub(crate) fn count_readbacks(&mut self, rects: u64) {
        self.readback_rects += rects;
    }

    /// Why this GPU is lost (its context failed), if it is. A lost GPU is never made current
    /// again: what it held is dropped without GL calls.
    pub fn lost(&self) -> Option<&str> {
        self.lost.as_deref()
    }

    /// How many times cleanup made this GPU's context current.
    pub fn cleanup_passes(&self) -> u64 {
        self.cleanup_passes
    }

    /// Formats clients may hand this GPU as dmabufs: what its EGL imports, plus linear buffers
    /// on software GPUs (llvmpipe imports them but advertises only the implicit modifier).
    pub fn client_dmabuf_formats(&self) -> Vec<Format> {
        let mut formats: Vec<Format> = self
            .renderer
            .egl_context()
            .dmabuf_texture_formats()
            .iter()
            .copied()
            .collect();
        if matches!(self.id, GpuId::Software(_)) {
            let codes: Vec<Fourcc> = formats.iter().map(|f| f.code).collect();
            for code in codes {
                let linear = Format {
                    code,
                    modifier: Modifier::Linear,
                };
                if !formats.contains(&linear) {
                    formats.push(linear);
                }
            }
        }
        formats
    }

    /// Modifiers of `fourcc` this GPU can import from another GPU's memory, never the implicit one.
    pub(crate) fn importable_modifiers(&self, fourcc: Fourcc) -> Vec<Modifier> {
        let mut modifiers: Vec<Modifier> = self
            .renderer
            .egl_context()
            .dmabuf_texture_formats()
            .iter()
            .filter(|format| format.code == fourcc && format.modifier != Modifier::Invalid)
            .map(|format| format.modifier)
            .collect();
        if matches!(self.id, GpuId::Software(_)) && !modifiers.contains(&Modifier::Linear) {
            // llvmpipe (Mesa 24+) imports linear memfd buffers but only advertises the implicit
            // modifier.
            modifiers.push(Modifier::Linear);
        }
        modifiers
    }
}
