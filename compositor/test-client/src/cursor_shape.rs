//! The pointer as a client moves and shapes it: `tandem-test-client --cursor-shape NAME
//! --hold SECONDS` opens one window of `--colour` and, each time the pointer enters it, asks
//! for the named cursor shape (wp_cursor_shape_v1), printing `shape NAME set`;
//! `tandem-test-client --pointer-to X,Y` moves the seat's pointer there through a wlr virtual
//! pointer (over the whole desktop, whose size `--size` gives) and exits; `--pointer-drag
//! X1,Y1,X2,Y2` drags with the left button from one point to the other.

use std::time::{Duration, Instant};

use wayland_client::protocol::wl_pointer::{self, WlPointer};
use wayland_client::protocol::wl_seat::WlSeat;
use wayland_client::{delegate_noop, Connection, Dispatch, QueueHandle};
use wayland_protocols::wp::cursor_shape::v1::client::{
    wp_cursor_shape_device_v1::{Shape, WpCursorShapeDeviceV1},
    wp_cursor_shape_manager_v1::WpCursorShapeManagerV1,
};
use wayland_protocols_wlr::virtual_pointer::v1::client::{
    zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1,
    zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1,
};

use crate::image_copy::Shared;
use crate::{Globals, TestClient};

/// The shapes `--cursor-shape` knows, by their CSS names.
pub const SHAPES: &[(&str, Shape)] = &[
    ("default", Shape::Default),
    ("text", Shape::Text),
    ("wait", Shape::Wait),
    ("pointer", Shape::Pointer),
    ("crosshair", Shape::Crosshair),
    ("move", Shape::Move),
    ("not-allowed", Shape::NotAllowed),
];

/// The serials of the pointer's `enter` events not yet answered.
type Enters = Shared<Vec<u32>>;

impl TestClient {
    /// Opens the window and sets `shape` on every enter for `hold` (see the module
    /// documentation); fails when cursor-shape is not offered.
    pub fn cursor_shape_window(
        &mut self,
        size: (i32, i32),
        colour: u32,
        shape: &str,
        hold: Duration,
    ) -> Result<(), String> {
        let chosen = SHAPES
            .iter()
            .find(|(name, _)| *name == shape)
            .map(|(_, shape)| *shape)
            .ok_or_else(|| format!("unknown cursor shape {shape}"))?;
        let qh = self.qh();
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        let (seat, version) = self.globals.seat_global.ok_or("no wl_seat")?;
        let (manager, _) = self
            .globals
            .cursor_shape_global
            .ok_or("wp_cursor_shape_manager_v1 is not offered")?;
        let seat: WlSeat = registry.bind(seat, version.min(5), &qh, ());
        let enters = Enters::default();
        let pointer = seat.get_pointer(&qh, enters.clone());
        let manager: WpCursorShapeManagerV1 = registry.bind(manager, 1, &qh, ());
        let device = manager.get_pointer(&pointer, &qh, ());
        let mut window = self.shm_window(size);
        window.pixels().fill((0, 0, size.0, size.1), colour);
        window.make_toplevel(self, "tandem.cursor-shape", "cursor shape");
        self.roundtrip()?;
        window.commit(None);
        self.roundtrip()?;
        let started = Instant::now();
        while started.elapsed() < hold {
            for serial in enters.with(std::mem::take) {
                device.set_shape(serial, chosen);
                println!("shape {shape} set");
            }
            std::thread::sleep(Duration::from_millis(20));
            self.roundtrip()?;
        }
        device.destroy();
        window.destroy();
        self.roundtrip()
    }

    /// Moves the pointer to (`x`, `y`) of a desktop `extent` large (see the module
    /// documentation).
    pub fn pointer_to(&mut self, x: u32, y: u32, extent: (u32, u32)) -> Result<(), String> {
        let qh = self.qh();
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        let (manager, _) = self
            .globals
            .virtual_pointer_global
            .ok_or("zwlr_virtual_pointer_manager_v1 is not offered")?;
        let manager: ZwlrVirtualPointerManagerV1 = registry.bind(manager, 1, &qh, ());
        let pointer = manager.create_virtual_pointer(None, &qh, ());
        pointer.motion_absolute(0, x, y, extent.0, extent.1);
        pointer.frame();
        pointer.destroy();
        self.roundtrip()
    }
}

/// Linux's code of the left mouse button.
const BTN_LEFT: u32 = 0x110;

impl TestClient {
    /// Presses the left button at `from`, moves to `to` in steps, releases there.
    pub fn pointer_drag(
        &mut self,
        from: (u32, u32),
        to: (u32, u32),
        extent: (u32, u32),
    ) -> Result<(), String> {
        use wayland_client::protocol::wl_pointer::ButtonState;
        const STEPS: u32 = 12;
        let qh = self.qh();
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        let (manager, _) = self
            .globals
            .virtual_pointer_global
            .ok_or("zwlr_virtual_pointer_manager_v1 is not offered")?;
        let manager: ZwlrVirtualPointerManagerV1 = registry.bind(manager, 1, &qh, ());
        let pointer = manager.create_virtual_pointer(None, &qh, ());
        let mut time = 0;
        let mut step = |client: &mut TestClient, at: (u32, u32), button: Option<ButtonState>| {
            time += 16;
            pointer.motion_absolute(time, at.0, at.1, extent.0, extent.1);
            if let Some(state) = button {
                pointer.button(time, BTN_LEFT, state);
            }
            pointer.frame();
            std::thread::sleep(Duration::from_millis(40));
            client.roundtrip()
        };
        step(self, from, None)?;
        step(self, from, Some(ButtonState::Pressed))?;
        // The program answers the press before the pointer moves on.
        std::thread::sleep(Duration::from_millis(300));
        for i in 1..=STEPS {
            let along = |a: u32, b: u32| {
                (i64::from(a) + (i64::from(b) - i64::from(a)) * i64::from(i) / i64::from(STEPS))
                    as u32
            };
            step(self, (along(from.0, to.0), along(from.1, to.1)), None)?;
        }
        step(self, to, Some(ButtonState::Released))?;
        pointer.destroy();
        self.roundtrip()
    }
}

impl Dispatch<WlPointer, Enters> for Globals {
    fn event(
        _: &mut Self,
        _: &WlPointer,
        event: wl_pointer::Event,
        enters: &Enters,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_pointer::Event::Enter { serial, .. } = event {
            enters.with(|enters| enters.push(serial));
        }
    }
}

delegate_noop!(Globals: ignore WpCursorShapeManagerV1);
delegate_noop!(Globals: ignore WpCursorShapeDeviceV1);
delegate_noop!(Globals: ignore ZwlrVirtualPointerManagerV1);
delegate_noop!(Globals: ignore ZwlrVirtualPointerV1);
