//! Per-client data: the GPU whose socket each client came in on, how many clients each GPU's
//! sockets have, Xwayland's connection, and the sandbox a client connected from.
//!
//! The sockets (`server::listen`), Xwayland's start (`shell::x11`) and security contexts
//! (`protocols::security_context`) make it when they accept a client; smithay keeps it with
//! the client; `state.rs` re-exports it for the handlers that read it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use smithay::reexports::calloop::ping::Ping;
use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::Client;
use smithay::wayland::compositor::CompositorClientState;
use smithay::wayland::security_context::SecurityContext;
use tandem::GpuId;

/// Per-client data: the compositor state smithay needs, and the GPU whose socket it came in on.
pub struct ClientState {
    pub compositor: CompositorClientState,
    pub gpu: GpuId,
    /// The connected clients of this GPU's sockets, this one included until it disconnects
    /// (a GPU's retired linux-dmabuf global stays while it is above 0; see
    /// `gpu::service::retire_gpu`; an idle GPU is parked only at 0; see `gpu::parking`).
    connected: ConnectedClients,
    /// Xwayland's connection: rung when it disconnects (see `shell::x11`).
    on_disconnect: Option<Ping>,
    /// The sandbox it connected from, through a security context's socket
    /// (`protocols::security_context`); such a client sees no privileged global.
    pub security_context: Option<SecurityContext>,
}

/// How many clients of a GPU's sockets are connected.
pub type ConnectedClients = Arc<AtomicUsize>;

impl ClientData for ClientState {
    fn initialized(&self, client: ClientId) {
        self.connected.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(?client, gpu = %self.gpu, "client connected");
    }

    fn disconnected(&self, client: ClientId, reason: DisconnectReason) {
        self.connected.fetch_sub(1, Ordering::Relaxed);
        tracing::debug!(?client, ?reason, "client disconnected");
        if let Some(ping) = &self.on_disconnect {
            ping.ping();
        }
    }
}

pub fn client_data(gpu: GpuId, connected: ConnectedClients) -> Arc<ClientState> {
    Arc::new(ClientState {
        compositor: CompositorClientState::default(),
        gpu,
        connected,
        on_disconnect: None,
        security_context: None,
    })
}

/// Client data for a client that connected through a security context's socket.
pub fn sandboxed_client_data(
    gpu: GpuId,
    connected: ConnectedClients,
    context: SecurityContext,
) -> Arc<ClientState> {
    Arc::new(ClientState {
        compositor: CompositorClientState::default(),
        gpu,
        connected,
        on_disconnect: None,
        security_context: Some(context),
    })
}

/// Client data for Xwayland's connection, which rings `on_disconnect` when it goes.
pub fn xwayland_client_data(
    gpu: GpuId,
    connected: ConnectedClients,
    on_disconnect: Ping,
) -> Arc<ClientState> {
    Arc::new(ClientState {
        compositor: CompositorClientState::default(),
        gpu,
        connected,
        on_disconnect: Some(on_disconnect),
        security_context: None,
    })
}

/// Whether `client` is Xwayland's connection.
pub fn is_xwayland(client: &Client) -> bool {
    client
        .get_data::<ClientState>()
        .is_some_and(|data| data.on_disconnect.is_some())
}

/// The GPU a client was attached to by the socket it used.
pub fn client_gpu(client: &Client) -> Option<GpuId> {
    client.get_data::<ClientState>().map(|data| data.gpu)
}
