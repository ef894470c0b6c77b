//! Tandem's own Wayland test client: windows backed by shm pools or linear memfd dmabufs, painted
//! with the CPU so that tests know every pixel.
//!
//! The library tests use it in-process over socket pairs (dispatched by the test with
//! [`TestClient::pump`]); the `tandem-test-client` binary runs it against a compositor's socket
//! with xdg-shell toplevels.

pub mod fuzz;
mod gbm_buffer;
pub mod hostile;
pub mod hostile_geometry;
pub mod x11;

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use gbm_buffer::{GbmAllocator, GbmBuffer};

use rustix::fs::{MemfdFlags, SealFlags};
use rustix::mm::{MapFlags, ProtFlags};
use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_client::protocol::wl_compositor::WlCompositor;
use wayland_client::protocol::wl_registry::{self, WlRegistry};
use wayland_client::protocol::wl_shm::{self, WlShm};
use wayland_client::protocol::wl_shm_pool::WlShmPool;
use wayland_client::protocol::wl_surface::WlSurface;
use wayland_client::{delegate_noop, Connection, Dispatch, EventQueue, Proxy, QueueHandle};
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::{
    self, ZwpLinuxBufferParamsV1,
};
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_dmabuf_feedback_v1::{
    self, ZwpLinuxDmabufFeedbackV1,
};
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1;
use wayland_protocols::xdg::shell::client::xdg_surface::{self, XdgSurface};
use wayland_protocols::xdg::shell::client::xdg_toplevel::{self, XdgToplevel};
use wayland_protocols::xdg::shell::client::xdg_wm_base::{self, XdgWmBase};

/// DRM fourcc of ARGB8888 ('AR24').
const DRM_ARGB8888: u32 = 0x3432_5241;

#[derive(Default)]
pub struct Globals {
    pub compositor: Option<WlCompositor>,
    pub shm: Option<WlShm>,
    /// One per GPU, in the order the server created them.
    pub dmabufs: Vec<ZwpLinuxDmabufV1>,
    pub wm_base: Option<XdgWmBase>,
    /// Configures received per xdg_surface (acknowledged on arrival).
    pub configured: Vec<XdgSurface>,
    /// Toplevels the compositor asked to close.
    pub close_requested: Vec<XdgToplevel>,
    /// The main device each surface feedback object last announced (see
    /// [`Window::follow_feedback`]).
    feedback: Vec<SurfaceFeedback>,
}

/// What one zwp_linux_dmabuf_feedback_v1 said so far.
struct SurfaceFeedback {
    object: ZwpLinuxDmabufFeedbackV1,
    /// Announced in the batch not yet closed by `done`.
    pending_main_device: Option<u64>,
    /// The main device of the last complete batch.
    main_device: Option<u64>,
    /// Set when a complete batch named another main device than the one before it.
    moved: bool,
}

impl Dispatch<WlRegistry, ()> for Globals {
    fn event(
        state: &mut Self,
        registry: &WlRegistry,
        event: wl_registry::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let wl_registry::Event::Global {
            name,
            interface,
            version,
        } = event
        {
            match interface.as_str() {
                "wl_compositor" => {
                    state.compositor = Some(registry.bind(name, version.min(5), qh, ()))
                }
                "wl_shm" => state.shm = Some(registry.bind(name, 1, qh, ())),
                "xdg_wm_base" => state.wm_base = Some(registry.bind(name, 1, qh, ())),
                "zwp_linux_dmabuf_v1" => {
                    state
                        .dmabufs
                        .push(registry.bind(name, version.min(4), qh, ()))
                }
                _ => {}
            }
        }
    }
}

impl Dispatch<XdgWmBase, ()> for Globals {
    fn event(
        _: &mut Self,
        wm_base: &XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            wm_base.pong(serial);
        }
    }
}

impl Dispatch<XdgSurface, ()> for Globals {
    fn event(
        state: &mut Self,
        surface: &XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            surface.ack_configure(serial);
            state.configured.push(surface.clone());
        }
    }
}

impl Dispatch<XdgToplevel, ()> for Globals {
    fn event(
        state: &mut Self,
        toplevel: &XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_toplevel::Event::Close = event {
            state.close_requested.push(toplevel.clone());
        }
    }
}

