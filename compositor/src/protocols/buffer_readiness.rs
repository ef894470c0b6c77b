//! Sync without stalls: a commit whose new dmabuf still has unsignalled write fences (implicit
//! sync: the client's GPU is still drawing it), or whose explicit-sync acquire point is not
//! signalled yet, is held back until the kernel reports the buffer readable or the point
//! signalled, and applies then. No GPU of the compositor is ever asked to read a buffer before
//! its client's rendering is done, so no copy path waits for a client on the event loop.
//!
//! `State::new_surface` calls [`track`] for every surface; the hook installs smithay's dmabuf
//! blocker, whose readiness source lives in the event loop until the fences signal. Buffers
//! that are ready when committed (every memfd, and every dma-buf whose work is done) apply at
//! once.

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::reexports::calloop::{EventSource, Interest};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource;
use smithay::wayland::compositor::{
    add_blocker, add_pre_commit_hook, with_states, Blocker, BufferAssignment, CompositorHandler,
    SurfaceAttributes,
};
use smithay::wayland::dmabuf::get_dmabuf;
use smithay::wayland::drm_syncobj::{DrmSyncPoint, DrmSyncobjCachedState};

use crate::state::State;

/// Holds every commit of `surface` whose new dmabuf is not ready yet (module docs), unless
/// `TANDEM_DMABUF_BLOCKERS=0` (which exists to measure the stall the blockers prevent: the VM's
/// fence scenario runs both ways).
pub fn track(surface: &WlSurface) {
    if blockers_off() {
        return;
    }
    add_pre_commit_hook::<State, _>(surface, |state, _, surface| {
        hold_until_ready(state, surface)
    });
}

fn blockers_off() -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OFF.get_or_init(|| {
        let off = std::env::var("TANDEM_DMABUF_BLOCKERS").is_ok_and(|v| v == "0");
        if off {
            tracing::warn!(
                "TANDEM_DMABUF_BLOCKERS=0: commits apply before their dmabufs are ready"
            );
        }
        off
    })
}

/// The dmabuf the pending commit of `surface` attaches, if any.
fn pending_dmabuf(surface: &WlSurface) -> Option<Dmabuf> {
    with_states(surface, |data| {
        let mut attributes = data.cached_state.get::<SurfaceAttributes>();
        match attributes.pending().buffer.as_ref() {
            Some(BufferAssignment::NewBuffer(buffer)) => get_dmabuf(buffer).ok().cloned(),
            _ => None,
        }
    })
}

/// The explicit-sync acquire point of the pending commit of `surface`, if it has one.
fn pending_acquire_point(surface: &WlSurface) -> Option<DrmSyncPoint> {
    with_states(surface, |data| {
        let mut cached = data.cached_state.get::<DrmSyncobjCachedState>();
        cached.pending().acquire_point.clone()
    })
}

fn hold_until_ready(state: &mut State, surface: &WlSurface) {
    if let Some(acquire) = pending_acquire_point(surface) {
        // An error here means the point cannot be waited for: the commit applies at once.
        match acquire.generate_blocker() {
            Ok((blocker, source)) => {
                hold_commit(state, surface, blocker, source, "its acquire point")
            }
            Err(err) => tracing::debug!(%err, "acquire point not waitable; the commit applies now"),
        }
    }
    let Some(dmabuf) = pending_dmabuf(surface) else {
        return;
    };
    // An error here means the buffer is ready: the commit applies at once.
    if let Ok((blocker, source)) = dmabuf.generate_blocker(Interest::READ) {
        hold_commit(state, surface, blocker, source, "its dmabuf is ready");
    }
}

/// Holds the pending commit of `surface` with `blocker` until `source` fires.
fn hold_commit<S, B>(state: &mut State, surface: &WlSurface, blocker: B, source: S, until: &str)
where
    S: EventSource<Event = (), Ret = Result<(), std::io::Error>> + 'static,
    B: Blocker + Send + 'static,
{
    let Some(client) = surface.client() else {
        return;
    };
    let inserted =
        state
            .display_loop_handle()
            .insert_source(source, move |_, _, state: &mut State| {
                let display = state.display.clone();
                state
                    .client_compositor_state(&client)
                    .blocker_cleared(state, &display);
                Ok(())
            });
    match inserted {
        Ok(_) => {
            add_blocker(surface, blocker);
            tracing::debug!(surface = ?surface.id(), "commit held until {until}");
        }
        Err(err) => {
            tracing::warn!(%err, "could not wait until {until}; the commit applies now")
        }
    }
}
