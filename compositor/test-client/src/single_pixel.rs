//! wp_single_pixel_buffer_v1 as a client (`tandem-test-client --single-pixel SECONDS`): one
//! toplevel whose only buffer is a single pixel of `--colour`, stretched to `--size` with a
//! viewport, held that long. Prints `single pixel WxH` once it is committed.

use std::time::Duration;

use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_protocols::wp::single_pixel_buffer::v1::client::wp_single_pixel_buffer_manager_v1::WpSinglePixelBufferManagerV1;
use wayland_protocols::wp::viewporter::client::wp_viewporter::WpViewporter;

use crate::{Globals, TestClient};

wayland_client::delegate_noop!(Globals: ignore WpSinglePixelBufferManagerV1);

/// A channel of an ARGB8888 colour (`shift` bits up) as the protocol's 32-bit value.
fn channel(colour: u32, shift: u32) -> u32 {
    ((colour >> shift) & 0xff) * 0x0101_0101
}

impl TestClient {
    /// Opens the window (see the module documentation); fails when the single-pixel buffer
    /// manager or viewporter is not offered.
    pub fn single_pixel_window(
        &mut self,
        size: (i32, i32),
        colour: u32,
        hold: Duration,
    ) -> Result<(), String> {
        let qh = self.qh();
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        let (manager, _) = self
            .globals
            .single_pixel_global
            .ok_or("wp_single_pixel_buffer_manager_v1 is not offered")?;
        let (viewporter, _) = self.globals.viewporter_global.ok_or("no wp_viewporter")?;
        let manager: WpSinglePixelBufferManagerV1 = registry.bind(manager, 1, &qh, ());
        let viewporter: WpViewporter = registry.bind(viewporter, 1, &qh, ());
        let mut window = self.shm_window((1, 1));
        let viewport = viewporter.get_viewport(&window.surface, &qh, ());
        window.make_toplevel(self, "tandem.single-pixel", "single pixel");
        self.roundtrip()?;
        let buffer: WlBuffer = manager.create_u32_rgba_buffer(
            channel(colour, 16),
            channel(colour, 8),
            channel(colour, 0),
            channel(colour, 24),
            &qh,
            (),
        );
        viewport.set_destination(size.0, size.1);
        window.surface.attach(Some(&buffer), 0, 0);
        window.surface.damage_buffer(0, 0, 1, 1);
        window.surface.commit();
        self.roundtrip()?;
        println!("single pixel {}x{}", size.0, size.1);
        std::thread::sleep(hold);
        viewport.destroy();
        window.destroy();
        buffer.destroy();
        self.roundtrip()
    }
}
