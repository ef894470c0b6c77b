//! ext-session-lock-v1: a locker (swaylock) locks the session. While locked no client but the
//! locker is drawn or gets input, on any output: each output shows its lock surface, or the
//! background colour where the locker made none (an output added while locked included). A
//! locker that dies leaves the session locked; another locker may then take the lock over, and
//! only `unlock_and_destroy` from the lock that holds the session unlocks it.
//!
//! [`SessionLock`] lives in `State::session_lock`. Rendering (`shell::window::render_elements`,
//! `send_frames`) and input (`input`) ask it whether the session is locked and for each output's
//! lock surface; the backends call [`output_drawn`] after each output's frame, which tells the
//! locker `locked` once every output has drawn a locked frame.
//!
//! smithay 0.7's session-lock module unlocks on `unlock_and_destroy` from a lock that does not
//! hold the session (it posts the error, then unlocks anyway): the lock object's dispatch is
//! declared here and refuses that before smithay sees it.

use smithay::backend::renderer::element::surface::{
    render_elements_from_surface_tree, WaylandSurfaceRenderElement,
};
use smithay::backend::renderer::element::Kind;
use smithay::backend::renderer::{ImportAll, Renderer, Texture};
use smithay::desktop::Space;
use smithay::desktop::Window;
use smithay::output::Output;
use smithay::reexports::wayland_protocols::ext::session_lock::v1::server::{
    ext_session_lock_manager_v1::ExtSessionLockManagerV1,
    ext_session_lock_surface_v1::ExtSessionLockSurfaceV1,
    ext_session_lock_v1::{self, ExtSessionLockV1},
};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::{wl_output::WlOutput, wl_surface::WlSurface};
use smithay::reexports::wayland_server::{
    delegate_dispatch, delegate_global_dispatch, Client, DataInit, Dispatch, DisplayHandle,
    Resource,
};
use smithay::utils::{Logical, Point, SERIAL_COUNTER};
use smithay::wayland::session_lock::{
    ExtLockSurfaceUserData, LockSurface, SessionLockHandler, SessionLockManagerGlobalData,
    SessionLockManagerState, SessionLockState, SessionLocker,
};

use crate::shell::window::SurfaceAt;
use crate::state::State;

/// Whether the session is locked, by whom, and what each output shows meanwhile.
pub struct SessionLock {
    manager: SessionLockManagerState,
    locked: bool,
    /// The lock object of the locker that holds the session (`None` while locked: it went).
    locker: Option<ExtSessionLockV1>,
    /// A lock granted, told `locked` once every output named here has drawn a locked frame.
    confirming: Option<(SessionLocker, Vec<String>)>,
    /// Each output's lock surface.
    surfaces: Vec<(Output, LockSurface)>,
    /// What had the keyboard when the session locked: it gets it back at unlock.
    focus_before: Option<WlSurface>,
}

impl SessionLock {
    pub fn new(display: &DisplayHandle) -> SessionLock {
        SessionLock {
            manager: SessionLockManagerState::new::<State, _>(
                display,
                crate::protocols::security_context::privileged,
            ),
            locked: false,
            locker: None,
            confirming: None,
            surfaces: Vec::new(),
            focus_before: None,
        }
    }

    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// Whether a live locker holds the lock (`false` while unlocked, or locked after the
    /// locker went away).
    pub fn has_locker(&self) -> bool {
        self.locker.as_ref().is_some_and(|lock| lock.is_alive())
    }

    /// `output`'s lock surface, while it lives.
    fn surface_on(&self, output: &Output) -> Option<&LockSurface> {
        self.surfaces
            .iter()
            .find(|(on, surface)| on == output && surface.alive())
            .map(|(_, surface)| surface)
    }