impl Dispatch<ZwpLinuxDmabufFeedbackV1, ()> for Globals {
    fn event(
        state: &mut Self,
        object: &ZwpLinuxDmabufFeedbackV1,
        event: zwp_linux_dmabuf_feedback_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let Some(feedback) = state.feedback.iter_mut().find(|f| &f.object == object) else {
            return;
        };
        match event {
            zwp_linux_dmabuf_feedback_v1::Event::MainDevice { device } => {
                feedback.pending_main_device = device
                    .get(..8)
                    .and_then(|bytes| bytes.try_into().ok())
                    .map(u64::from_ne_bytes);
            }
            zwp_linux_dmabuf_feedback_v1::Event::Done => {
                let announced = feedback.pending_main_device.take();
                if feedback.main_device.is_some() && announced != feedback.main_device {
                    feedback.moved = true;
                }
                feedback.main_device = announced.or(feedback.main_device);
            }
            _ => {}
        }
    }
}

delegate_noop!(Globals: WlCompositor);
delegate_noop!(Globals: WlShmPool);
delegate_noop!(Globals: ignore WlShm);
delegate_noop!(Globals: ignore WlSurface);
delegate_noop!(Globals: ignore WlBuffer);
delegate_noop!(Globals: ignore ZwpLinuxDmabufV1);
delegate_noop!(Globals: ignore ZwpLinuxBufferParamsV1);

pub struct TestClient {
    pub conn: Connection,
    pub queue: EventQueue<Globals>,
    pub globals: Globals,
    /// Where GBM windows allocate their buffers (see [`TestClient::open_gbm`]).
    gbm: Option<GbmAllocator>,
}

impl TestClient {
    pub fn new(stream: UnixStream) -> TestClient {
        stream.set_nonblocking(true).expect("nonblocking socket");
        let conn = Connection::from_socket(stream).expect("client connection");
        let queue = conn.new_event_queue();
        conn.display().get_registry(&queue.handle(), ());
        TestClient {
            conn,
            queue,
            globals: Globals::default(),
            gbm: None,
        }
    }

    /// Connects to the compositor named by WAYLAND_DISPLAY and binds its globals.
    pub fn connect_env() -> Result<TestClient, String> {
        let conn = Connection::connect_to_env().map_err(|e| format!("connect: {e}"))?;
        let mut queue = conn.new_event_queue();
        conn.display().get_registry(&queue.handle(), ());
        let mut globals = Globals::default();
        queue
            .roundtrip(&mut globals)
            .map_err(|e| format!("roundtrip: {e}"))?;
        Ok(TestClient {
            conn,
            queue,
            globals,
            gbm: None,
        })
    }

    /// Waits for the compositor to answer everything sent so far.
    pub fn roundtrip(&mut self) -> Result<(), String> {
        self.queue
            .roundtrip(&mut self.globals)
            .map(drop)
            .map_err(|e| format!("roundtrip: {e}"))
    }

    pub fn qh(&self) -> QueueHandle<Globals> {
        self.queue.handle()
    }

    /// Sends what is queued and handles what arrived, without blocking.
    pub fn pump(&mut self) {
        let _ = self.conn.flush();
        if let Some(guard) = self.queue.prepare_read() {
            let _ = guard.read();
        }
        self.queue
            .dispatch_pending(&mut self.globals)
            .expect("client dispatch");
    }

    /// A new window of `size` whose pixels are in an shm pool.
    pub fn shm_window(&mut self, size: (i32, i32)) -> Window {
        self.window(size, Backing::Shm(0))
    }

    /// A new shm window whose rows are `padding` bytes longer than its pixels (a stride that
    /// is not tightly packed, as toolkits that align rows hand out).
    pub fn padded_shm_window(&mut self, size: (i32, i32), padding: i32) -> Window {
        self.window(size, Backing::Shm(padding))
    }

    /// A new window whose pixels are a linear memfd dmabuf announced through the linux-dmabuf
    /// global of GPU number `gpu`.
    pub fn dmabuf_window(&mut self, size: (i32, i32), gpu: usize) -> Window {
        self.window(size, Backing::Dmabuf(gpu))
    }

    /// Allocates the buffers of GBM windows on the DRM device at `path` (a render node).
    pub fn open_gbm(&mut self, path: &std::path::Path) -> Result<(), String> {
        self.gbm = Some(GbmAllocator::open(path)?);
        Ok(())
    }

