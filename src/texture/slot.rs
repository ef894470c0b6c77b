//! Shadow slots and CPU copies: the state one surface keeps per target GPU to move pixels from
//! the GPU its dmabuf lives on.
//!
//! A [`ShadowSlot`] is allocated on the source GPU, drawn there, and imported on the target GPU
//! once. It is reused across frames and replaced only when its [`SlotKey`] changes. The copy
//! code in [`crate::renderer::copy`] creates and updates these; [`MultiTexture`](super::MultiTexture)
//! owns them.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Fourcc, Modifier};
use smithay::utils::{Buffer as BufferCoord, Rectangle, Size};

use super::mapped::Mappings;
use super::pixel_format::transfer_fourcc;
use super::staging::StagingBuffer;
use crate::gpu::GpuId;
use crate::ledger::LedgerEntry;

/// Everything that decides whether a shadow slot can be reused for the next frame.
///
/// Built from what the client's buffer is and what was chosen for the copy, never from what an
/// allocator reports back about the buffer it made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotKey {
    pub size: Size<i32, BufferCoord>,
    pub source_fourcc: Fourcc,
    pub transfer_fourcc: Fourcc,
    pub modifier: Modifier,
    pub source_gpu: GpuId,
}

impl SlotKey {
    /// The key of the slot that copies `client` (a dmabuf of `source_gpu`) through buffers
    /// of `modifier`: built from what the client's buffer is and what was chosen for the copy.
    pub fn for_client_buffer(client: &Dmabuf, modifier: Modifier, source_gpu: GpuId) -> SlotKey {
        use smithay::backend::allocator::Buffer;
        let source_fourcc = client.format().code;
        SlotKey {
            size: client.size(),
            source_fourcc,
            transfer_fourcc: transfer_fourcc(source_fourcc),
            modifier,
            source_gpu,
        }
    }
}

/// A dmabuf on the source GPU that the target GPU has imported.
pub(crate) struct ShadowSlot {
    pub key: SlotKey,
    pub dmabuf: Dmabuf,
    pub _account: LedgerEntry,
}

/// Staging memory that damaged rectangles pass through on their way to the target GPU.
pub(crate) struct CpuCopy {
    pub source_gpu: GpuId,
    pub staging: StagingBuffer,
    /// The target samples the staging memory itself (an imported udmabuf): nothing to upload.
    pub in_place: bool,
    /// The client buffers read through their own mappings, kept mapped.
    pub mappings: Mappings,
    pub _account: LedgerEntry,
}

/// Clips `damage` to a buffer of `size`; an empty result means nothing changed.
///
/// More than [`MAX_DAMAGE_RECTS`] rectangles are merged into their bounding box: each rectangle
/// costs a draw or a readback, and a client chooses how many it sends. The result is held inline
/// (no allocation in a steady frame).
pub fn clip_damage(
    damage: &[Rectangle<i32, BufferCoord>],
    size: Size<i32, BufferCoord>,
) -> ClippedDamage {
    let bounds = Rectangle::from_size(size);
    let mut clipped = ClippedDamage::default();
    let mut bounding: Option<Rectangle<i32, BufferCoord>> = None;
    let mut count = 0;
    for rect in damage
        .iter()
        .filter_map(|rect| rect.intersection(bounds))
        .filter(|rect| !rect.is_empty())
    {
        bounding = Some(bounding.map_or(rect, |b| b.merge(rect)));
        if let Some(slot) = clipped.rects.get_mut(count) {
            *slot = rect;
        }
        count += 1;
    }
    match bounding {
        Some(bounding) if count > MAX_DAMAGE_RECTS => ClippedDamage::one(bounding),
        _ => {
            clipped.len = count;
            clipped
        }
    }
}

/// Damage clipped to a buffer ([`clip_damage`]): at most [`MAX_DAMAGE_RECTS`] rectangles, used
/// as a slice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClippedDamage {
    rects: [Rectangle<i32, BufferCoord>; MAX_DAMAGE_RECTS],
    len: usize,
}

impl ClippedDamage {
    /// One rectangle (already inside the buffer).
    pub fn one(rect: Rectangle<i32, BufferCoord>) -> ClippedDamage {
        let mut damage = ClippedDamage::default();
        damage.rects[0] = rect;
        damage.len = 1;
        damage
    }
}