    /// What `output` shows while locked: its lock surface (nothing, the background, without).
    pub fn elements<R>(
        &self,
        renderer: &mut R,
        output: &Output,
    ) -> Vec<WaylandSurfaceRenderElement<R>>
    where
        R: Renderer + ImportAll,
        R::TextureId: Clone + Texture + 'static,
    {
        let Some(surface) = self.surface_on(output) else {
            return Vec::new();
        };
        let scale = output.current_scale().fractional_scale();
        render_elements_from_surface_tree(
            renderer,
            surface.wl_surface(),
            (0, 0),
            scale,
            1.0,
            Kind::Unspecified,
        )
    }

    /// The lock surface under `position`, with its origin (global logical coordinates).
    pub fn under(&self, space: &Space<Window>, position: Point<f64, Logical>) -> Option<SurfaceAt> {
        self.surfaces
            .iter()
            .filter(|(_, surface)| surface.alive())
            .find_map(|(output, surface)| {
                let area = space.output_geometry(output)?;
                area.to_f64()
                    .contains(position)
                    .then(|| (surface.wl_surface().clone(), area.loc.to_f64()))
            })
    }

    /// Every live lock surface (for frame callbacks).
    pub fn surfaces(&self) -> impl Iterator<Item = (&Output, &WlSurface)> {
        self.surfaces
            .iter()
            .filter(|(_, surface)| surface.alive())
            .map(|(output, surface)| (output, surface.wl_surface()))
    }
}

/// `output` drew a frame: once every output drew one since the session locked, the locker is
/// told `locked`.
pub fn output_drawn(state: &mut State, output: &str) {
    let Some((_, drawn)) = state.session_lock.confirming.as_mut() else {
        return;
    };
    if !drawn.iter().any(|name| name == output) {
        drawn.push(output.to_string());
    }
    confirm_when_drawn(state);
}

/// Outputs were turned on or off: an output that is off shows nothing, so the lock waits for
/// it no longer.
pub fn outputs_changed(state: &mut State) {
    confirm_when_drawn(state);
}

/// Tells the locker `locked` when every output that is on drew a locked frame (at once
/// without any).
fn confirm_when_drawn(state: &mut State) {
    let Some((_, drawn)) = state.session_lock.confirming.as_ref() else {
        return;
    };
    let all = state
        .outputs
        .iter()
        .filter(|info| info.powered)
        .all(|info| drawn.iter().any(|name| *name == info.output.name()));
    if all {
        if let Some((locker, _)) = state.session_lock.confirming.take() {
            tracing::info!("session locked");
            locker.lock();
        }
    }
}

/// The size a lock surface on `output` must have: the output's, in logical pixels.
fn lock_size(state: &State, output: &Output) -> Option<(u32, u32)> {
    let area = state.space.output_geometry(output)?;
    Some((area.size.w.max(1) as u32, area.size.h.max(1) as u32))
}

/// Hands the keyboard to `surface` (`None`: to nobody).
fn keyboard_to(state: &mut State, surface: Option<WlSurface>) {
    if let Some(keyboard) = state.seat.get_keyboard() {
        keyboard.set_focus(state, surface, SERIAL_COUNTER.next_serial());
    }
}

impl SessionLockHandler for State {
    fn lock_state(&mut self) -> &mut SessionLockManagerState {
        &mut self.session_lock.manager
    }

    fn lock(&mut self, confirmation: SessionLocker) {
        let lock = &mut self.session_lock;
        if lock.locked {
            if lock.has_locker() {
                // Dropping the confirmation tells this locker `finished`.
                tracing::info!("a second locker was refused: the session is locked already");
                return;
            }
            tracing::info!("a new locker takes over the locked session");
            lock.locker = Some(confirmation.ext_session_lock().clone());
            lock.surfaces.retain(|(_, surface)| surface.alive());
            lock.confirming = None;
            confirmation.lock();
            return;
        }
        lock.locked = true;
        lock.locker = Some(confirmation.ext_session_lock().clone());
        lock.confirming = Some((confirmation, Vec::new()));
        lock.focus_before = self.seat.get_keyboard().and_then(|k| k.current_focus());
        keyboard_to(self, None);
        crate::input::refresh_pointer_focus(self);
        self.request_redraw();
        confirm_when_drawn(self);
    }

