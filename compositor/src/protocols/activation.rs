//! xdg-activation: a client hands the keyboard focus to a window, its own or another client's
//! (a launcher to the program it started, a link opened in a running browser). A token counts
//! only when the client that asked for it had the keyboard focus then, and for ten seconds;
//! a window activated with one is raised and focused. Other tokens are refused, so a client in
//! the background cannot steal the focus.
//!
//! `State` owns the global's state (`State::activation`); smithay calls these handlers.

use std::time::Duration;

use smithay::delegate_xdg_activation;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource;
use smithay::utils::SERIAL_COUNTER;
use smithay::wayland::xdg_activation::{
    XdgActivationHandler, XdgActivationState, XdgActivationToken, XdgActivationTokenData,
};

use crate::state::State;

/// How long a token may wait before it is used.
const TOKEN_LIFETIME: Duration = Duration::from_secs(10);

impl XdgActivationHandler for State {
    fn activation_state(&mut self) -> &mut XdgActivationState {
        &mut self.activation
    }

    fn token_created(&mut self, _token: XdgActivationToken, data: XdgActivationTokenData) -> bool {
        let focused_client = self
            .seat
            .get_keyboard()
            .and_then(|keyboard| keyboard.current_focus())
            .and_then(|surface| surface.client())
            .map(|client| client.id());
        let valid = data.client_id.is_some() && data.client_id == focused_client;
        if !valid {
            tracing::info!(app_id = ?data.app_id,
                "activation token refused: its client does not have the keyboard focus");
        }
        valid
    }

    fn request_activation(
        &mut self,
        token: XdgActivationToken,
        token_data: XdgActivationTokenData,
        surface: WlSurface,
    ) {
        self.activation.remove_token(&token);
        if token_data.timestamp.elapsed() > TOKEN_LIFETIME {
            tracing::info!("activation refused: its token is more than ten seconds old");
            return;
        }
        let xwayland = self.xwayland.as_ref();
        let window = self
            .space
            .elements()
            .find(|window| {
                crate::shell::window::main_surface(xwayland, window).as_ref() == Some(&surface)
            })
            .cloned();
        let Some(window) = window else {
            tracing::debug!("activation of a surface that is not a mapped window: ignored");
            return;
        };
        tracing::info!(app_id = ?token_data.app_id, "window activated");
        self.focus(Some(window), SERIAL_COUNTER.next_serial());
    }
}

delegate_xdg_activation!(State);
