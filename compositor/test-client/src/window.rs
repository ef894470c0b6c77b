//! A test window: a wl_surface (an xdg toplevel once [`Window::make_toplevel`] ran) and its
//! buffer, backed by shm, a memfd or udmabuf dmabuf, or a GBM buffer.
//!
//! [`crate::TestClient`] makes windows; tests paint their [`Pixels`] and commit them.

use std::os::fd::AsFd;

use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_client::protocol::wl_shm;
use wayland_client::protocol::wl_shm_pool::WlShmPool;
use wayland_client::protocol::wl_surface::WlSurface;
use wayland_client::QueueHandle;
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::{
    self, ZwpLinuxBufferParamsV1,
};
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_dmabuf_feedback_v1::ZwpLinuxDmabufFeedbackV1;
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1;
use wayland_protocols::xdg::shell::client::xdg_surface::XdgSurface;
use wayland_protocols::xdg::shell::client::xdg_toplevel::XdgToplevel;

use crate::formats::{self, Plane};
use crate::gbm_buffer::GbmBuffer;
use crate::{Globals, Pixels, TestClient};

#[derive(Clone, Copy)]
pub(crate) enum Backing {
    /// shm, rows padded by this many bytes.
    Shm(i32),
    /// A memfd dmabuf on GPU `gpu`: ARGB8888 rows packed tightly (`None`), or `format` laid out
    /// by [`formats::layout`] and holding its pattern.
    Dmabuf {
        gpu: usize,
        format: Option<u32>,
        /// The memory is handed out as a udmabuf (ARGB8888 only).
        udmabuf: bool,
    },
    Gbm,
}

/// A wl_buffer for one linear ARGB8888 plane in `fd`, rows `stride` bytes apart.
pub(crate) fn linear_dmabuf(
    dmabuf: &ZwpLinuxDmabufV1,
    qh: &QueueHandle<Globals>,
    fd: std::os::fd::BorrowedFd<'_>,
    stride: u32,
    size: (i32, i32),
) -> WlBuffer {
    let planes = [Plane { offset: 0, stride }];
    dmabuf_buffer(dmabuf, qh, fd, formats::ARGB8888, &planes, size)
}

/// A wl_buffer (`create_immed`) for `fourcc` whose `planes` all lie in `fd`.
pub(crate) fn dmabuf_buffer(
    dmabuf: &ZwpLinuxDmabufV1,
    qh: &QueueHandle<Globals>,
    fd: std::os::fd::BorrowedFd<'_>,
    fourcc: u32,
    planes: &[Plane],
    size: (i32, i32),
) -> WlBuffer {
    let params = dmabuf.create_params(qh, ());
    add_planes(&params, fd, planes);
    let buffer = params.create_immed(
        size.0,
        size.1,
        fourcc,
        zwp_linux_buffer_params_v1::Flags::empty(),
        qh,
        (),
    );
    params.destroy();
    buffer
}

/// One `add` a plane, each in `fd` with the linear modifier (0).
pub(crate) fn add_planes(
    params: &ZwpLinuxBufferParamsV1,
    fd: std::os::fd::BorrowedFd<'_>,
    planes: &[Plane],
) {
    for (index, plane) in (0u32..).zip(planes) {
        params.add(fd, index, plane.offset, plane.stride, 0, 0);
    }
}

pub struct WindowBuffer {
    pub pixels: Pixels,
    wl_buffer: WlBuffer,
    pool: Option<WlShmPool>,
    /// The GPU's copy of the pixels, for GBM windows.
    gbm: Option<GbmBuffer>,
}

impl WindowBuffer {
    pub fn wl_buffer(&self) -> &WlBuffer {
        &self.wl_buffer
    }
}

pub struct Window {
    pub surface: WlSurface,
    pub(crate) backing: Backing,
    /// The surface's dmabuf feedback, asked for by GBM windows on a linux-dmabuf v4 global.
    pub(crate) feedback: Option<ZwpLinuxDmabufFeedbackV1>,
    pub buffer: Option<WindowBuffer>,
    pub xdg: Option<(XdgSurface, XdgToplevel)>,
}

