//! wl_drm for Xwayland: Xwayland 22 runs glamor (X11 rendering on a GPU, buffers shared as
//! dma-bufs) only when the compositor offers Mesa's legacy wl_drm interface, which names the
//! DRM device to render with. Tandem offers it to Xwayland's connection alone, naming the render
//! node of the GPU Xwayland's connection is attached to; the buffers Xwayland then makes arrive
//! through linux-dmabuf, or through wl_drm's `create_prime_buffer`, which builds the same
//! smithay `Dmabuf` (accepted and counted as linux-dmabuf's are) so the renderer sees one kind.
//!
//! `shell::x11::enable` calls [`create_global`] when that GPU is a DRM device (software GPUs have
//! no node to name, and Xwayland renders in software there).

use smithay::backend::allocator::dmabuf::{Dmabuf, DmabufFlags};
use smithay::backend::allocator::{Fourcc, Modifier};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
};
use tandem::gpu::GpuId;

use crate::state::{client_gpu, is_xwayland, State};

/// The wl_drm protocol, generated from `protocols/wl_drm.xml`.
#[allow(
    missing_docs,
    non_upper_case_globals,
    non_camel_case_types,
    unused_imports
)]
#[allow(clippy::all)]
pub mod protocol {
    use smithay::reexports::wayland_server;
    use smithay::reexports::wayland_server::protocol::*;

    pub mod __interfaces {
        use smithay::reexports::wayland_server::protocol::__interfaces::*;
        wayland_scanner::generate_interfaces!("protocols/wl_drm.xml");
    }
    use self::__interfaces::*;

    wayland_scanner::generate_server_code!("protocols/wl_drm.xml");
}

use protocol::wl_drm::{self, WlDrm};

/// wl_drm's `capabilities` bit for PRIME (dma-buf) buffers.
const CAPABILITY_PRIME: u32 = 1;

/// What a bound wl_drm announces.
pub struct WlDrmGlobal {
    /// The render node path, sent as `device`.
    node_path: String,
}

/// Offers wl_drm (version 2) to Xwayland, naming `node_path`.
pub fn create_global(display: &DisplayHandle, node_path: String) {
    display.create_global::<State, WlDrm, _>(2, WlDrmGlobal { node_path });
}

impl GlobalDispatch<WlDrm, WlDrmGlobal> for State {
    fn bind(
        _state: &mut State,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<WlDrm>,
        global: &WlDrmGlobal,
        data_init: &mut DataInit<'_, State>,
    ) {
        let drm = data_init.init(resource, ());
        drm.device(global.node_path.clone());
        if drm.version() >= 2 {
            drm.capabilities(CAPABILITY_PRIME);
        }
        for format in [Fourcc::Argb8888, Fourcc::Xrgb8888] {
            drm.format(format as u32);
        }
    }

    fn can_view(client: Client, _global: &WlDrmGlobal) -> bool {
        is_xwayland(&client)
    }
}

impl Dispatch<WlDrm, ()> for State {
    fn request(
        state: &mut State,
        client: &Client,
        drm: &WlDrm,
        request: wl_drm::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        match request {
            // A render node needs no authentication.
            wl_drm::Request::Authenticate { .. } => drm.authenticated(),
            wl_drm::Request::CreateBuffer { id, .. }
            | wl_drm::Request::CreatePlanarBuffer { id, .. } => data_init.post_error(
                id,
                wl_drm::Error::InvalidName,
                "GEM names are not accepted; use create_prime_buffer",
            ),
            wl_drm::Request::CreatePrimeBuffer {
                id,
                name,
                width,
                height,
                format,
                offset0,
                stride0,
                offset1,
                stride1,
                ..
            } => {
                let planar = offset1 != 0 || stride1 != 0;
                let format = Fourcc::try_from(format).ok().filter(|_| !planar);
                let (Some(format), Ok(offset), Ok(stride)) =
                    (format, u32::try_from(offset0), u32::try_from(stride0))
                else {
                    data_init.post_error(
                        id,
                        wl_drm::Error::InvalidFormat,
                        "only single-plane formats with offsets and strides that are not negative",
                    );
                    return;
                };
                if width <= 0 || height <= 0 {
                    data_init.post_error(id, wl_drm::Error::InvalidFormat, "empty buffer");
                    return;
                }
                let mut builder = Dmabuf::builder(
                    (width, height),
                    format,
                    Modifier::Invalid,
                    DmabufFlags::empty(),
                );
                builder.add_plane(name, 0, offset, stride);
                let Some(dmabuf) = builder.build() else {
                    data_init.post_error(id, wl_drm::Error::InvalidName, "no plane");
                    return;
                };
                match accept(state, client, &dmabuf) {
                    Ok(()) => {
                        data_init.init::<WlBuffer, Dmabuf>(id, dmabuf);
                    }
                    Err(err) => {
                        tracing::debug!(%err, "refused a wl_drm buffer");
                        data_init.post_error(id, wl_drm::Error::InvalidName, err);
                    }
                }
            }
        }
    }
}

/// The checks linux-dmabuf's buffers pass: the client's budget, and an import on its GPU.
fn accept(state: &mut State, client: &Client, dmabuf: &Dmabuf) -> Result<(), String> {
    let gpu: GpuId = client_gpu(client).ok_or("the client has no GPU")?;
    state
        .gpus
        .check_budget(Some(&client.id()), tandem::gpu::dmabuf_bytes(dmabuf))
        .map_err(|e| e.to_string())?;
    state
        .gpus
        .accept_client_dmabuf(dmabuf, gpu, Some(&client.id()))
        .map_err(|e| e.to_string())
}