    /// When the compositor told `window` (through dmabuf feedback) to allocate on another main
    /// device than before, reopens GBM there and gives the window a new buffer of the same
    /// size (not yet painted or attached); returns the device's node, or `None` when nothing
    /// moved.
    pub fn follow_feedback(&mut self, window: &mut Window) -> Result<Option<String>, String> {
        let Some(object) = &window.feedback else {
            return Ok(None);
        };
        let Some(feedback) = self
            .globals
            .feedback
            .iter_mut()
            .find(|f| &f.object == object)
            .filter(|f| f.moved)
        else {
            return Ok(None);
        };
        feedback.moved = false;
        let device = feedback
            .main_device
            .ok_or("feedback without a main device")?;
        let (allocator, path) = GbmAllocator::open_device_number(device)?;
        self.gbm = Some(allocator);
        let size = window
            .buffer
            .as_ref()
            .map(|b| (b.pixels.width, b.pixels.height))
            .ok_or("window has no buffer")?;
        window.set_buffer(self, size);
        Ok(Some(path))
    }

    /// A new window whose pixels are a linear GBM buffer object (see [`TestClient::open_gbm`]),
    /// announced through the linux-dmabuf global of this socket.
    pub fn gbm_window(&mut self, size: (i32, i32)) -> Window {
        self.window(size, Backing::Gbm)
    }

    fn window(&mut self, size: (i32, i32), backing: Backing) -> Window {
        let qh = self.qh();
        let compositor = self
            .globals
            .compositor
            .as_ref()
            .expect("wl_compositor bound");
        let surface = compositor.create_surface(&qh, ());
        let feedback = match (backing, self.globals.dmabufs.first()) {
            (Backing::Gbm, Some(dmabuf)) if dmabuf.version() >= 4 => {
                let object = dmabuf.get_surface_feedback(&surface, &qh, ());
                self.globals.feedback.push(SurfaceFeedback {
                    object: object.clone(),
                    pending_main_device: None,
                    main_device: None,
                    moved: false,
                });
                Some(object)
            }
            _ => None,
        };
        let mut window = Window {
            surface,
            backing,
            feedback,
            buffer: None,
            xdg: None,
        };
        window.set_buffer(self, size);
        window
    }
}

#[derive(Clone, Copy)]
enum Backing {
    /// shm, rows padded by this many bytes.
    Shm(i32),
    Dmabuf(usize),
    Gbm,
}

/// A wl_buffer for one linear ARGB8888 plane in `fd`, rows `stride` bytes apart.
fn linear_dmabuf(
    dmabuf: &ZwpLinuxDmabufV1,
    qh: &QueueHandle<Globals>,
    fd: std::os::fd::BorrowedFd<'_>,
    stride: u32,
    size: (i32, i32),
) -> WlBuffer {
    let params = dmabuf.create_params(qh, ());
    // Modifier 0: linear.
    params.add(fd, 0, 0, stride, 0, 0);
    let buffer = params.create_immed(
        size.0,
        size.1,
        DRM_ARGB8888,
        zwp_linux_buffer_params_v1::Flags::empty(),
        qh,
        (),
    );
    params.destroy();
    buffer
}

/// CPU-writable memory shared with the compositor.
pub struct Pixels {
    fd: OwnedFd,
    ptr: *mut u8,
    len: usize,
    pub width: i32,
    pub height: i32,
    pub stride: i32,
}

impl Pixels {
    /// A memfd sealed against shrinking (as a compositor may require of memfd dmabufs).
    pub fn new(width: i32, height: i32) -> Pixels {
        Pixels::with_stride(width, height, width * 4)
    }

    /// Like [`Pixels::new`], with rows `stride` bytes apart.
    pub fn with_stride(width: i32, height: i32, stride: i32) -> Pixels {
        let pixels = Pixels::unsealed_with_stride(width, height, stride);
        rustix::fs::fcntl_add_seals(&pixels.fd, SealFlags::SHRINK).expect("seal");
        pixels
    }

