//! The Wayland sockets clients connect to: the main socket (the one programs the compositor
//! starts are given as WAYLAND_DISPLAY) and one socket per GPU (`{main}-gpu{N}`), each naming
//! the GPU its clients' buffers are placed on.
//!
//! `Server::new` adds the main socket first, `gpu::service::serve_gpu` a socket per GPU, both
//! through `server::listen`, whose accept callback asks [`Sockets::gpu_of`] which GPU a new
//! client gets. When a GPU goes (`gpu::service::retire_gpu`), its own sockets close and the
//! main socket moves to the first remaining GPU ([`Sockets::gpu_gone`]).

use smithay::reexports::calloop::RegistrationToken;
use tandem::GpuId;

/// A Wayland socket and the GPU its clients get as their main device.
#[derive(Debug, Clone)]
pub struct SocketInfo {
    pub name: String,
    pub gpu: GpuId,
    /// The listening socket's event source, removed (closing the socket) when its GPU goes.
    pub source: Option<RegistrationToken>,
}

/// The main socket and the per-GPU ones.
#[derive(Debug, Default)]
pub struct Sockets {
    main: Option<SocketInfo>,
    per_gpu: Vec<SocketInfo>,
}

impl Sockets {
    /// Adds a listening socket: the first one added is the main socket.
    pub fn add(&mut self, info: SocketInfo) {
        match self.main {
            None => self.main = Some(info),
            Some(_) => self.per_gpu.push(info),
        }
    }

    pub fn main(&self) -> Option<&SocketInfo> {
        self.main.as_ref()
    }

    /// The main socket's name (empty before it is listening).
    pub fn main_name(&self) -> &str {
        self.main.as_ref().map_or("", |s| s.name.as_str())
    }

    /// The GPU the main socket's clients get.
    pub fn main_gpu(&self) -> Option<GpuId> {
        self.main.as_ref().map(|s| s.gpu)
    }

    /// The per-GPU sockets.
    pub fn per_gpu(&self) -> impl Iterator<Item = &SocketInfo> {
        self.per_gpu.iter()
    }

    /// The socket of `gpu`'s own (not the main one), if it has one.
    pub fn of_gpu(&self, gpu: GpuId) -> Option<&SocketInfo> {
        self.per_gpu.iter().find(|s| s.gpu == gpu)
    }

    /// Every socket, the main one first.
    pub fn iter(&self) -> impl Iterator<Item = &SocketInfo> {
        self.main.iter().chain(&self.per_gpu)
    }

    /// The GPU whose clients the socket called `name` takes, if it still serves one.
    pub fn gpu_of(&self, name: &str) -> Option<GpuId> {
        self.iter().find(|s| s.name == name).map(|s| s.gpu)
    }

    pub fn name_taken(&self, name: &str) -> bool {
        self.iter().any(|s| s.name == name)
    }

    /// `gpu` went away: the main socket moves to `successor` (when there is one) and `gpu`'s
    /// own sockets are taken out; returns their names and event sources, for the caller to
    /// close.
    pub fn gpu_gone(
        &mut self,
        gpu: GpuId,
        successor: Option<GpuId>,
    ) -> Vec<(String, Option<RegistrationToken>)> {
        if let (Some(main), Some(successor)) = (self.main.as_mut(), successor) {
            if main.gpu == gpu {
                main.gpu = successor;
            }
        }
        let (gone, kept) = std::mem::take(&mut self.per_gpu)
            .into_iter()
            .partition(|s| s.gpu == gpu);
        self.per_gpu = kept;
        gone.into_iter()
            .map(|s: SocketInfo| (s.name, s.source))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(name: &str, gpu: u32) -> SocketInfo {
        SocketInfo {
            name: name.into(),
            gpu: GpuId::Software(gpu),
            source: None,
        }
    }

    #[test]
    fn the_main_socket_follows_its_gpu_and_per_gpu_sockets_close() {
        let mut sockets = Sockets::default();
        sockets.add(socket("tandem-0", 0));
        sockets.add(socket("tandem-0-gpu0", 0));
        sockets.add(socket("tandem-0-gpu1", 1));
        assert_eq!(sockets.main_name(), "tandem-0");
        assert_eq!(sockets.gpu_of("tandem-0-gpu1"), Some(GpuId::Software(1)));
        let closed = sockets.gpu_gone(GpuId::Software(0), Some(GpuId::Software(1)));
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].0, "tandem-0-gpu0");
        assert_eq!(sockets.main_gpu(), Some(GpuId::Software(1)));
        assert_eq!(sockets.gpu_of("tandem-0-gpu0"), None);
        assert!(sockets.of_gpu(GpuId::Software(1)).is_some());
    }
}
