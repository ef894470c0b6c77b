//! The in-process compositor side of the test fixture: wl_compositor, wl_shm and one
//! linux-dmabuf global per GPU, rendering surfaces into offscreen outputs through Tandem.

use std::sync::Arc;

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Format, Fourcc, Modifier};
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::element::surface::{
    render_elements_from_surface_tree, WaylandSurfaceRenderElement,
};
use smithay::backend::renderer::element::Kind;
use smithay::backend::renderer::utils::{import_surface_tree, on_commit_buffer_handler};
use smithay::backend::renderer::{Bind, ExportMem, Offscreen};
use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, Display, DisplayHandle};
use smithay::utils::{Physical, Rectangle, Size, Transform};
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::compositor::{CompositorClientState, CompositorHandler, CompositorState};
use smithay::wayland::dmabuf::{DmabufGlobal, DmabufHandler, DmabufState, ImportNotifier};
use smithay::wayland::shm::{ShmHandler, ShmState};
use smithay::{delegate_compositor, delegate_dmabuf, delegate_shm};
use tandem::{GpuId, GpuManager, MultiRenderer, SurfaceTracker, TandemError};

pub struct State {
    pub compositor: CompositorState,
    pub shm: ShmState,
    pub dmabuf: DmabufState,
    pub dmabuf_globals: Vec<(DmabufGlobal, GpuId)>,
    pub gpus: GpuManager,
    pub tracker: SurfaceTracker,
    /// Every surface ever created, in creation order.
    pub surfaces: Vec<WlSurface>,
    /// When set, the compositor keeps its WlSurface handles after destruction, as real
    /// compositors do through focus history and window lists.
    pub retain_surfaces: bool,
    /// Surfaces created so far.
    pub opened: usize,
}

#[derive(Default)]
pub struct ClientState {
    compositor: CompositorClientState,
}

impl ClientData for ClientState {
    fn initialized(&self, _client_id: ClientId) {}
    fn disconnected(&self, _client_id: ClientId, _reason: DisconnectReason) {}
}

impl CompositorHandler for State {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor
    }

    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        &client
            .get_data::<ClientState>()
            .expect("every test client is inserted with ClientState")
            .compositor
    }

    fn new_surface(&mut self, surface: &WlSurface) {
        self.tracker.new_surface::<State>(surface);
        self.surfaces.push(surface.clone());
        self.opened += 1;
    }

    fn commit(&mut self, surface: &WlSurface) {
        on_commit_buffer_handler::<State>(surface);
    }
}

impl BufferHandler for State {
    fn buffer_destroyed(&mut self, _buffer: &WlBuffer) {}
}

impl ShmHandler for State {
    fn shm_state(&self) -> &ShmState {
        &self.shm
    }
}

impl DmabufHandler for State {
    fn dmabuf_state(&mut self) -> &mut DmabufState {
        &mut self.dmabuf
    }

    fn dmabuf_imported(&mut self, global: &DmabufGlobal, dmabuf: Dmabuf, notifier: ImportNotifier) {
        let gpu = self
            .dmabuf_globals
            .iter()
            .find(|(g, _)| g == global)
            .map(|(_, gpu)| *gpu);
        let client = notifier.client().map(|c| c.id());
        match gpu.map(|gpu| {
            self.gpus
                .accept_client_dmabuf(&dmabuf, gpu, client.as_ref())
        }) {
            Some(Ok(())) => {
                let _ = notifier.successful::<State>();
            }
            _ => notifier.failed(),
        }
    }
}

delegate_compositor!(State);
delegate_shm!(State);
delegate_dmabuf!(State);

/// An offscreen output driven by one GPU.
pub struct Output {
    pub name: String,
    pub render: GpuId,
    pub target_gpu: GpuId,
    pub size: Size<i32, Physical>,
    pub buffer: Dmabuf,
    pub damage: OutputDamageTracker,
    /// What `Server::render` reads the output back in: 8-bit RGBA, or half-float RGBA for
    /// deep outputs.
    pub read_fourcc: Fourcc,
}

pub struct Server {
    pub display: Display<State>,
    pub state: State,
}

impl Server {
    /// A server with `gpus` software GPUs (quirks can be changed afterwards).
    pub fn new(gpus: usize) -> Server {
        let mut manager = GpuManager::new();
        for _ in 0..gpus {
            manager
                .add_software_gpu(Default::default())
                .unwrap_or_else(|e| panic!("{e}"));
        }
        Server::with_manager(manager)
    }

    /// A server over the GPUs of `manager`, one linux-dmabuf global each, offering the
    /// formats the manager carried from that GPU to every other (as the compositor does).
    pub fn with_manager(mut manager: GpuManager) -> Server {
        let display = Display::<State>::new().expect("wayland display");
        let handle = display.handle();
        let mut dmabuf = DmabufState::new();
        let dmabuf_globals = manager
            .gpu_ids()
            .into_iter()
            .map(|gpu| {
                let formats = manager
                    .carried_formats(gpu)
                    .unwrap_or_else(|e| panic!("probing {gpu}'s formats: {e}"));
                (dmabuf.create_global::<State>(&handle, formats), gpu)
            })
            .collect();
        manager.cleanup().expect("cleanup after the format probes");
        let tracker = manager.surface_tracker();
        let state = State {
            compositor: CompositorState::new::<State>(&handle),
            shm: ShmState::new::<State>(&handle, []),
            dmabuf,
            dmabuf_globals,
            gpus: manager,
            tracker,
            surfaces: Vec::new(),
            retain_surfaces: true,
            opened: 0,
        };
        Server { display, state }
    }

    pub fn handle(&self) -> DisplayHandle {
        self.display.handle()
    }

