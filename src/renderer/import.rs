//! Import traits of [`MultiRenderer`]: shm and memory uploads, and client dmabufs.
//!
//! Each import fills the render GPU's entry of the buffer's [`MultiTexture`] (the surface's, when
//! smithay passes the surface data) and returns that MultiTexture. shm is uploaded here with
//! smithay's `with_buffer_contents` and `import_memory`/`update_memory`: smithay's own
//! `import_shm_buffer` is never given the surface, because it would keep a texture in the
//! surface's data that nothing outside smithay can clear.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::format::FormatSet;
use smithay::backend::allocator::{Buffer, Format, Fourcc};
use smithay::backend::renderer::{ImportDma, ImportDmaWl, ImportMem, ImportMemWl, Texture};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::utils::{Buffer as BufferCoord, Rectangle, Size};
use smithay::wayland::compositor::SurfaceData;
use smithay::wayland::shm::{shm_format_to_fourcc, with_buffer_contents, BufferData};

use super::copy::{self, DmabufImport};
use super::MultiRenderer;
use crate::error::TandemError;
use crate::ledger::MemoryKind;
use crate::texture::client_memory::ClientMemory;
use crate::texture::slot::clip_damage;
use crate::texture::{EntryContent, GpuEntry, MultiTexture};

impl MultiRenderer<'_> {
    pub(super) fn texture_for_surface(&self, surface: Option<&SurfaceData>) -> MultiTexture {
        let registry = self.manager.texture_registry();
        match surface {
            Some(states) => MultiTexture::from_surface_data(states, registry),
            None => {
                let texture = MultiTexture::new(None);
                registry.register(&texture);
                texture
            }
        }
    }

    /// Uploads `pixels` (tightly packed, `size`) into the render GPU's entry of `texture`:
    /// only `damage` when the entry can be updated in place, the whole image otherwise.
    pub(super) fn upload(
        &mut self,
        texture: &MultiTexture,
        pixels: &[u8],
        fourcc: Fourcc,
        size: Size<i32, BufferCoord>,
        damage: &[Rectangle<i32, BufferCoord>],
    ) -> Result<(), TandemError> {
        let ledger = self.manager.ledger().clone();
        let error = self.gles_error();
        let client = texture.lock().owner.as_ref().and_then(|o| o.client.clone());
        let budget = self.manager.client_budget(client.as_ref());
        let bytes = size.w.max(0) as u64 * size.h.max(0) as u64 * 4;
        let gpu = self.render_gpu_mut()?;
        let mut state = texture.lock();
        let existing = state.take_entry(gpu.id());
        let same_texture = existing
            .as_ref()
            .is_some_and(|e| updatable(e, size, fourcc));
        let replacing = existing.is_some() && !same_texture;
        let entry = match existing {
            Some(entry) if same_texture => {
                for rect in clip_damage(damage, size) {
                    gpu.renderer()
                        .update_memory(&entry.texture, pixels, rect)
                        .map_err(TandemError::gles(gpu.id()))?;
                }
                entry
            }
            replaced => {
                // Updates reuse what is held; a new texture is asked for once the one it
                // replaces is gone.
                drop(replaced);
                budget.allow(bytes)?;
                let gles = gpu
                    .renderer()
                    .import_memory(pixels, fourcc, size, false)
                    .map_err(error)?;
                // A texture held for no surface is one the compositor made from its own memory.
                let account = match &state.owner {
                    Some(owner) => ledger.record(
                        gpu.id(),
                        MemoryKind::NativeTexture,
                        bytes,
                        Some(owner),
                        gpu.released_counter(),
                    ),
                    None => ledger.record_for_compositor(
                        gpu.id(),
                        crate::ledger::PURPOSE_MEMORY_TEXTURE,
                        bytes,
                        gpu.released_counter(),
                    ),
                };
                GpuEntry {
                    gpu: gpu.id(),
                    texture: gles,
                    fourcc,
                    content: EntryContent::Native { pinned: None },
                    _account: Some(account),
                }
            }
        };
        // The pixels are memory now, not the dmabuf imported before (if any).
        state.store_memory_import(entry, size, fourcc);
        drop(state);
        self.manager.copy_stats_mut().reallocations += u64::from(replacing);
        Ok(())
    }

    /// Imports (or updates, limited to `damage`) a client dmabuf into `texture`'s entry for the
    /// render GPU: the same path smithay's surface import takes, for compositors that keep their
    /// own buffer state.
    pub fn update_dmabuf(
        &mut self,
        texture: &MultiTexture,
        dmabuf: &Dmabuf,
        damage: &[Rectangle<i32, BufferCoord>],
    ) -> Result<(), TandemError> {
        self.import_dmabuf_into(texture, dmabuf, damage)
    }

    pub(crate) fn import_dmabuf_into(
        &mut self,
        texture: &MultiTexture,
        dmabuf: &Dmabuf,
        damage: &[Rectangle<i32, BufferCoord>],
    ) -> Result<(), TandemError> {
        let target = self.output.render;
        // Waking the buffer's GPU puts it back among the others; GPUs are found by id.
        let source = self
            .manager
            .dmabuf_origin(dmabuf)
            .filter(|origin| self.manager.awake_index(*origin).is_ok())
            .unwrap_or(target);
        let mut state = texture.lock();
        let owner = state.owner.clone();
        let existing = state.take_entry(target);
        let last_read = state.take_shared_read(target);
        let job = DmabufImport {
            dmabuf,
            damage,
            owner: owner.as_ref(),
            source,
            target,
            last_read,
        };
        let entry = copy::import_dmabuf(self.manager, job, existing)?;
        state.store_dmabuf_import(entry, dmabuf);
        Ok(())
    }
}

