//! wp_security_context_v1: a sandbox (Flatpak, for one) opens a socket for the program it runs
//! and tells the compositor who is behind it; clients that connect through that socket are
//! sandboxed. A sandboxed client does not see the privileged globals: those that read other
//! clients' pixels or clipboard, inject input, lock the session, list or control other
//! clients' windows, or change outputs. [`privileged`] is the filter each of those globals
//! uses (docs/compositor.md lists every global and who may bind it).
//!
//! `State` owns the global's state (`State::security_context`) and the list of connected
//! clients (`State::clients`, which `msg clients` reads); smithay calls the handler below when
//! a context is committed, and this file accepts its clients.

use smithay::reexports::calloop::{EventSource, Poll, PostAction, Readiness, Token, TokenFactory};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::{Client, DisplayHandle};
use smithay::wayland::security_context::{
    SecurityContext, SecurityContextHandler, SecurityContextListenerSource, SecurityContextState,
};

use crate::state::{ClientState, State};

/// The global, offered to privileged clients only: a sandboxed client may not nest a sandbox.
pub fn global(display: &DisplayHandle) -> SecurityContextState {
    SecurityContextState::new::<State, _>(display, privileged)
}

/// Whether `client` may bind the privileged globals: it did not connect through a security
/// context's socket.
pub fn privileged(client: &Client) -> bool {
    client
        .get_data::<ClientState>()
        .is_some_and(|data| data.security_context.is_none())
}

/// The GPU of the client `id`, if it is still connected.
fn gpu_of_client(display: &DisplayHandle, id: ClientId) -> Option<tandem::GpuId> {
    let data = display.backend_handle().get_client_data(id).ok()?;
    data.downcast_ref::<ClientState>().map(|state| state.gpu)
}

impl SecurityContextHandler for State {
    fn context_created(&mut self, source: SecurityContextListenerSource, context: SecurityContext) {
        // The sandboxed program draws with the GPU of the sandbox that made its socket.
        let Some(gpu) = gpu_of_client(&self.display, context.creator_client_id.clone()) else {
            tracing::info!("security context of a client that is gone: not listened on");
            return;
        };
        tracing::info!(sandbox = ?context.sandbox_engine, app_id = ?context.app_id,
            instance = ?context.instance_id, %gpu, "security context: listening for its clients");
        let inserted = self.display_loop_handle().insert_source(
            ContextListener(source),
            move |stream, _, state: &mut State| {
                let attachment = state.client_attachment(gpu);
                let data = crate::state::sandboxed_client_data(gpu, attachment, context.clone());
                match state.display.insert_client(stream, data) {
                    Ok(client) => state.client_accepted(client),
                    Err(err) => tracing::warn!(%err, "could not accept a sandboxed client"),
                }
            },
        );
        if let Err(err) = inserted {
            tracing::warn!(%err, "could not listen on a security context's socket");
        }
    }
}

/// A security context's listening socket, as the sandbox gave it: a file descriptor that is not
/// a listening socket ends this listener (logged), never the event loop.
struct ContextListener(SecurityContextListenerSource);

impl EventSource for ContextListener {
    type Event = std::os::unix::net::UnixStream;
    type Metadata = ();
    type Ret = ();
    type Error = std::io::Error;

    fn process_events<F: FnMut(Self::Event, &mut ())>(
        &mut self,
        readiness: Readiness,
        token: Token,
        callback: F,
    ) -> std::io::Result<PostAction> {
        match self.0.process_events(readiness, token, callback) {
            Ok(action) => Ok(action),
            Err(err) => {
                tracing::info!(%err, "a security context's socket failed: no longer listened on");
                Ok(PostAction::Remove)
            }
        }
    }

    fn register(
        &mut self,
        poll: &mut Poll,
        tokens: &mut TokenFactory,
    ) -> smithay::reexports::calloop::Result<()> {
        self.0.register(poll, tokens)
    }

    fn reregister(
        &mut self,
        poll: &mut Poll,
        tokens: &mut TokenFactory,
    ) -> smithay::reexports::calloop::Result<()> {
        self.0.reregister(poll, tokens)
    }

    fn unregister(&mut self, poll: &mut Poll) -> smithay::reexports::calloop::Result<()> {
        self.0.unregister(poll)
    }
}

smithay::delegate_security_context!(State);
