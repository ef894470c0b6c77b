//! wp_fractional_scale_v1 with viewporter as a client (`tandem-test-client --fractional-scale`):
//! one toplevel of a logical size whose buffer is drawn at the scale the compositor prefers for
//! it (logical size times the scale, rounded) and set back to its logical size with a viewport,
//! as toolkits with fractional scaling do. It prints `scale S buffer WxH` for its first buffer
//! and again each time the preferred scale changes.

use std::time::{Duration, Instant};

use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols::wp::fractional_scale::v1::client::{
    wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1,
    wp_fractional_scale_v1::{self, WpFractionalScaleV1},
};
use wayland_protocols::wp::viewporter::client::{
    wp_viewport::WpViewport, wp_viewporter::WpViewporter,
};

use crate::image_copy::Shared;
use crate::{Globals, TestClient};

/// The last preferred scale told, in 120ths.
type Preferred = Shared<Option<u32>>;

impl Dispatch<WpFractionalScaleV1, Preferred> for Globals {
    fn event(
        _: &mut Self,
        _: &WpFractionalScaleV1,
        event: wp_fractional_scale_v1::Event,
        preferred: &Preferred,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wp_fractional_scale_v1::Event::PreferredScale { scale } = event {
            preferred.with(|preferred| *preferred = Some(scale));
        }
    }
}

wayland_client::delegate_noop!(Globals: ignore WpFractionalScaleManagerV1);
wayland_client::delegate_noop!(Globals: ignore WpViewporter);
wayland_client::delegate_noop!(Globals: ignore WpViewport);

/// The buffer size for logical `size` at `scale` (in 120ths), as the protocol says: rounded.
pub fn buffer_size(size: (i32, i32), scale: u32) -> (i32, i32) {
    let scaled = |side: i32| ((f64::from(side) * f64::from(scale) / 120.0).round() as i32).max(1);
    (scaled(size.0), scaled(size.1))
}

impl TestClient {
    /// Opens a toplevel of logical `size` in `colour` drawn at its preferred scale, and follows
    /// that scale for `hold`; fails when fractional scale or viewporter is not offered.
    pub fn fractional_window(
        &mut self,
        size: (i32, i32),
        colour: u32,
        hold: Duration,
    ) -> Result<(), String> {
        let qh = self.qh();
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        let (manager, _) = self
            .globals
            .fractional_scale_global
            .ok_or("no wp_fractional_scale_manager_v1")?;
        let (viewporter, _) = self.globals.viewporter_global.ok_or("no wp_viewporter")?;
        let manager: WpFractionalScaleManagerV1 = registry.bind(manager, 1, &qh, ());
        let viewporter: WpViewporter = registry.bind(viewporter, 1, &qh, ());
        let mut window = self.shm_window((1, 1));
        let preferred = Preferred::default();
        let _fractional = manager.get_fractional_scale(&window.surface, &qh, preferred.clone());
        let viewport = viewporter.get_viewport(&window.surface, &qh, ());
        window.make_toplevel(self, "tandem.fractional", "fractional scale");
        self.roundtrip()?;
        let started = Instant::now();
        let mut drawn_at = None;
        loop {
            let scale = preferred.with(|preferred| preferred.unwrap_or(120));
            if drawn_at != Some(scale) {
                let (w, h) = buffer_size(size, scale);
                window.set_buffer(self, (w, h));
                window.pixels().fill((0, 0, w, h), colour);
                viewport.set_destination(size.0, size.1);
                window.commit(None);
                self.roundtrip()?;
                println!("scale {} buffer {w}x{h}", f64::from(scale) / 120.0);
                drawn_at = Some(scale);
            }
            if started.elapsed() >= hold {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            self.roundtrip()?;
        }
        viewport.destroy();
        window.destroy();
        self.roundtrip()
    }
}

#[cfg(test)]
mod tests {
    use super::buffer_size;

    #[test]
    fn buffers_are_the_logical_size_times_the_scale_rounded() {
        assert_eq!(buffer_size((200, 150), 120), (200, 150));
        assert_eq!(buffer_size((200, 150), 180), (300, 225));
        assert_eq!(buffer_size((201, 101), 150), (251, 126));
        assert_eq!(buffer_size((1, 1), 1), (1, 1));
    }
}