/// Can `entry` take an upload of `size` pixels in `fourcc` in place (damaged parts only)?
fn updatable(entry: &GpuEntry, size: Size<i32, BufferCoord>, fourcc: Fourcc) -> bool {
    matches!(entry.content, EntryContent::Native { pinned: None })
        && entry.texture.size() == size
        && entry.fourcc == fourcc
}

/// The largest shm copy buffer kept for the next upload (a 3840x2160 image); a larger one is
/// freed once its upload is done.
const SHM_SCRATCH_KEPT: usize = 36 << 20;

/// Checks an shm buffer's layout against its pool and copies its rows, tightly packed, out of
/// the pool (memory the client can write meanwhile, read through raw pointers only) into
/// `packed`; returns the bytes copied. With `damaged`, only the rows those rectangles touch are
/// copied (the others are left as they were: the upload reads only the damaged rectangles).
fn shm_pixels(
    pool: &ClientMemory,
    data: &BufferData,
    damaged: Option<&[Rectangle<i32, BufferCoord>]>,
    packed: &mut Vec<u8>,
) -> Result<u64, TandemError> {
    let invalid = |what: &str| TandemError::ShmAccess(format!("{what}: {data:?}"));
    let width = usize::try_from(data.width).map_err(|_| invalid("negative width"))?;
    let height = usize::try_from(data.height).map_err(|_| invalid("negative height"))?;
    let stride = usize::try_from(data.stride).map_err(|_| invalid("negative stride"))?;
    let offset = usize::try_from(data.offset).map_err(|_| invalid("negative offset"))?;
    let row = width
        .checked_mul(4)
        .ok_or_else(|| invalid("width overflows"))?;
    let end = stride
        .checked_mul(height)
        .and_then(|len| len.checked_add(offset))
        .ok_or_else(|| invalid("size overflows"))?;
    if stride < row || end > pool.len() {
        return Err(invalid("buffer does not fit its pool"));
    }
    let image_len = row * height;
    if packed.len() < image_len {
        packed
            .try_reserve_exact(image_len - packed.len())
            .map_err(|_| invalid("no memory to copy it"))?;
        packed.resize(image_len, 0);
    }
    let mut wanted = vec![damaged.is_none(); height];
    for rect in damaged.unwrap_or_default() {
        let top = rect.loc.y.clamp(0, height as i32) as usize;
        let bottom = rect
            .loc
            .y
            .saturating_add(rect.size.h)
            .clamp(0, height as i32) as usize;
        wanted[top..bottom].fill(true);
    }
    let mut copied = 0;
    if stride == row && damaged.is_none() {
        pool.copy_to(offset, &mut packed[..image_len])
            .ok_or_else(|| invalid("buffer does not fit its pool"))?;
        return Ok(image_len as u64);
    }
    for (y, _) in wanted.iter().enumerate().filter(|(_, wanted)| **wanted) {
        pool.copy_to(offset + y * stride, &mut packed[y * row..(y + 1) * row])
            .ok_or_else(|| invalid("buffer does not fit its pool"))?;
        copied += row as u64;
    }
    Ok(copied)
}