impl std::ops::Deref for ClippedDamage {
    type Target = [Rectangle<i32, BufferCoord>];

    fn deref(&self) -> &Self::Target {
        &self.rects[..self.len]
    }
}

impl IntoIterator for ClippedDamage {
    type Item = Rectangle<i32, BufferCoord>;
    type IntoIter = std::iter::Take<std::array::IntoIter<Self::Item, MAX_DAMAGE_RECTS>>;

    fn into_iter(self) -> Self::IntoIter {
        self.rects.into_iter().take(self.len)
    }
}

/// The most damage rectangles a copy handles one by one (see [`clip_damage`]).
pub const MAX_DAMAGE_RECTS: usize = 16;

/// Bytes covered by `rects` at `bpp` bytes per pixel (overlaps counted once per rectangle).
pub fn damaged_bytes(rects: &[Rectangle<i32, BufferCoord>], bpp: u64) -> u64 {
    rects
        .iter()
        .map(|r| r.size.w.max(0) as u64 * r.size.h.max(0) as u64 * bpp)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(w: i32, h: i32) -> SlotKey {
        SlotKey {
            size: (w, h).into(),
            source_fourcc: Fourcc::Xrgb8888,
            transfer_fourcc: transfer_fourcc(Fourcc::Xrgb8888),
            modifier: Modifier::Linear,
            source_gpu: GpuId::Software(1),
        }
    }

    #[test]
    fn key_changes_only_with_its_inputs() {
        assert_eq!(key(64, 64), key(64, 64));
        assert_ne!(key(64, 64), key(65, 64));
        let mut other_gpu = key(64, 64);
        other_gpu.source_gpu = GpuId::Software(2);
        assert_ne!(key(64, 64), other_gpu);
    }

    fn client_buffer(w: u32, h: u32, fourcc: Fourcc) -> Dmabuf {
        use crate::gpu::DmabufAllocator as _;
        crate::gpu::MemfdAllocator
            .allocate(w, h, fourcc, &[Modifier::Linear])
            .expect("memfd dmabuf")
    }

    /// The key is built from real client buffers: the next buffer of a swapchain (same size
    /// and format) reuses the slot; a resize, a format switch (even to one with the same
    /// transfer format), another copy modifier or another source GPU does not.
    #[test]
    fn a_slot_is_reused_for_the_next_buffer_of_a_swapchain_only() {
        let gpu = GpuId::Software(1);
        let first = client_buffer(64, 48, Fourcc::Xrgb8888);
        let key = SlotKey::for_client_buffer(&first, Modifier::Linear, gpu);
        let next = client_buffer(64, 48, Fourcc::Xrgb8888);
        assert_eq!(
            SlotKey::for_client_buffer(&next, Modifier::Linear, gpu),
            key
        );
        for (other, why) in [
            (client_buffer(65, 48, Fourcc::Xrgb8888), "resized"),
            (client_buffer(64, 48, Fourcc::Argb8888), "alpha added"),
            (client_buffer(64, 48, Fourcc::Xbgr8888), "channel order"),
        ] {
            assert_ne!(
                SlotKey::for_client_buffer(&other, Modifier::Linear, gpu),
                key,
                "{why}"
            );
        }
        assert_ne!(
            SlotKey::for_client_buffer(&first, Modifier::Invalid, gpu),
            key,
            "another copy modifier"
        );
        assert_ne!(
            SlotKey::for_client_buffer(&first, Modifier::Linear, GpuId::Software(2)),
            key,
            "another source GPU"
        );
        assert_eq!(key.transfer_fourcc, Fourcc::Argb8888);
        assert_eq!(key.size, (64, 48).into());
    }

    #[test]
    fn transfer_keeps_channel_order_and_depth() {
        assert_eq!(transfer_fourcc(Fourcc::Xbgr8888), Fourcc::Abgr8888);
        assert_eq!(transfer_fourcc(Fourcc::Xrgb8888), Fourcc::Argb8888);
        assert_eq!(transfer_fourcc(Fourcc::Xrgb2101010), Fourcc::Xrgb2101010);
        assert_eq!(transfer_fourcc(Fourcc::Abgr2101010), Fourcc::Abgr2101010);
        assert_eq!(transfer_fourcc(Fourcc::P010), Fourcc::Abgr2101010);
        assert_eq!(
            transfer_fourcc(Fourcc::Xbgr16161616f),
            Fourcc::Abgr16161616f
        );
    }

    fn arbitrary_key(w: i32, h: i32, source: u8, modifier: bool, gpu: u32) -> SlotKey {
        let fourccs = [
            Fourcc::Argb8888,
            Fourcc::Xrgb8888,
            Fourcc::Abgr8888,
            Fourcc::Xbgr8888,
        ];
        let source_fourcc = fourccs[source as usize % fourccs.len()];
        SlotKey {
            size: (w, h).into(),
            source_fourcc,
            transfer_fourcc: transfer_fourcc(source_fourcc),
            modifier: if modifier {
                Modifier::Linear
            } else {
                Modifier::Invalid
            },
            source_gpu: GpuId::Software(gpu),
        }
    }

    proptest::proptest! {
        /// A slot is reused exactly when nothing that decides its contents changed, and the
        /// transfer format always keeps the source's channel order with alpha.
        #[test]
        fn slot_keys_match_only_equal_inputs(
            a in (1i32..4096, 1i32..4096, 0u8..4, proptest::bool::ANY, 0u32..3),
            b in (1i32..4096, 1i32..4096, 0u8..4, proptest::bool::ANY, 0u32..3),
        ) {
            let (ka, kb) = (arbitrary_key(a.0, a.1, a.2, a.3, a.4), arbitrary_key(b.0, b.1, b.2, b.3, b.4));
            let same_inputs = (a.0, a.1, a.2 % 4, a.3, a.4) == (b.0, b.1, b.2 % 4, b.3, b.4);
            proptest::prop_assert_eq!(ka == kb, same_inputs);
            proptest::prop_assert!(matches!(ka.transfer_fourcc, Fourcc::Argb8888 | Fourcc::Abgr8888));
        }

        /// Any damage rectangle a client can send (any i32 position and size, negative included)
        /// clips without panicking, and the result lies inside the buffer.
        #[test]
        fn clipping_any_damage_stays_inside(
            x in proptest::num::i32::ANY,
            y in proptest::num::i32::ANY,
            w in proptest::num::i32::ANY,
            h in proptest::num::i32::ANY,
            bw in 1i32..8192,
            bh in 1i32..8192,
        ) {
            let size: Size<i32, BufferCoord> = (bw, bh).into();
            for rect in clip_damage(&[Rectangle::new((x, y).into(), (w, h).into())], size) {
                proptest::prop_assert!(rect.loc.x >= 0 && rect.loc.y >= 0);
                proptest::prop_assert!(rect.size.w > 0 && rect.size.h > 0);
                proptest::prop_assert!(rect.loc.x + rect.size.w <= bw);
                proptest::prop_assert!(rect.loc.y + rect.size.h <= bh);
            }
        }
    }

    #[test]
    fn damage_is_clipped_to_the_buffer() {
        let size: Size<i32, BufferCoord> = (100, 50).into();
        let rects = clip_damage(
            &[
                Rectangle::new((90, 40).into(), (20, 20).into()),
                Rectangle::new((200, 0).into(), (5, 5).into()),
                Rectangle::new((-10, -10).into(), (i32::MAX, 20).into()),
            ],
            size,
        );
        assert_eq!(rects[0], Rectangle::new((90, 40).into(), (10, 10).into()));
        assert_eq!(rects.len(), 2);
        assert_eq!(rects[1], Rectangle::new((0, 0).into(), (100, 10).into()));
        assert_eq!(damaged_bytes(&rects, 4), (100 + 1000) * 4);
    }

    #[test]
    fn more_rectangles_than_handled_merge_into_their_bounds() {
        let size: Size<i32, BufferCoord> = (1000, 1000).into();
        let many: Vec<_> = (0..MAX_DAMAGE_RECTS as i32 + 1)
            .map(|i| Rectangle::new((i * 10, i * 20).into(), (5, 5).into()))
            .collect();
        let rects = clip_damage(&many, size);
        assert_eq!(
            &rects[..],
            &[Rectangle::new((0, 0).into(), (165, 325).into())]
        );
        let few = clip_damage(&many[..MAX_DAMAGE_RECTS], size);
        assert_eq!(&few[..], &many[..MAX_DAMAGE_RECTS]);
    }
}
