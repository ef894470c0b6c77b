//! Tandem's own Wayland test client: windows backed by shm pools or linear memfd dmabufs, painted
//! with the CPU so that tests know every pixel. Dmabuf windows come in ARGB8888 or, with
//! [`TestClient::dmabuf_window_in`], in any format of [`formats`], holding its known pattern.
//!
//! The library tests use it in-process over socket pairs (dispatched by the test with
//! [`TestClient::pump`]); the `tandem-test-client` binary runs it against a compositor's socket
//! with xdg-shell toplevels.

pub mod activation;
pub mod cursor_capture;
pub mod cursor_shape;
pub mod decoration;
pub mod dialog;
pub mod explicit_sync;
pub mod formats;
pub mod fractional_scale;
pub mod fuzz;
mod gbm_buffer;
pub mod hostile;
pub mod hostile_capture;
pub mod hostile_geometry;
pub mod hostile_image_copy;
pub mod hostile_privileged;
pub mod hostile_syncobj;
pub mod image_copy;
pub mod late_fence;
pub mod lease;
pub mod output_power;
mod pixels;
pub mod presentation_hints;
pub mod sandbox;
pub mod screencopy;
pub mod selection;
pub mod session_lock;
pub mod shortcuts;
pub mod single_pixel;
pub mod text_input;
pub mod timeline;
mod window;
pub mod x11;

use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub use pixels::{Pixels, SparseBuffer};
pub(crate) use window::{add_planes, dmabuf_buffer, linear_dmabuf, Backing};
pub use window::{Window, WindowBuffer};

use gbm_buffer::GbmAllocator;

use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_client::protocol::wl_callback::{self, WlCallback};
use wayland_client::protocol::wl_compositor::WlCompositor;
use wayland_client::protocol::wl_registry::{self, WlRegistry};
use wayland_client::protocol::wl_shm::WlShm;
use wayland_client::protocol::wl_shm_pool::WlShmPool;
use wayland_client::protocol::wl_surface::WlSurface;
use wayland_client::{
    delegate_noop, event_created_child, Connection, Dispatch, EventQueue, Proxy, QueueHandle,
};
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1::{
    self, ZwpLinuxBufferParamsV1,
};
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_dmabuf_feedback_v1::{
    self, ZwpLinuxDmabufFeedbackV1,
};
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_dmabuf_v1::{
    self, ZwpLinuxDmabufV1,
};
use wayland_protocols::wp::linux_drm_syncobj::v1::client::wp_linux_drm_syncobj_manager_v1::WpLinuxDrmSyncobjManagerV1;
use wayland_protocols::wp::linux_drm_syncobj::v1::client::wp_linux_drm_syncobj_surface_v1::WpLinuxDrmSyncobjSurfaceV1;
use wayland_protocols::wp::linux_drm_syncobj::v1::client::wp_linux_drm_syncobj_timeline_v1::WpLinuxDrmSyncobjTimelineV1;
use wayland_protocols::xdg::shell::client::xdg_surface::{self, XdgSurface};
use wayland_protocols::xdg::shell::client::xdg_toplevel::{self, XdgToplevel};
use wayland_protocols::xdg::shell::client::xdg_wm_base::{self, XdgWmBase};

/// DRM_FORMAT_MOD_INVALID: the modifier of formats a linux-dmabuf global before version 3
/// announced without modifiers.
const DRM_FORMAT_MOD_INVALID: u64 = 0x00ff_ffff_ffff_ffff;