impl ImportMem for MultiRenderer<'_> {
    fn import_memory(
        &mut self,
        data: &[u8],
        format: Fourcc,
        size: Size<i32, BufferCoord>,
        flipped: bool,
    ) -> Result<MultiTexture, TandemError> {
        if flipped {
            tracing::debug!("flipped memory imports are uploaded unflipped");
        }
        let texture = self.texture_for_surface(None);
        self.upload(&texture, data, format, size, &[])?;
        Ok(texture)
    }

    fn update_memory(
        &mut self,
        texture: &MultiTexture,
        data: &[u8],
        region: Rectangle<i32, BufferCoord>,
    ) -> Result<(), TandemError> {
        let (size, format) = (texture.size(), texture.format());
        let fourcc = format.ok_or(TandemError::NotImportedFor(self.render_gpu()))?;
        self.upload(texture, data, fourcc, size, &[region])
    }

    fn mem_formats(&self) -> Box<dyn Iterator<Item = Fourcc>> {
        // Tandem's uploads and copies move 32-bit pixels only.
        let Ok(gpu) = self.render_gpu_ref() else {
            return Box::new(std::iter::empty());
        };
        let formats: Vec<Fourcc> = gpu
            .renderer_ref()
            .mem_formats()
            .filter(|f| {
                matches!(
                    f,
                    Fourcc::Argb8888 | Fourcc::Xrgb8888 | Fourcc::Abgr8888 | Fourcc::Xbgr8888
                )
            })
            .collect();
        Box::new(formats.into_iter())
    }
}

impl ImportMemWl for MultiRenderer<'_> {
    fn import_shm_buffer(
        &mut self,
        buffer: &WlBuffer,
        surface: Option<&SurfaceData>,
        damage: &[Rectangle<i32, BufferCoord>],
    ) -> Result<MultiTexture, TandemError> {
        let texture = self.texture_for_surface(surface);
        let result = with_buffer_contents(buffer, |ptr, len, data| {
            let fourcc = shm_format_to_fourcc(data.format)
                .ok_or(TandemError::UnsupportedShmFormat(data.format))?;
            // SAFETY: smithay hands out the pool's mapping, valid for `len` bytes for the
            // duration of this closure (SIGBUS from a shrunk pool is caught by smithay).
            let pool = unsafe { ClientMemory::new(ptr, len) };
            let size = (data.width, data.height).into();
            let render = self.render_gpu();
            let in_place = texture
                .lock()
                .entry(render)
                .is_some_and(|e| updatable(e, size, fourcc));
            let damaged = clip_damage(damage, size);
            let mut packed = self.manager.take_shm_scratch();
            let copied = shm_pixels(&pool, &data, in_place.then_some(&damaged[..]), &mut packed);
            let image_len = size.w.max(0) as usize * size.h.max(0) as usize * 4;
            let uploaded = copied.and_then(|copied| {
                self.manager.copy_stats_mut().shm_copied_bytes += copied;
                self.upload(&texture, &packed[..image_len], fourcc, size, damage)
            });
            if packed.len() <= SHM_SCRATCH_KEPT {
                self.manager.return_shm_scratch(packed);
            }
            uploaded
        });
        match result {
            Ok(upload) => upload.map(|()| texture),
            Err(err) => Err(TandemError::ShmAccess(err.to_string())),
        }
    }
}

