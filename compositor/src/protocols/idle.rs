//! ext-idle-notify-v1 and zwp_idle_inhibit_manager_v1: clients (swayidle) are told when the
//! seat was idle for the time each asks, and when it is active again; a surface with an idle
//! inhibitor (a video player) holds idleness off while the inhibitor and the surface live.
//!
//! [`Idle`] lives in `State::idle`; input calls [`activity`] for every event it handles. smithay
//! lets an inhibitor go only on its `destroy` request: a surface destroyed (its client gone)
//! lets its inhibitors go through [`surface_destroyed`], which the compositor handler calls.

use smithay::reexports::calloop::LoopHandle;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{DisplayHandle, Resource};
use smithay::wayland::idle_inhibit::{IdleInhibitHandler, IdleInhibitManagerState};
use smithay::wayland::idle_notify::{IdleNotifierHandler, IdleNotifierState};

use crate::state::State;

/// The idle notifier and the surfaces that inhibit idleness.
pub struct Idle {
    notifier: IdleNotifierState<State>,
    _inhibit_manager: IdleInhibitManagerState,
    inhibitors: Vec<WlSurface>,
}

impl Idle {
    pub fn new(display: &DisplayHandle, loop_handle: LoopHandle<'static, State>) -> Idle {
        Idle {
            notifier: IdleNotifierState::new(display, loop_handle),
            _inhibit_manager: IdleInhibitManagerState::new::<State>(display),
            inhibitors: Vec::new(),
        }
    }

    /// Whether a live surface inhibits idleness now.
    pub fn is_inhibited(&self) -> bool {
        self.inhibitors.iter().any(|surface| surface.is_alive())
    }

    fn inhibitors_changed(&mut self) {
        let inhibited = !self.inhibitors.is_empty();
        self.notifier.set_is_inhibited(inhibited);
    }
}

/// `surface` is being destroyed: its inhibitors go with it.
pub fn surface_destroyed(state: &mut State, surface: &WlSurface) {
    let idle = &mut state.idle;
    if idle.inhibitors.iter().any(|held| held == surface) {
        idle.inhibitors.retain(|held| held != surface);
        idle.inhibitors_changed();
    }
}

/// The seat is active now (an input event): idle timers start again.
pub fn activity(state: &mut State) {
    state.idle.notifier.notify_activity(&state.seat);
}

impl IdleNotifierHandler for State {
    fn idle_notifier_state(&mut self) -> &mut IdleNotifierState<Self> {
        &mut self.idle.notifier
    }
}

impl IdleInhibitHandler for State {
    fn inhibit(&mut self, surface: WlSurface) {
        tracing::debug!(surface = ?surface.id(), "idle inhibited");
        self.idle.inhibitors.push(surface);
        self.idle.inhibitors_changed();
    }

    fn uninhibit(&mut self, surface: WlSurface) {
        tracing::debug!(surface = ?surface.id(), "idle inhibitor gone");
        if let Some(at) = self.idle.inhibitors.iter().position(|s| *s == surface) {
            self.idle.inhibitors.remove(at);
        }
        self.idle.inhibitors_changed();
    }
}

smithay::delegate_idle_notify!(State);
smithay::delegate_idle_inhibit!(State);
