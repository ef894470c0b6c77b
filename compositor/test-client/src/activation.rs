//! xdg-activation as a client (`tandem-test-client --activate-first-after SECONDS`): asks for a
//! token, then hands it to one of its own windows, as a launcher hands focus to what it started.
//! Whether the window gets the focus is the compositor's choice; tests read it from `msg windows`.

use wayland_client::protocol::wl_surface::WlSurface;
use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols::xdg::activation::v1::client::{
    xdg_activation_token_v1::{self, XdgActivationTokenV1},
    xdg_activation_v1::XdgActivationV1,
};

use crate::image_copy::Shared;
use crate::{Globals, TestClient};

/// The token the compositor gave, once it did.
type Token = Shared<Option<String>>;

impl Dispatch<XdgActivationTokenV1, Token> for Globals {
    fn event(
        _: &mut Self,
        _: &XdgActivationTokenV1,
        event: xdg_activation_token_v1::Event,
        token: &Token,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_activation_token_v1::Event::Done { token: value } = event {
            token.with(|token| *token = Some(value));
        }
    }
}

wayland_client::delegate_noop!(Globals: ignore XdgActivationV1);

impl TestClient {
    /// Asks for an activation token (naming `requesting`, the client's focused surface, if any)
    /// and activates `surface` with it; returns the token. Fails when xdg-activation is not
    /// offered or no token comes.
    pub fn activate(
        &mut self,
        surface: &WlSurface,
        requesting: Option<&WlSurface>,
    ) -> Result<String, String> {
        let qh = self.qh();
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        let (name, version) = self
            .globals
            .activation_global
            .ok_or("xdg_activation_v1 is not offered")?;
        let activation: XdgActivationV1 = registry.bind(name, version.min(1), &qh, ());
        let token = Token::default();
        let request = activation.get_activation_token(&qh, token.clone());
        if let Some(requesting) = requesting {
            request.set_surface(requesting);
        }
        request.commit();
        for _ in 0..50 {
            self.roundtrip()?;
            if token.with(|token| token.is_some()) {
                break;
            }
        }
        let value = token
            .with(|token| token.clone())
            .ok_or("no activation token came")?;
        activation.activate(value.clone(), surface);
        request.destroy();
        self.roundtrip()?;
        Ok(value)
    }
}