    /// A sealed memfd of `width`x`height` pixels that is never mapped nor touched, so that it
    /// costs the client no memory (hostile cases only).
    pub fn sparse(width: i32, height: i32) -> SparseBuffer {
        let fd = rustix::fs::memfd_create(
            "tandem-sparse",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )
        .expect("memfd");
        rustix::fs::ftruncate(&fd, width as u64 * height as u64 * 4).expect("ftruncate");
        rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK).expect("seal");
        SparseBuffer { fd }
    }

    /// A memfd the client may still truncate (hostile cases only).
    pub fn unsealed(width: i32, height: i32) -> Pixels {
        Pixels::unsealed_with_stride(width, height, width * 4)
    }

    fn unsealed_with_stride(width: i32, height: i32, stride: i32) -> Pixels {
        let len = (stride * height) as usize;
        let fd = rustix::fs::memfd_create(
            "tandem-test",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )
        .expect("memfd");
        rustix::fs::ftruncate(&fd, len as u64).expect("ftruncate");
        // SAFETY: a fresh shared mapping of a memfd we own, unmapped on drop.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )
            .expect("mmap")
        } as *mut u8;
        Pixels {
            fd,
            ptr,
            len,
            width,
            height,
            stride,
        }
    }

    /// The pixels as bytes, rows `stride` apart.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` bytes long and lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// Fills the part of `rect` (x, y, w, h) inside the image with `argb`.
    pub fn fill(&mut self, rect: (i32, i32, i32, i32), argb: u32) {
        let (x, y, w, h) = rect;
        let (right, bottom) = (x.saturating_add(w), y.saturating_add(h));
        for row in y.max(0)..bottom.min(self.height) {
            for col in x.max(0)..right.min(self.width) {
                let offset = (row * self.stride + col * 4) as usize;
                // SAFETY: offset is inside the mapping (row < height, col < width).
                unsafe { (self.ptr.add(offset) as *mut u32).write_unaligned(argb) };
            }
        }
    }
}

impl Pixels {
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Pixels {
    fn drop(&mut self) {
        // SAFETY: ptr/len are the mapping made in `new`.
        unsafe {
            let _ = rustix::mm::munmap(self.ptr as *mut _, self.len);
        }
    }
}

/// A sealed memfd nobody mapped (see [`Pixels::sparse`]).
pub struct SparseBuffer {
    fd: OwnedFd,
}

impl SparseBuffer {
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
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
    backing: Backing,
    /// The surface's dmabuf feedback, asked for by GBM windows on a linux-dmabuf v4 global.
    feedback: Option<ZwpLinuxDmabufFeedbackV1>,
    pub buffer: Option<WindowBuffer>,
    pub xdg: Option<(XdgSurface, XdgToplevel)>,
}

impl Window {
    /// Replaces the window's buffer with a new one of `size` (not yet attached).
    pub fn set_buffer(&mut self, client: &TestClient, size: (i32, i32)) {
        self.drop_buffer();
        let qh = client.qh();
        let padding = match self.backing {
            Backing::Shm(padding) => padding,
            _ => 0,
        };
        let pixels = Pixels::with_stride(size.0, size.1, size.0 * 4 + padding);
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
            Backing::Dmabuf(gpu) => {
                let dmabuf = &client.globals.dmabufs[gpu];
                let stride = pixels.stride as u32;
                (
                    linear_dmabuf(dmabuf, &qh, pixels.fd.as_fd(), stride, size),
                    None,
                )
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

#[cfg(test)]
mod tests {
    use super::Pixels;

    fn at(pixels: &Pixels, x: i32, y: i32) -> u32 {
        let offset = (y * pixels.stride + x * 4) as usize;
        u32::from_ne_bytes(
            pixels.bytes()[offset..offset + 4]
                .try_into()
                .expect("4 bytes"),
        )
    }

    #[test]
    fn fill_paints_only_the_part_of_a_rectangle_inside_the_image() {
        let mut pixels = Pixels::new(8, 8);
        pixels.fill((-4, -4, 6, 6), 0xffff_0000);
        pixels.fill((6, 6, 100, 100), 0xff00_ff00);
        assert_eq!(at(&pixels, 0, 0), 0xffff_0000);
        assert_eq!(at(&pixels, 1, 1), 0xffff_0000);
        assert_eq!(at(&pixels, 2, 2), 0, "outside the clipped rectangle");
        assert_eq!(at(&pixels, 7, 7), 0xff00_ff00);
        assert_eq!(at(&pixels, 5, 5), 0);
    }
}
