//! The winit backend: the compositor in a window on another display, for development.
//!
//! Tandem renders the output on software GPU 0 (plus any extra GPUs for clients on their own
//! sockets); the host window's EGL context is the presenter: each frame's pixels are read back
//! on GPU 0 and uploaded into the host's texture, which is drawn into the window. Input from
//! the window goes to the seat.

use std::time::{Duration, Instant};

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::gles::{GlesRenderer, GlesTexture};
use smithay::backend::renderer::{Color32F, Frame, ImportMem, Offscreen, Renderer};
use smithay::backend::winit::{self, WinitEvent, WinitGraphicsBackend};
use smithay::output::{Mode as OutputMode, Output, PhysicalProperties, Subpixel};
use smithay::reexports::winit::platform::pump_events::PumpStatus;
use smithay::utils::{Rectangle, Size, Transform};
use tandem::{GpuManager, Quirks};

use crate::input::{handle_input, Action};
use crate::render::render_output;
use crate::server::{Server, StartError};
use crate::state::OutputInfo;

pub struct WinitOptions {
    pub gpus: usize,
    pub terminal: Vec<String>,
}

struct Presenter {
    backend: WinitGraphicsBackend<GlesRenderer>,
    texture: Option<GlesTexture>,
}

pub struct Nested {
    pub server: Server,
    presenter: Presenter,
    winit: winit::WinitEventLoop,
    info: OutputInfo,
    buffer: Dmabuf,
    damage: OutputDamageTracker,
    size: Size<i32, smithay::utils::Physical>,
}

impl Nested {
    pub fn start(options: &WinitOptions) -> Result<Nested, StartError> {
        let (backend, winit) = winit::init::<GlesRenderer>().map_err(|e| {
            StartError::Backend(format!(
                "cannot open a window (is DISPLAY or WAYLAND_DISPLAY a running display?): {e}"
            ))
        })?;
        let mut gpus = GpuManager::new();
        for _ in 0..options.gpus.max(1) {
            gpus.add_software_gpu(Quirks::default())?;
        }
        let gpu = gpus.gpu_ids()[0];
        let mut server = Server::new(gpus, options.terminal.clone())?;
        let size = backend.window_size();
        let output = Output::new(
            "WINIT-1".into(),
            PhysicalProperties {
                size: (0, 0).into(),
                subpixel: Subpixel::Unknown,
                make: "Tandem".into(),
                model: "nested".into(),
            },
        );
        let mode = OutputMode {
            size,
            refresh: 60_000,
        };
        output.change_current_state(
            Some(mode),
            Some(Transform::Normal),
            None,
            Some((0, 0).into()),
        );
        output.set_preferred(mode);
        let global = output.create_global::<crate::state::State>(&server.state.display);
        server.state.space.map_output(&output, (0, 0));
        let info = OutputInfo {
            output,
            render: gpu,
            target: gpu,
            global,
            powered: true,
            monitor: crate::monitor::MonitorId {
                make: "Tandem".into(),
                model: "nested".into(),
                serial: String::new(),
            },
        };
        server.state.outputs.add(info.clone());
        let buffer: Dmabuf = server
            .state
            .gpus
            .renderer(gpu)?
            .create_buffer(Fourcc::Xrgb8888, (size.w, size.h).into())?;
        tracing::info!(?size, %gpu, "nested window ready");
        Ok(Nested {
            server,
            presenter: Presenter {
                backend,
                texture: None,
            },
            winit,
            info,
            buffer,
            damage: OutputDamageTracker::new(size, 1.0, Transform::Normal),
            size,
        })
    }
}

impl super::Backend for Nested {
    fn server(&mut self) -> &mut Server {
        &mut self.server
    }

    fn run_until(&mut self, stop: &mut dyn FnMut(&mut Server) -> bool) {
        let frame_time = Duration::from_millis(16);
        let mut next_frame = Instant::now();
        while self.server.state.running && !stop(&mut self.server) {
            let mut actions = Vec::new();
            let mut resized = None;
            let state = &mut self.server.state;
            let logical = (self.size.w, self.size.h).into();
            let status = self.winit.dispatch_new_events(|event| match event {
                WinitEvent::Resized { size, .. } => resized = Some(size),
                WinitEvent::Input(event) => actions.extend(handle_input(state, event, logical)),
                WinitEvent::CloseRequested => state.running = false,
                _ => {}
            });
            if let PumpStatus::Exit(_) = status {
                self.server.state.running = false;
            }
            if let Some(size) = resized {
                self.resize(size);
            }
            for action in actions {
                self.act(action);
            }
            let timeout = next_frame.saturating_duration_since(Instant::now());
            if let Err(err) = self.server.dispatch(timeout) {
                tracing::error!(%err, "event loop failed");
                break;
            }
            self.answer_requests();
            if Instant::now() >= next_frame {
                super::Backend::frame(self);
                next_frame = Instant::now() + frame_time;
            }
        }
    }

