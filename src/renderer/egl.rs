//! `ImportEgl` (feature `use_system_lib`): wl_drm buffers of clients using EGL's legacy Wayland
//! path, so that smithay's `ImportAll` (and with it `import_surface_tree`) holds for
//! MultiRenderer when smithay's `use_system_lib` is on.
//!
//! EGL binds one GPU to the Wayland display: call `bind_wl_display` on a MultiRenderer whose render
//! GPU should read these buffers; renderers of other GPUs refuse them (smithay's error). The
//! texture is that GPU's native entry of the surface's MultiTexture, counted like an shm upload.

use smithay::backend::allocator::Fourcc;
use smithay::backend::egl::display::EGLBufferReader;
use smithay::backend::egl::Error as EglError;
use smithay::backend::renderer::{ImportEgl, Texture};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::DisplayHandle;
use smithay::utils::{Buffer as BufferCoord, Rectangle};
use smithay::wayland::compositor::SurfaceData;

use super::MultiRenderer;
use crate::error::TandemError;
use crate::ledger::MemoryKind;
use crate::texture::{EntryContent, GpuEntry, MultiTexture};

impl ImportEgl for MultiRenderer<'_> {
    fn bind_wl_display(&mut self, display: &DisplayHandle) -> Result<(), EglError> {
        match self.render_gpu_mut() {
            Ok(gpu) => gpu.renderer().bind_wl_display(display),
            Err(_) => Err(EglError::DisplayNotSupported),
        }
    }

    fn unbind_wl_display(&mut self) {
        if let Ok(gpu) = self.render_gpu_mut() {
            gpu.renderer().unbind_wl_display();
        }
    }

    fn egl_reader(&self) -> Option<&EGLBufferReader> {
        self.render_gpu_ref().ok()?.renderer_ref().egl_reader()
    }

    fn import_egl_buffer(
        &mut self,
        buffer: &WlBuffer,
        surface: Option<&SurfaceData>,
        damage: &[Rectangle<i32, BufferCoord>],
    ) -> Result<MultiTexture, TandemError> {
        let texture = self.texture_for_surface(surface);
        let ledger = self.manager.ledger().clone();
        let id = self.render_gpu();
        let gpu = self.render_gpu_mut()?;
        let gles = gpu
            .renderer()
            .import_egl_buffer(buffer, None, damage)
            .map_err(TandemError::gles(id))?;
        let size = gles.size();
        // External (YUV) images have no RGB format; Tandem's copy paths do not move them.
        let fourcc = gles.format().unwrap_or(Fourcc::Argb8888);
        let mut state = texture.lock();
        let account = ledger.record(
            id,
            MemoryKind::NativeTexture,
            size.w.max(0) as u64 * size.h.max(0) as u64 * 4,
            state.owner.as_ref(),
            gpu.released_counter(),
        );
        state.store_memory_import(
            GpuEntry {
                gpu: id,
                texture: gles,
                fourcc,
                content: EntryContent::Native { pinned: None },
                _account: Some(account),
            },
            size,
            fourcc,
        );
        drop(state);
        Ok(texture)
    }
}