impl ImportDma for MultiRenderer<'_> {
    fn dmabuf_formats(&self) -> FormatSet {
        self.render_gpu_ref()
            .map(|gpu| gpu.renderer_ref().dmabuf_formats())
            .unwrap_or_default()
    }

    fn has_dmabuf_format(&self, format: Format) -> bool {
        self.render_gpu_ref()
            .is_ok_and(|gpu| gpu.renderer_ref().has_dmabuf_format(format))
    }

    fn import_dmabuf(
        &mut self,
        dmabuf: &Dmabuf,
        damage: Option<&[Rectangle<i32, BufferCoord>]>,
    ) -> Result<MultiTexture, TandemError> {
        let texture = self.texture_for_surface(None);
        let full = [Rectangle::from_size(dmabuf.size())];
        self.import_dmabuf_into(&texture, dmabuf, damage.unwrap_or(&full))?;
        Ok(texture)
    }
}

impl ImportDmaWl for MultiRenderer<'_> {
    fn import_dma_buffer(
        &mut self,
        buffer: &WlBuffer,
        surface: Option<&SurfaceData>,
        damage: &[Rectangle<i32, BufferCoord>],
    ) -> Result<MultiTexture, TandemError> {
        let dmabuf = smithay::wayland::dmabuf::get_dmabuf(buffer)
            .map_err(|_| TandemError::WrongBufferType("linux-dmabuf"))?
            .clone();
        let texture = self.texture_for_surface(surface);
        self.import_dmabuf_into(&texture, &dmabuf, damage)?;
        Ok(texture)
    }
}

#[cfg(test)]
mod tests {
    use smithay::reexports::wayland_server::protocol::wl_shm;
    use smithay::wayland::shm::BufferData;

    use super::shm_pixels;
    use crate::texture::client_memory::ClientMemory;

    proptest::proptest! {
        /// Whatever layout a client claims for an shm buffer, validation never panics and what
        /// it accepts is exactly the tightly packed rows, inside the pool.
        #[test]
        fn shm_layouts_are_validated(
            offset in proptest::num::i32::ANY,
            width in -4i32..300,
            height in -4i32..300,
            stride in proptest::num::i32::ANY,
            pool_len in 0usize..300_000,
        ) {
            let bytes = vec![0u8; pool_len];
            // SAFETY: `bytes` outlives `pool` and is not written meanwhile.
            let pool = unsafe { ClientMemory::new(bytes.as_ptr(), bytes.len()) };
            let data = BufferData { offset, width, height, stride, format: wl_shm::Format::Argb8888 };
            let damage = [smithay::utils::Rectangle::new((0, height / 3).into(), (width, 2).into())];
            for damaged in [None, Some(&damage[..])] {
                let mut packed = Vec::new();
                if let Ok(copied) = shm_pixels(&pool, &data, damaged, &mut packed) {
                    proptest::prop_assert_eq!(packed.len(), width as usize * height as usize * 4);
                    proptest::prop_assert!(copied <= packed.len() as u64);
                }
            }
            let mut packed = Vec::new();
            if shm_pixels(&pool, &data, None, &mut packed).is_ok() {
                proptest::prop_assert_eq!(packed.len(), width as usize * height as usize * 4);
                proptest::prop_assert!(offset as usize + stride as usize * height as usize <= pool_len);
            }
        }
    }
}