    fn frame(&mut self) {
        // A screen that is off (`screens`) is not drawn; the window keeps its last frame.
        let powered = self
            .server
            .state
            .outputs
            .get(&self.info.output)
            .is_none_or(|info| info.powered);
        if !powered {
            return;
        }
        if let Err(err) = self.present() {
            tracing::warn!(%err, "frame failed");
        }
    }

    fn screenshot_all(&mut self) {}
}

impl Nested {
    fn act(&mut self, action: Action) {
        match action {
            // A nested compositor has no VT of its own.
            Action::SwitchVt(_) => {}
        }
    }

    fn resize(&mut self, size: Size<i32, smithay::utils::Physical>) {
        if size == self.size || size.w <= 0 || size.h <= 0 {
            return;
        }
        let mode = OutputMode {
            size,
            refresh: 60_000,
        };
        self.info
            .output
            .change_current_state(Some(mode), None, None, None);
        self.info.output.set_preferred(mode);
        match self
            .server
            .state
            .gpus
            .renderer(self.info.render)
            .and_then(|mut r| {
                Offscreen::<Dmabuf>::create_buffer(
                    &mut r,
                    Fourcc::Xrgb8888,
                    (size.w, size.h).into(),
                )
            }) {
            Ok(buffer) => {
                self.buffer = buffer;
                self.damage = OutputDamageTracker::new(size, 1.0, Transform::Normal);
                self.size = size;
                self.presenter.texture = None;
            }
            Err(err) => tracing::warn!(%err, "could not resize the output"),
        }
    }

    /// Renders the output through Tandem and shows it in the window.
    fn present(&mut self) -> Result<(), String> {
        // Another GPU may draw the output now (`gpu::render_choice`); every frame is drawn whole.
        if let Some(info) = self.server.state.outputs.get(&self.info.output) {
            if info.render != self.info.render {
                self.info = info.clone();
            }
        }
        let pixels = render_output(
            &mut self.server.state,
            &self.info,
            &mut self.buffer,
            &mut self.damage,
            0,
            true,
        )
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
        self.server
            .state
            .gpus
            .cleanup()
            .map_err(|e| e.to_string())?;
        self.presenter.show(&pixels, self.size)
    }
}

impl Presenter {
    fn show(
        &mut self,
        rgba: &[u8],
        size: Size<i32, smithay::utils::Physical>,
    ) -> Result<(), String> {
        let buffer_size = (size.w, size.h).into();
        let renderer = self.backend.renderer();
        match &self.texture {
            Some(texture) => renderer
                .update_memory(texture, rgba, Rectangle::from_size(buffer_size))
                .map_err(|e| e.to_string())?,
            None => {
                self.texture = Some(
                    renderer
                        .import_memory(rgba, Fourcc::Abgr8888, buffer_size, false)
                        .map_err(|e| e.to_string())?,
                )
            }
        }
        let Some(texture) = self.texture.clone() else {
            return Ok(());
        };
        let full = Rectangle::from_size(size);
        {
            let (renderer, mut framebuffer) = self.backend.bind().map_err(|e| e.to_string())?;
            let mut frame = renderer
                .render(&mut framebuffer, size, Transform::Flipped180)
                .map_err(|e| e.to_string())?;
            frame
                .clear(Color32F::BLACK, &[full])
                .map_err(|e| e.to_string())?;
            Frame::render_texture_at(
                &mut frame,
                &texture,
                (0, 0).into(),
                1,
                1.0,
                Transform::Normal,
                &[full],
                &[],
                1.0,
            )
            .map_err(|e| e.to_string())?;
            let sync = frame.finish().map_err(|e| e.to_string())?;
            sync.wait()
                .map_err(|_| "waiting for the window's frame failed".to_string())?;
        }
        self.backend
            .submit(Some(&[full]))
            .map_err(|e| e.to_string())
    }
}
