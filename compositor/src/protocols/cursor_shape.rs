//! wp_cursor_shape_v1: a client names its pointer's shape ("text", "wait", "pointer", ...)
//! instead of drawing a cursor surface, and the compositor draws that shape from the xcursor
//! theme (`input::cursor`), the same theme for every client.
//!
//! smithay keeps the global and checks the request's serial against the pointer's focus; the
//! shape reaches `SeatHandler::cursor_image` (`protocols::seat`) as `CursorImageStatus::Named`.
//! `State::new` creates the global. smithay's cursor-shape asks the state for a tablet-seat
//! handler; tablets' own cursor images are not drawn.

use smithay::wayland::tablet_manager::TabletSeatHandler;

use crate::state::State;

impl TabletSeatHandler for State {}

smithay::delegate_cursor_shape!(State);