    fn unlock(&mut self) {
        let lock = &mut self.session_lock;
        lock.locked = false;
        lock.locker = None;
        lock.confirming = None;
        lock.surfaces.clear();
        let before = lock
            .focus_before
            .take()
            .filter(|surface| surface.is_alive());
        tracing::info!("session unlocked");
        match before.as_ref().and_then(|surface| self.window_for(surface)) {
            Some(window) => self.focus(Some(window), SERIAL_COUNTER.next_serial()),
            None => keyboard_to(self, before),
        }
        crate::input::refresh_pointer_focus(self);
        self.request_redraw();
    }

    fn new_surface(&mut self, surface: LockSurface, output: WlOutput) {
        let lock = &self.session_lock;
        let from_locker = lock.locked
            && lock
                .locker
                .as_ref()
                .and_then(|locker| locker.client())
                .is_some_and(|client| surface.wl_surface().client().as_ref() == Some(&client));
        if !from_locker {
            // Left unconfigured: it can never be drawn.
            return;
        }
        let Some(output) = Output::from_resource(&output) else {
            return;
        };
        let Some((w, h)) = lock_size(self, &output) else {
            return;
        };
        surface.with_pending_state(|pending| pending.size = Some((w, h).into()));
        surface.send_configure();
        let lock = &mut self.session_lock;
        lock.surfaces.retain(|(on, _)| *on != output);
        lock.surfaces.push((output.clone(), surface.clone()));
        let has_keyboard = self
            .seat
            .get_keyboard()
            .and_then(|k| k.current_focus())
            .is_some_and(|focus| focus.is_alive());
        let pointer_here = self
            .space
            .output_geometry(&output)
            .is_some_and(|area| area.to_f64().contains(self.pointer_location));
        if !has_keyboard || pointer_here {
            keyboard_to(self, Some(surface.wl_surface().clone()));
        }
        crate::input::refresh_pointer_focus(self);
        self.request_redraw();
    }
}

delegate_global_dispatch!(State: [ExtSessionLockManagerV1: SessionLockManagerGlobalData] => SessionLockManagerState);
delegate_dispatch!(State: [ExtSessionLockManagerV1: ()] => SessionLockManagerState);
delegate_dispatch!(State: [ExtSessionLockSurfaceV1: ExtLockSurfaceUserData] => SessionLockManagerState);

impl Dispatch<ExtSessionLockV1, SessionLockState> for State {
    fn request(
        state: &mut State,
        client: &Client,
        lock: &ExtSessionLockV1,
        request: ext_session_lock_v1::Request,
        data: &SessionLockState,
        dh: &DisplayHandle,
        init: &mut DataInit<'_, State>,
    ) {
        let holds = state.session_lock.locked && state.session_lock.locker.as_ref() == Some(lock);
        if matches!(request, ext_session_lock_v1::Request::UnlockAndDestroy) && !holds {
            lock.post_error(
                ext_session_lock_v1::Error::InvalidUnlock,
                "this lock does not hold the session",
            );
            return;
        }
        <SessionLockManagerState as Dispatch<ExtSessionLockV1, SessionLockState, State>>::request(
            state, client, lock, request, data, dh, init,
        );
    }

    fn destroyed(
        state: &mut State,
        client: ClientId,
        lock: &ExtSessionLockV1,
        data: &SessionLockState,
    ) {
        let session = &mut state.session_lock;
        if session.locked && session.locker.as_ref() == Some(lock) {
            tracing::warn!(
                "the locker went away while the session was locked: it stays locked until \
                 another locker unlocks it"
            );
            session.locker = None;
            session.confirming = None;
        }
        <SessionLockManagerState as Dispatch<ExtSessionLockV1, SessionLockState, State>>::destroyed(
            state, client, lock, data,
        );
    }
}
