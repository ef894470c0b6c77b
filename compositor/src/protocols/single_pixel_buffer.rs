//! wp_single_pixel_buffer_v1: a buffer that is one colour, scaled to any size with a viewport
//! (GTK 4 and Chromium draw backgrounds, borders and letterboxing with it). smithay's surface
//! elements draw it as a solid rectangle on whichever GPU shows the window: there is no
//! texture to copy between GPUs, and nothing for the ledger to count.
//!
//! `State` keeps the global (`State::single_pixel_buffer`); smithay answers its requests.

use smithay::reexports::wayland_server::DisplayHandle;
use smithay::wayland::single_pixel_buffer::SinglePixelBufferState;

use crate::state::State;

pub fn global(display: &DisplayHandle) -> SinglePixelBufferState {
    SinglePixelBufferState::new::<State>(display)
}

smithay::delegate_single_pixel_buffer!(State);