#[derive(Default)]
pub struct Globals {
    pub compositor: Option<WlCompositor>,
    pub shm: Option<WlShm>,
    /// One per GPU, in the order the server created them.
    pub dmabufs: Vec<ZwpLinuxDmabufV1>,
    pub wm_base: Option<XdgWmBase>,
    /// wp_linux_drm_syncobj_manager_v1, offered where a DRM GPU imports timelines.
    pub syncobj: Option<WpLinuxDrmSyncobjManagerV1>,
    /// zwlr_screencopy_manager_v1 (module [`screencopy`]).
    pub screencopy: Option<wayland_protocols_wlr::screencopy::v1::client::zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1>,
    /// ext_image_copy_capture_manager_v1 and its source managers (module [`image_copy`]).
    pub image_copy: Option<wayland_protocols::ext::image_copy_capture::v1::client::ext_image_copy_capture_manager_v1::ExtImageCopyCaptureManagerV1>,
    pub output_sources: Option<wayland_protocols::ext::image_capture_source::v1::client::ext_output_image_capture_source_manager_v1::ExtOutputImageCaptureSourceManagerV1>,
    pub toplevel_sources: Option<wayland_protocols::ext::image_capture_source::v1::client::ext_foreign_toplevel_image_capture_source_manager_v1::ExtForeignToplevelImageCaptureSourceManagerV1>,
    /// ext_foreign_toplevel_list_v1's global (name, version), bound when windows are listed.
    pub toplevel_list_global: Option<(u32, u32)>,
    pub toplevel_list: Option<wayland_protocols::ext::foreign_toplevel_list::v1::client::ext_foreign_toplevel_list_v1::ExtForeignToplevelListV1>,
    /// The windows it announced, closed ones included.
    pub toplevels: Vec<(
        wayland_protocols::ext::foreign_toplevel_list::v1::client::ext_foreign_toplevel_handle_v1::ExtForeignToplevelHandleV1,
        image_copy::ListedToplevel,
    )>,
    /// The wl_output globals (name, version), in the order they were announced: bound only
    /// when a capture asks for one (a client that binds every output races outputs that come
    /// and go).
    pub output_globals: Vec<(u32, u32)>,
    /// The wl_seat global (name, version): bound only when a capture of the pointer asks
    /// for it.
    pub seat_global: Option<(u32, u32)>,
    /// ext_session_lock_manager_v1's global (name, version), bound by a locker.
    pub session_lock_global: Option<(u32, u32)>,
    /// zwp_idle_inhibit_manager_v1, bound when a window inhibits idleness.
    pub idle_inhibit_global: Option<(u32, u32)>,
    /// zwlr_output_power_manager_v1, bound when an output's power is set.
    pub output_power_global: Option<(u32, u32)>,
    /// wp_fractional_scale_manager_v1 and wp_viewporter, bound by a window drawn at its
    /// preferred scale.
    pub fractional_scale_global: Option<(u32, u32)>,
    /// xdg_activation_v1, bound when a window is activated.
    pub activation_global: Option<(u32, u32)>,
    /// zwp_text_input_manager_v3 and zwp_input_method_manager_v2 (module [`text_input`]).
    pub text_input_global: Option<(u32, u32)>,
    /// Globals bound by name when a mode needs them (`TestClient::bind_named`): interface,
    /// name, version.
    pub named_globals: Vec<(String, u32, u32)>,
    pub input_method_global: Option<(u32, u32)>,
    /// Every wp_drm_lease_device_v1 (module [`lease`]).
    pub lease_device_globals: Vec<(u32, u32)>,
    /// The names lease connectors were told, as they come.
    pub lease_connector_names: Vec<(
        wayland_protocols::wp::drm_lease::v1::client::wp_drm_lease_connector_v1::WpDrmLeaseConnectorV1,
        String,
    )>,
    pub viewporter_global: Option<(u32, u32)>,
    /// wp_single_pixel_buffer_manager_v1, bound by `--single-pixel`.
    pub single_pixel_global: Option<(u32, u32)>,
    /// wp_cursor_shape_manager_v1 and zwlr_virtual_pointer_manager_v1 (module
    /// [`cursor_shape`]).
    pub cursor_shape_global: Option<(u32, u32)>,
    pub virtual_pointer_global: Option<(u32, u32)>,
    /// zxdg_decoration_manager_v1 (module [`decoration`]).
    pub decoration_global: Option<(u32, u32)>,
    /// wp_content_type_manager_v1 and wp_tearing_control_manager_v1 (module
    /// [`presentation_hints`]).
    pub content_type_global: Option<(u32, u32)>,
    pub tearing_control_global: Option<(u32, u32)>,
    /// The registry, for binding outputs later.
    pub registry: Option<WlRegistry>,
    /// Configures received per xdg_surface (acknowledged on arrival).
    pub configured: Vec<XdgSurface>,
    /// Toplevels the compositor asked to close.
    pub close_requested: Vec<XdgToplevel>,
    /// Sizes the compositor configured toplevels with (zero: the client's choice).
    pub configured_sizes: Vec<(XdgToplevel, (i32, i32))>,
    /// The main device each surface feedback object last announced (see
    /// [`Window::follow_feedback`]).
    feedback: Vec<SurfaceFeedback>,
    /// (GPU, format, modifier) of the linux-dmabuf globals' `format` and `modifier` events (see
    /// [`TestClient::advertised_formats`]).
    advertised: Vec<(usize, u32, u64)>,
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
                "wp_linux_drm_syncobj_manager_v1" => {
                    state.syncobj = Some(registry.bind(name, 1, qh, ()))
                }
                "zwlr_screencopy_manager_v1" => {
                    state.screencopy = Some(registry.bind(name, version.min(3), qh, ()))
                }
                "ext_image_copy_capture_manager_v1" => {
                    state.image_copy = Some(registry.bind(name, 1, qh, ()))
                }
                "ext_output_image_capture_source_manager_v1" => {
                    state.output_sources = Some(registry.bind(name, 1, qh, ()))
                }
                "ext_foreign_toplevel_image_capture_source_manager_v1" => {
                    state.toplevel_sources = Some(registry.bind(name, 1, qh, ()))
                }
                "ext_foreign_toplevel_list_v1" => {
                    state.toplevel_list_global = Some((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "wl_output" => {
                    state.output_globals.push((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "wl_seat" => {
                    state.seat_global.get_or_insert((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "ext_session_lock_manager_v1" => {
                    state.session_lock_global = Some((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "zwp_idle_inhibit_manager_v1" => {
                    state.idle_inhibit_global = Some((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "zwlr_output_power_manager_v1" => {
                    state.output_power_global = Some((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "wp_drm_lease_device_v1" => {
                    state.lease_device_globals.push((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "wl_data_device_manager"
                | "zwp_primary_selection_device_manager_v1"
                | "gtk_primary_selection_device_manager"
                | "zxdg_exporter_v2"
                | "zxdg_importer_v2"
                | "zwp_keyboard_shortcuts_inhibit_manager_v1" => {
                    state.named_globals.push((interface.clone(), name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "zwp_text_input_manager_v3" => {
                    state.text_input_global = Some((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "zwp_input_method_manager_v2" => {
                    state.input_method_global = Some((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "xdg_activation_v1" => {
                    state.activation_global = Some((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "wp_fractional_scale_manager_v1" => {
                    state.fractional_scale_global = Some((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "wp_viewporter" => {
                    state.viewporter_global = Some((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "wp_single_pixel_buffer_manager_v1" => {
                    state.single_pixel_global = Some((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "wp_cursor_shape_manager_v1" => {
                    state.cursor_shape_global = Some((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "wp_content_type_manager_v1" => {
                    state.content_type_global = Some((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "wp_tearing_control_manager_v1" => {
                    state.tearing_control_global = Some((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "zxdg_decoration_manager_v1" => {
                    state.decoration_global = Some((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
                "zwlr_virtual_pointer_manager_v1" => {
                    state.virtual_pointer_global = Some((name, version));
                    state.registry.get_or_insert_with(|| registry.clone());
                }
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
        match event {
            xdg_toplevel::Event::Close => state.close_requested.push(toplevel.clone()),
            xdg_toplevel::Event::Configure { width, height, .. } => {
                state
                    .configured_sizes
                    .push((toplevel.clone(), (width, height)));
            }
            _ => {}
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

/// A frame callback's `done` sets its flag.
impl Dispatch<WlCallback, Arc<std::sync::atomic::AtomicBool>> for Globals {
    fn event(
        _: &mut Self,
        _: &WlCallback,
        event: wl_callback::Event,
        done: &Arc<std::sync::atomic::AtomicBool>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { .. } = event {
            done.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

delegate_noop!(Globals: WlCompositor);
delegate_noop!(Globals: WpLinuxDrmSyncobjManagerV1);
delegate_noop!(Globals: WpLinuxDrmSyncobjSurfaceV1);
delegate_noop!(Globals: WpLinuxDrmSyncobjTimelineV1);
delegate_noop!(Globals: WlShmPool);
delegate_noop!(Globals: ignore WlShm);
delegate_noop!(Globals: ignore WlSurface);
delegate_noop!(Globals: ignore WlBuffer);
delegate_noop!(Globals: ignore ZwpLinuxBufferParamsV1);

impl Dispatch<ZwpLinuxDmabufV1, ()> for Globals {
    fn event(
        state: &mut Self,
        dmabuf: &ZwpLinuxDmabufV1,
        event: zwp_linux_dmabuf_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let Some(gpu) = state.dmabufs.iter().position(|d| d == dmabuf) else {
            return;
        };
        let (format, modifier) = match event {
            // From version 3 on, `modifier` events say it all.
            zwp_linux_dmabuf_v1::Event::Format { format } if dmabuf.version() < 3 => {
                (format, DRM_FORMAT_MOD_INVALID)
            }
            zwp_linux_dmabuf_v1::Event::Modifier {
                format,
                modifier_hi,
                modifier_lo,
            } => (
                format,
                (u64::from(modifier_hi) << 32) | u64::from(modifier_lo),
            ),
            _ => return,
        };
        if !state.advertised.contains(&(gpu, format, modifier)) {
            state.advertised.push((gpu, format, modifier));
        }
    }
}

/// Where the answer to a non-immediate `create` lands (see [`TestClient::request_dmabuf`]).
#[derive(Clone, Default)]
struct CreateOutcome(Arc<Mutex<Option<Result<WlBuffer, String>>>>);

impl CreateOutcome {
    fn get(&self) -> Option<Result<WlBuffer, String>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, answer: Result<WlBuffer, String>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(answer);
    }
}

impl Dispatch<ZwpLinuxBufferParamsV1, CreateOutcome> for Globals {
    fn event(
        _: &mut Self,
        _: &ZwpLinuxBufferParamsV1,
        event: zwp_linux_buffer_params_v1::Event,
        outcome: &CreateOutcome,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwp_linux_buffer_params_v1::Event::Created { buffer } => outcome.set(Ok(buffer)),
            zwp_linux_buffer_params_v1::Event::Failed => outcome.set(Err("failed".into())),
            _ => {}
        }
    }

    event_created_child!(Globals, ZwpLinuxBufferParamsV1, [
        zwp_linux_buffer_params_v1::EVT_CREATED_OPCODE => (WlBuffer, ()),
    ]);
}

/// A buffer asked for with the non-immediate `create` request, until the compositor answers (see
/// [`TestClient::request_dmabuf`]). Dropping it destroys the params object.
pub struct PendingDmabuf {
    params: ZwpLinuxBufferParamsV1,
    outcome: CreateOutcome,
}

impl PendingDmabuf {
    /// The compositor's answer once it arrived: the new buffer (`created`), or `Err("failed")`.
    pub fn answer(&self) -> Option<Result<WlBuffer, String>> {
        self.outcome.get()
    }
}

impl Drop for PendingDmabuf {
    fn drop(&mut self) {
        self.params.destroy();
    }
}

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

    /// Commits `window` (with `damage`) asking for a frame callback, and waits for its `done`:
    /// the compositor's word that the frame was shown and the next may be drawn. False when
    /// `timeout` passed first.
    pub fn commit_and_wait_frame(
        &mut self,
        window: &mut Window,
        damage: Option<(i32, i32, i32, i32)>,
        timeout: Duration,
    ) -> Result<bool, String> {
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        window.surface.frame(&self.qh(), done.clone());
        window.commit(damage);
        self.wait_frame_done(&done, timeout)
    }

    /// Waits until the frame callback whose user data is `done` arrives; false when `timeout`
    /// passed first.
    pub fn wait_frame_done(
        &mut self,
        done: &std::sync::atomic::AtomicBool,
        timeout: Duration,
    ) -> Result<bool, String> {
        let until = Instant::now() + timeout;
        while !done.load(std::sync::atomic::Ordering::Relaxed) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            self.conn.flush().map_err(|e| format!("flush: {e}"))?;
            if let Some(guard) = self.queue.prepare_read() {
                let wait = rustix::event::Timespec {
                    tv_sec: left.as_secs() as _,
                    tv_nsec: left.subsec_nanos() as _,
                };
                let fd = guard.connection_fd();
                let mut polled = [rustix::event::PollFd::new(
                    &fd,
                    rustix::event::PollFlags::IN,
                )];
                let ready = rustix::event::poll(&mut polled, Some(&wait)).unwrap_or(0);
                if ready > 0 {
                    guard.read().map_err(|e| format!("read: {e}"))?;
                }
            }
            self.queue
                .dispatch_pending(&mut self.globals)
                .map_err(|e| format!("dispatch: {e}"))?;
        }
        Ok(true)
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
        self.window(
            size,
            Backing::Dmabuf {
                gpu,
                format: None,
                udmabuf: false,
            },
        )
    }

    /// A new ARGB8888 window whose pixels are a udmabuf (needs /dev/udmabuf), announced
    /// through GPU `gpu`'s linux-dmabuf global.
    pub fn udmabuf_window(&mut self, size: (i32, i32), gpu: usize) -> Window {
        self.window(
            size,
            Backing::Dmabuf {
                gpu,
                format: None,
                udmabuf: true,
            },
        )
    }

    /// A new window whose pixels are a linear memfd dmabuf in `fourcc` (one of
    /// [`formats::ALL`]), laid out by [`formats::layout`] and holding the pattern of
    /// [`formats::paint`], announced through the linux-dmabuf global of GPU number `gpu` with
    /// one plane per plane of the layout (`create_immed`).
    ///
    /// [`Pixels::fill`] paints ARGB8888 windows as usual (over the pattern); in any other format
    /// it does nothing and the window keeps its pattern, through later commits and new buffers
    /// ([`Window::set_buffer`] paints the pattern again).
    ///
    /// # Panics
    ///
    /// When the format has no layout for `size` (see [`formats::layout`]) or there is no global
    /// `gpu`.
    pub fn dmabuf_window_in(&mut self, size: (i32, i32), gpu: usize, fourcc: u32) -> Window {
        self.window(
            size,
            Backing::Dmabuf {
                gpu,
                format: Some(fourcc),
                udmabuf: false,
            },
        )
    }

    /// Asks the linux-dmabuf global of GPU `gpu` for a `size` buffer in `fourcc` holding the
    /// pattern of [`formats::paint`] (a sealed linear memfd, one plane per plane of
    /// [`formats::layout`]) with the non-immediate `create` request, whose answer (`created` or
    /// `failed`) comes later: dispatch (with [`TestClient::pump`] or a roundtrip) until
    /// [`PendingDmabuf::answer`] has it. Does not block, so in-process tests can use it.
    pub fn request_dmabuf(
        &mut self,
        fourcc: u32,
        size: (i32, i32),
        gpu: usize,
    ) -> Result<PendingDmabuf, String> {
        let qh = self.qh();
        let dmabuf = self
            .globals
            .dmabufs
            .get(gpu)
            .ok_or_else(|| format!("no linux-dmabuf global for GPU {gpu}"))?;
        let pixels = Pixels::with_format(fourcc, size.0, size.1).ok_or_else(|| {
            let name = formats::fourcc_name(fourcc);
            format!("no {name} layout for {}x{}", size.0, size.1)
        })?;
        let outcome = CreateOutcome::default();
        let params = dmabuf.create_params(&qh, outcome.clone());
        add_planes(&params, pixels.fd(), &pixels.planes);
        params.create(
            size.0,
            size.1,
            fourcc,
            zwp_linux_buffer_params_v1::Flags::empty(),
        );
        // The request holds its own copy of the fd: the memfd lives on without `pixels`.
        Ok(PendingDmabuf { params, outcome })
    }

    /// Like [`TestClient::request_dmabuf`], then waits (with roundtrips, for up to 10 seconds)
    /// for the answer: `Ok` with the buffer the compositor `created`, `Err("failed")` when it
    /// refused it, or another error when the request could not be made or the connection
    /// failed (a protocol error). Blocks, so it needs a compositor that runs on its own (as with
    /// [`TestClient::connect_env`]), not one the test dispatches on the same thread.
    pub fn try_create_dmabuf(
        &mut self,
        fourcc: u32,
        size: (i32, i32),
        gpu: usize,
    ) -> Result<WlBuffer, String> {
        let pending = self.request_dmabuf(fourcc, size, gpu)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.roundtrip()?;
            if let Some(answer) = pending.answer() {
                return answer;
            }
            if Instant::now() >= deadline {
                return Err("no answer to the create request within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The (format, modifier) pairs the linux-dmabuf globals announced with `modifier` events
    /// (version 3) or, before version 3, `format` events (modifier DRM_FORMAT_MOD_INVALID),
    /// over all GPUs, without repeats. They are sent on binding, so they are here once the
    /// client has dispatched after the roundtrip that bound the globals (one more roundtrip after
    /// [`TestClient::connect_env`]). Globals of version 4 (this client binds up to 4) announce
    /// their formats only through dmabuf feedback format tables, which the client does not read:
    /// for them the list stays empty; [`TestClient::try_create_dmabuf`] tells whether a format
    /// is taken.
    pub fn advertised_formats(&self) -> Vec<(u32, u64)> {
        let mut formats = Vec::new();
        for &(_, format, modifier) in &self.globals.advertised {
            if !formats.contains(&(format, modifier)) {
                formats.push((format, modifier));
            }
        }
        formats
    }

    /// Like [`TestClient::advertised_formats`], for the linux-dmabuf global of GPU `gpu` only.
    pub fn advertised_formats_on(&self, gpu: usize) -> Vec<(u32, u64)> {
        self.globals
            .advertised
            .iter()
            .filter(|(of, _, _)| *of == gpu)
            .map(|&(_, format, modifier)| (format, modifier))
            .collect()
    }

    /// Allocates the buffers of GBM windows on the DRM device at `path` (a render node).
    pub fn open_gbm(&mut self, path: &std::path::Path) -> Result<(), String> {
        self.gbm = Some(GbmAllocator::open(path)?);
        Ok(())
    }

    /// The GBM device [`TestClient::open_gbm`] opened.
    pub(crate) fn gbm_allocator(&self) -> Result<&GbmAllocator, String> {
        self.gbm
            .as_ref()
            .ok_or_else(|| "no GBM device opened (open_gbm)".to_string())
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
#[cfg(test)]
mod tests {
    use super::{formats, Pixels};

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

    #[test]
    fn pixels_in_a_format_hold_its_pattern_and_ignore_fill() {
        let mut pixels = Pixels::with_format(formats::NV12, 64, 8).expect("NV12 layout");
        let (planes, len) = formats::layout(formats::NV12, 64, 8).expect("layout");
        assert_eq!(pixels.fourcc(), formats::NV12);
        assert_eq!(pixels.planes(), planes.as_slice());
        assert_eq!(pixels.len(), len);
        let mut painted = vec![0; len];
        formats::paint(formats::NV12, 64, 8, &planes, &mut painted);
        assert_eq!(pixels.bytes(), painted.as_slice());
        pixels.fill((0, 0, 64, 8), 0xffff_0000);
        assert_eq!(
            pixels.bytes(),
            painted.as_slice(),
            "fill leaves the pattern"
        );
        assert!(Pixels::with_format(formats::NV12, 63, 8).is_none());

        let mut argb = Pixels::with_format(formats::ARGB8888, 8, 8).expect("AR24 layout");
        assert_eq!(argb.stride, 64);
        assert_eq!(at(&argb, 7, 0), 0xffff_0080, "pattern: red 255, blue 128");
        argb.fill((0, 0, 1, 1), 0xff00_ff00);
        assert_eq!(at(&argb, 0, 0), 0xff00_ff00, "ARGB8888 still fills");
    }
}
