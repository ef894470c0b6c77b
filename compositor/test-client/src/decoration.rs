//! xdg-decoration as a client (`tandem-test-client --decorations server|client`): each window
//! asks for that mode before its first commit, and prints `decoration MODE` for each mode the
//! compositor configures (`server-side`, `client-side`).

use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols::xdg::decoration::zv1::client::{
    zxdg_decoration_manager_v1::ZxdgDecorationManagerV1,
    zxdg_toplevel_decoration_v1::{self, ZxdgToplevelDecorationV1},
};

use wayland_client::WEnum;
use wayland_protocols::xdg::shell::client::xdg_toplevel::XdgToplevel;
pub use zxdg_toplevel_decoration_v1::Mode;

use crate::{Globals, TestClient};

impl TestClient {
    /// Asks for `mode` for `toplevel` (fails when xdg-decoration is not offered).
    pub fn ask_decoration(&self, toplevel: &XdgToplevel, mode: Mode) -> Result<(), String> {
        let qh = self.qh();
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        let (name, _) = self
            .globals
            .decoration_global
            .ok_or("zxdg_decoration_manager_v1 is not offered")?;
        let manager: ZxdgDecorationManagerV1 = registry.bind(name, 1, &qh, ());
        let decoration = manager.get_toplevel_decoration(toplevel, &qh, ());
        decoration.set_mode(mode);
        Ok(())
    }
}

impl Dispatch<ZxdgToplevelDecorationV1, ()> for Globals {
    fn event(
        _: &mut Self,
        _: &ZxdgToplevelDecorationV1,
        event: zxdg_toplevel_decoration_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zxdg_toplevel_decoration_v1::Event::Configure { mode } = event {
            match mode {
                WEnum::Value(Mode::ServerSide) => println!("decoration server-side"),
                WEnum::Value(Mode::ClientSide) => println!("decoration client-side"),
                _ => println!("decoration unknown"),
            }
        }
    }
}

wayland_client::delegate_noop!(Globals: ignore ZxdgDecorationManagerV1);