impl Window {
    /// Replaces the window's buffer with a new one of `size` (not yet attached): blank, or
    /// holding the pattern of its format for windows of [`TestClient::dmabuf_window_in`].
    pub fn set_buffer(&mut self, client: &TestClient, size: (i32, i32)) {
        self.drop_buffer();
        let qh = client.qh();
        let padding = match self.backing {
            Backing::Shm(padding) => padding,
            _ => 0,
        };
        let pixels = match self.backing {
            Backing::Dmabuf {
                format: Some(fourcc),
                ..
            } => Pixels::with_format(fourcc, size.0, size.1).unwrap_or_else(|| {
                let name = formats::fourcc_name(fourcc);
                panic!("no {name} layout for {}x{}", size.0, size.1)
            }),
            Backing::Dmabuf { udmabuf: true, .. } => {
                Pixels::udmabuf(size.0, size.1).unwrap_or_else(|e| panic!("{e}"))
            }
            _ => Pixels::with_stride(size.0, size.1, size.0 * 4 + padding),
        };
        let mut gbm = None;
        let (wl_buffer, pool) = match self.backing {
            Backing::Shm(_) => {
                let shm = client.globals.shm.as_ref().expect("wl_shm bound");
                let pool = shm.create_pool(pixels.fd.as_fd(), pixels.len as i32, &qh, ());
                let buffer = pool.create_buffer(
                    0,
                    size.0,
                    size.1,
                    pixels.stride,
                    wl_shm::Format::Argb8888,
                    &qh,
                    (),
                );
                (buffer, Some(pool))
            }
            Backing::Dmabuf { gpu, .. } => {
                let dmabuf = &client.globals.dmabufs[gpu];
                let buffer = dmabuf_buffer(
                    dmabuf,
                    &qh,
                    pixels.buffer_fd(),
                    pixels.fourcc,
                    &pixels.planes,
                    size,
                );
                (buffer, None)
            }
            Backing::Gbm => {
                let allocator = client.gbm.as_ref().expect("GBM device opened (open_gbm)");
                let bo = allocator
                    .allocate(size.0, size.1)
                    .unwrap_or_else(|e| panic!("{e}"));
                let fd = bo.dmabuf_fd().unwrap_or_else(|e| panic!("{e}"));
                let dmabuf = client.globals.dmabufs.first().expect("linux-dmabuf bound");
                let buffer = linear_dmabuf(dmabuf, &qh, fd.as_fd(), bo.stride(), size);
                gbm = Some(bo);
                (buffer, None)
            }
        };
        self.buffer = Some(WindowBuffer {
            pixels,
            wl_buffer,
            pool,
            gbm,
        });
    }

    /// Gives the window the xdg toplevel role and commits it without a buffer; the compositor
    /// answers with a configure (see [`Globals::configured`]) before the first buffer is attached.
    pub fn make_toplevel(&mut self, client: &TestClient, app_id: &str, title: &str) {
        let qh = client.qh();
        let wm_base = client.globals.wm_base.as_ref().expect("xdg_wm_base bound");
        let xdg_surface = wm_base.get_xdg_surface(&self.surface, &qh, ());
        let toplevel = xdg_surface.get_toplevel(&qh, ());
        toplevel.set_app_id(app_id.into());
        toplevel.set_title(title.into());
        self.surface.commit();
        self.xdg = Some((xdg_surface, toplevel));
    }

    pub fn pixels(&mut self) -> &mut Pixels {
        &mut self.buffer.as_mut().expect("window has a buffer").pixels
    }

    /// Attaches the current buffer and commits with `damage` (x, y, w, h), or full damage.
    pub fn commit(&mut self, damage: Option<(i32, i32, i32, i32)>) {
        let buffer = self.buffer.as_mut().expect("window has a buffer");
        let (w, h) = (buffer.pixels.width, buffer.pixels.height);
        let (x, y, dw, dh) = damage.unwrap_or((0, 0, w, h));
        if let Some(gbm) = buffer.gbm.as_mut() {
            gbm.upload(&buffer.pixels, (x, y, dw, dh))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        self.surface.attach(Some(&buffer.wl_buffer), 0, 0);
        self.surface.damage_buffer(x, y, dw, dh);
        self.surface.commit();
    }

    fn drop_buffer(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            buffer.wl_buffer.destroy();
            if let Some(pool) = buffer.pool {
                pool.destroy();
            }
        }
    }

    /// Destroys the buffer and the surface, as a client closing a window does.
    pub fn destroy(mut self) {
        if let Some((xdg_surface, toplevel)) = self.xdg.take() {
            toplevel.destroy();
            xdg_surface.destroy();
        }
        self.drop_buffer();
        self.surface.destroy();
    }
}