    pub fn gpu(&self, index: usize) -> GpuId {
        self.state.gpus.gpu_ids()[index]
    }

    pub fn dispatch(&mut self) {
        self.display
            .dispatch_clients(&mut self.state)
            .expect("dispatch");
        self.display.flush_clients().expect("flush");
        if !self.state.retain_surfaces {
            self.state
                .surfaces
                .retain(smithay::reexports::wayland_server::Resource::is_alive);
        }
    }

    pub fn insert_client(&mut self, stream: std::os::unix::net::UnixStream) -> Client {
        self.handle()
            .insert_client(stream, Arc::new(ClientState::default()))
            .expect("insert client")
    }

    /// An output of `size` shown by `gpu`, rendered on the same GPU.
    pub fn output(&mut self, gpu: GpuId, size: (i32, i32)) -> Output {
        self.cross_output(gpu, gpu, size)
    }

    /// An output whose buffers live on `target` but are drawn on `render`.
    pub fn cross_output(&mut self, render: GpuId, target: GpuId, size: (i32, i32)) -> Output {
        self.output_in(render, target, size, Fourcc::Argb8888, Fourcc::Abgr8888)
    }

    /// An output of `gpu` whose buffers are half-float RGBA, read back as half floats: it
    /// keeps every level of a 10-bit buffer and values of a half-float one above 1.0.
    pub fn deep_output(&mut self, gpu: GpuId, size: (i32, i32)) -> Output {
        self.output_in(gpu, gpu, size, Fourcc::Abgr16161616f, Fourcc::Abgr16161616f)
    }

    fn output_in(
        &mut self,
        render: GpuId,
        target: GpuId,
        size: (i32, i32),
        fourcc: Fourcc,
        read_fourcc: Fourcc,
    ) -> Output {
        let name = format!("out-{render}-{target}-{}", self.state.surfaces.len());
        let buffer: Dmabuf = {
            let mut renderer = self.state.gpus.renderer(target).expect("target GPU");
            renderer
                .create_buffer(fourcc, size.into())
                .expect("output buffer")
        };
        Output {
            name,
            render,
            target_gpu: target,
            size: size.into(),
            buffer,
            damage: OutputDamageTracker::new(size, 1.0, Transform::Normal),
            read_fourcc,
        }
    }

    /// Imports and draws `surfaces` (at their positions) into `output`, and reads it back as
    /// RGBA bytes. `age` is the buffer age handed to smithay's damage tracker.
    pub fn render(
        &mut self,
        output: &mut Output,
        surfaces: &[(&WlSurface, (i32, i32))],
        age: usize,
    ) -> Result<Vec<u8>, TandemError> {
        let mut renderer: MultiRenderer<'_> =
            self.state
                .gpus
                .cross_renderer(output.render, output.target_gpu, Some(&output.name))?;
        let mut elements: Vec<WaylandSurfaceRenderElement<MultiRenderer<'_>>> = Vec::new();
        for (surface, location) in surfaces {
            import_surface_tree(&mut renderer, surface)?;
            elements.extend(render_elements_from_surface_tree(
                &mut renderer,
                surface,
                *location,
                1.0,
                1.0,
                Kind::Unspecified,
            ));
        }
        let mut framebuffer = renderer.bind(&mut output.buffer)?;
        output
            .damage
            .render_output(&mut renderer, &mut framebuffer, age, &elements, BACKGROUND)
            .map_err(|e| match e {
                smithay::backend::renderer::damage::Error::Rendering(e) => e,
                other => panic!("damage tracker: {other:?}"),
            })?;
        if output.read_fourcc != Fourcc::Abgr8888 {
            drop(framebuffer);
            drop(renderer);
            return self.read_half_floats(output);
        }
        let region = Rectangle::from_size((output.size.w, output.size.h).into());
        let mapping = renderer.copy_framebuffer(&framebuffer, region, output.read_fourcc)?;
        Ok(renderer.map_texture(&mapping)?.to_vec())
    }

    /// Reads a deep output back as half-float RGBA with GL itself (smithay 0.7's
    /// `map_texture` maps 4 bytes per pixel only).
    fn read_half_floats(&mut self, output: &mut Output) -> Result<Vec<u8>, TandemError> {
        use smithay::backend::renderer::gles::ffi;
        use smithay::backend::renderer::{Frame, Renderer};

        let gpu = self.state.gpus.gpu(output.target_gpu)?;
        let id = gpu.id();
        let gles = |source| TandemError::Gles { gpu: id, source };
        let renderer = gpu.renderer();
        let (w, h) = (output.size.w, output.size.h);
        let mut pixels = vec![0u8; (w * h * 8) as usize];
        let mut target = renderer.bind(&mut output.buffer).map_err(gles)?;
        let mut frame = renderer
            .render(&mut target, output.size, Transform::Normal)
            .map_err(gles)?;
        let error = frame
            .with_context(|gl| {
                // SAFETY: the output's framebuffer is bound; `pixels` holds w*h RGBA half floats.
                unsafe {
                    gl.PixelStorei(ffi::PACK_ALIGNMENT, 4);
                    gl.ReadPixels(
                        0,
                        0,
                        w,
                        h,
                        ffi::RGBA,
                        ffi::HALF_FLOAT,
                        pixels.as_mut_ptr().cast(),
                    );
                    gl.GetError()
                }
            })
            .map_err(gles)?;
        let _ = frame.finish().map_err(gles)?;
        assert_eq!(error, ffi::NO_ERROR, "reading the deep output back");
        Ok(pixels)
    }
}

/// The output background (RGBA floats).
pub const BACKGROUND: [f32; 4] = [0.0, 0.0, 0.0, 1.0];
