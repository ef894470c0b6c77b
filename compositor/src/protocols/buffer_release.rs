//! When client buffers are released.
//!
//! smithay sends wl_buffer.release, and signals an explicit-sync release point, when the last
//! handle to the buffer in the surface's renderer state drops, which happens as soon as the
//! next buffer is committed. A GPU that samples the client's buffer in place may still be
//! drawing a frame with it then. `State::commit` calls [`retire_replaced_buffer`] first: the
//! old buffer is kept, with the ends of the frames that read it
//! (`MultiTexture::take_client_buffer_reads`), until they have passed;
//! [`RetiredBuffers::release_finished`] runs on a 1 ms timer while any buffer waits. Copies to other GPUs (shadow blits, readbacks, mapped reads) are over before
//! their import returns, so they never hold a release back.

use std::time::{Duration, Instant};

use smithay::backend::renderer::utils::{Buffer, RendererSurfaceStateUserData};
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::compositor::{with_states, SurfaceAttributes};
use tandem::{ClientBufferReads, SurfaceTracker};

use crate::state::State;

/// A release held past this is given anyway (a GPU that never finishes must not keep a
/// client's buffer forever).
const LONGEST_HOLD: Duration = Duration::from_secs(2);

/// Client buffers replaced while a GPU's frame still read them.
#[derive(Default)]
pub struct RetiredBuffers {
    retired: Vec<RetiredBuffer>,
    timer_armed: bool,
    /// Buffers replaced after GPU frames had sampled them in place.
    sampled: u64,
    /// Releases that had to wait for a GPU's frame, and the longest wait.
    held_releases: u64,
    longest_hold: Duration,
}

struct RetiredBuffer {
    /// Dropping the last handle releases the buffer.
    _buffer: Buffer,
    reads: ClientBufferReads,
    since: Instant,
}

impl RetiredBuffers {
    /// One line for `msg gpus`.
    pub fn describe(&self) -> String {
        format!(
            "buffer releases: {} buffers replaced after GPU frames sampled them in place; {} \
             waited for those frames to end (longest {:.1} ms), {} waiting",
            self.sampled,
            self.held_releases,
            self.longest_hold.as_secs_f64() * 1000.0,
            self.retired.len()
        )
    }

    /// Releases every retired buffer whose reads are over (or that waited too long).
    pub fn release_finished(&mut self) {
        let now = Instant::now();
        let mut held = 0;
        let mut longest = self.longest_hold;
        self.retired.retain(|retired| {
            let waited = now.saturating_duration_since(retired.since);
            let over = retired.reads.is_over();
            if !over && waited < LONGEST_HOLD {
                return true;
            }
            if !over {
                tracing::warn!(
                    "a GPU's frame that read a client buffer did not end within {} s; the \
                     buffer is released anyway",
                    LONGEST_HOLD.as_secs()
                );
            }
            held += 1;
            longest = longest.max(waited);
            false
        });
        self.held_releases += held;
        self.longest_hold = longest;
    }
}

/// Called by `State::commit` before smithay's buffer handler: when the commit replaces the
/// surface's buffer, keeps the old one until the frames that sampled it have ended.
pub fn retire_replaced_buffer(state: &mut State, surface: &WlSurface) {
    let replaced = with_states(surface, |states| {
        let assigns = states
            .cached_state
            .get::<SurfaceAttributes>()
            .current()
            .buffer
            .is_some();
        if !assigns {
            return None;
        }
        let renderer_state = states.data_map.get::<RendererSurfaceStateUserData>()?;
        let buffer = renderer_state.lock().ok()?.buffer().cloned();
        buffer
    });
    let Some(buffer) = replaced else {
        return;
    };
    let Some(texture) = SurfaceTracker::texture(surface) else {
        return;
    };
    let reads = texture.take_client_buffer_reads();
    if reads.frames() > 0 {
        state.retired_buffers.sampled += 1;
    }
    if reads.is_over() {
        return;
    }
    state.retired_buffers.retired.push(RetiredBuffer {
        _buffer: buffer,
        reads,
        since: Instant::now(),
    });
    if state.retired_buffers.timer_armed {
        return;
    }
    let poll = Duration::from_millis(1);
    let armed = state.display_loop_handle().insert_source(
        Timer::from_duration(poll),
        move |_, _, state: &mut State| {
            state.retired_buffers.release_finished();
            if state.retired_buffers.retired.is_empty() {
                state.retired_buffers.timer_armed = false;
                TimeoutAction::Drop
            } else {
                TimeoutAction::ToDuration(poll)
            }
        },
    );
    match armed {
        Ok(_) => state.retired_buffers.timer_armed = true,
        Err(err) => {
            tracing::warn!(%err, "no timer for buffer releases; they wait for the next frame")
        }
    }
}
