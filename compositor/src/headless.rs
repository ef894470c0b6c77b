//! The headless backend: virtual outputs, each driven by one (software) GPU, rendered offscreen
//! through Tandem at the output's refresh rate.
//!
//! `Compositor::new` builds the event loop, the Wayland socket and the outputs; `run_until` drives
//! it. Each frame renders every output on its GPU, sends frame callbacks, and calls
//! `GpuManager::cleanup` so freed textures go away even when no client draws.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::{Format, Fourcc, Modifier};
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::element::surface::{
    render_elements_from_surface_tree, WaylandSurfaceRenderElement,
};
use smithay::backend::renderer::element::Kind;
use smithay::backend::renderer::utils::import_surface_tree;
use smithay::backend::renderer::{Bind, ExportMem, Offscreen};
use smithay::output::{Mode as OutputMode, Output, PhysicalProperties, Subpixel};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{EventLoop, Interest, Mode, PostAction};
use smithay::reexports::wayland_server::Display;
use smithay::utils::{Physical, Point, Rectangle, Size, Transform};
use smithay::wayland::compositor::{
    with_surface_tree_downward, SurfaceAttributes, TraversalAction,
};
use smithay::wayland::socket::ListeningSocketSource;
use tandem::{GpuId, GpuManager, MultiRenderer, Quirks};

use crate::state::{client_data, State};

/// Background colour of every output.
const BACKGROUND: [f32; 4] = [0.1, 0.1, 0.14, 1.0];

/// `WxH[@GPU]`: one virtual output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    pub size: (i32, i32),
    pub gpu: Option<usize>,
}

impl std::str::FromStr for OutputSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (size, gpu) = match text.split_once('@') {
            Some((size, gpu)) => (
                size,
                Some(
                    gpu.parse()
                        .map_err(|_| format!("bad GPU index in {text:?}"))?,
                ),
            ),
            None => (text, None),
        };
        let (w, h) = size
            .split_once('x')
            .ok_or_else(|| format!("expected WxH[@GPU], got {text:?}"))?;
        let parse = |v: &str| v.parse::<i32>().ok().filter(|v| (1..=16384).contains(v));
        match (parse(w), parse(h)) {
            (Some(w), Some(h)) => Ok(OutputSpec { size: (w, h), gpu }),
            _ => Err(format!("output size out of range (1..=16384) in {text:?}")),
        }
    }
}

/// What the headless backend is asked to do.
#[derive(Debug, Clone)]
pub struct HeadlessOptions {
    pub gpus: usize,
    pub outputs: Vec<OutputSpec>,
    pub refresh_hz: u32,
    pub screenshot_dir: Option<PathBuf>,
}

/// One virtual output.
pub struct HeadlessOutput {
    pub output: Output,
    pub gpu: GpuId,
    pub size: Size<i32, Physical>,
    buffer: Dmabuf,
    damage: OutputDamageTracker,
}

pub struct Compositor {
    pub event_loop: EventLoop<'static, State>,
    pub state: State,
    pub outputs: Vec<HeadlessOutput>,
    pub socket_name: String,
    screenshot_dir: Option<PathBuf>,
    frames: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("XDG_RUNTIME_DIR is not set: the Wayland socket has nowhere to go (set it to a private directory, e.g. /run/user/$UID)")]
    NoRuntimeDir,
    #[error("{0}")]
    Tandem(#[from] tandem::TandemError),
    #[error("Wayland: {0}")]
    Wayland(String),
    #[error("output {index} asks for GPU {gpu}, but only {gpus} GPUs exist")]
    NoSuchGpu {
        index: usize,
        gpu: usize,
        gpus: usize,
    },
}

impl Compositor {
    pub fn new(options: &HeadlessOptions) -> Result<Compositor, StartError> {
        if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
            return Err(StartError::NoRuntimeDir);
        }
        let mut gpus = GpuManager::new();
        for _ in 0..options.gpus.max(1) {
            gpus.add_software_gpu(Quirks::default())?;
        }
        let gpu_ids = gpus.gpu_ids();
        let event_loop: EventLoop<'static, State> =
            EventLoop::try_new().map_err(|e| StartError::Wayland(e.to_string()))?;
        let display: Display<State> =
            Display::new().map_err(|e| StartError::Wayland(e.to_string()))?;
        let display_handle = display.handle();
        let mut state = State::new(display_handle.clone(), gpus);

        let formats = [
            Fourcc::Argb8888,
            Fourcc::Xrgb8888,
            Fourcc::Abgr8888,
            Fourcc::Xbgr8888,
        ]
        .map(|code| Format {
            code,
            modifier: Modifier::Linear,
        });
        let global = state
            .dmabuf
            .create_global::<State>(&display_handle, formats);
        state.dmabuf_globals.push((global, gpu_ids[0]));

        let socket =
            ListeningSocketSource::new_auto().map_err(|e| StartError::Wayland(e.to_string()))?;
        let socket_name = socket.socket_name().to_string_lossy().into_owned();
        let handle = event_loop.handle();
        handle
            .insert_source(socket, |stream, _, state: &mut State| {
                if let Err(err) = state.display.insert_client(stream, client_data()) {
                    tracing::warn!(%err, "could not accept a client");
                }
            })
            .map_err(|e| StartError::Wayland(e.to_string()))?;
        handle
            .insert_source(
                Generic::new(display, Interest::READ, Mode::Level),
                |_, display, state: &mut State| {
                    // SAFETY: the display is not dropped while the event loop runs.
                    if let Err(err) = unsafe { display.get_mut().dispatch_clients(state) } {
                        tracing::warn!(%err, "dispatching clients failed");
                    }
                    Ok(PostAction::Continue)
                },
            )
            .map_err(|e| StartError::Wayland(e.to_string()))?;

        let specs = if options.outputs.is_empty() {
            (0..gpu_ids.len())
                .map(|gpu| OutputSpec {
                    size: (1280, 800),
                    gpu: Some(gpu),
                })
                .collect()
        } else {
            options.outputs.clone()
        };
        let mut outputs = Vec::new();
        for (index, spec) in specs.iter().enumerate() {
            let gpu_index = spec.gpu.unwrap_or(index % gpu_ids.len());
            let gpu = *gpu_ids.get(gpu_index).ok_or(StartError::NoSuchGpu {
                index,
                gpu: gpu_index,
                gpus: gpu_ids.len(),
            })?;
            let output = new_output(&mut state, index, gpu, spec.size, options.refresh_hz)?;
            tracing::info!(output = %output.output.name(), %gpu, size = ?spec.size, "output ready");
            outputs.push(output);
        }
        tracing::info!(socket = %socket_name, gpus = gpu_ids.len(), outputs = outputs.len(), "headless compositor ready");

        Ok(Compositor {
            event_loop,
            state,
            outputs,
            socket_name,
            screenshot_dir: options.screenshot_dir.clone(),
            frames: 0,
        })
    }

    /// Runs frames at `refresh_hz` until `stop` says so or the compositor is asked to quit.
    pub fn run_until(&mut self, refresh_hz: u32, mut stop: impl FnMut(&mut Compositor) -> bool) {
        let frame_time = Duration::from_secs_f64(1.0 / refresh_hz.max(1) as f64);
        let mut next_frame = Instant::now();
        while self.state.running && !stop(self) {
            let timeout = next_frame.saturating_duration_since(Instant::now());
            if let Err(err) = self.event_loop.dispatch(Some(timeout), &mut self.state) {
                tracing::error!(%err, "event loop failed");
                break;
            }
            if let Err(err) = self.state.display.flush_clients() {
                tracing::debug!(%err, "flushing clients");
            }
            if Instant::now() >= next_frame {
                self.frame();
                next_frame += frame_time;
                if next_frame < Instant::now() {
                    next_frame = Instant::now() + frame_time;
                }
            }
        }
    }

    /// Renders every output once, answers frame callbacks and frees deferred GL deletes.
    pub fn frame(&mut self) {
        let _span = tracing::trace_span!("frame", n = self.frames).entered();
        let screenshot = self.screenshot_dir.is_some() && self.frames % 60 == 0;
        for index in 0..self.outputs.len() {
            match render_output(&mut self.state, &mut self.outputs[index], screenshot) {
                Ok(Some(pixels)) => self.write_screenshot(index, &pixels),
                Ok(None) => {}
                Err(err) => tracing::warn!(%err, output = index, "rendering failed"),
            }
        }
        let time = self.state.clock_ms();
        for window in &self.state.windows {
            send_frame_callbacks(window.toplevel.wl_surface(), time);
        }
        if let Err(err) = self.state.gpus.cleanup() {
            tracing::warn!(%err, "cleanup failed");
        }
        self.frames += 1;
    }

    /// Writes the latest frame of every output as PNG into the screenshot directory.
    pub fn screenshot_all(&mut self) {
        for index in 0..self.outputs.len() {
            match render_output(&mut self.state, &mut self.outputs[index], true) {
                Ok(Some(pixels)) => self.write_screenshot(index, &pixels),
                Ok(None) => {}
                Err(err) => tracing::warn!(%err, "screenshot failed"),
            }
        }
    }

    fn write_screenshot(&self, index: usize, rgba: &[u8]) {
        let Some(dir) = &self.screenshot_dir else {
            return;
        };
        let size = self.outputs[index].size;
        let path = dir.join(format!("output-{index}.png"));
        if let Err(err) = crate::screenshot::write_png(&path, size.w as u32, size.h as u32, rgba) {
            tracing::warn!(%err, path = %path.display(), "could not write screenshot");
        }
    }
}

fn new_output(
    state: &mut State,
    index: usize,
    gpu: GpuId,
    size: (i32, i32),
    refresh_hz: u32,
) -> Result<HeadlessOutput, StartError> {
    let output = Output::new(
        format!("HEADLESS-{}", index + 1),
        PhysicalProperties {
            size: (0, 0).into(),
            subpixel: Subpixel::Unknown,
            make: "Tandem".into(),
            model: format!("virtual on {gpu}"),
        },
    );
    let mode = OutputMode {
        size: size.into(),
        refresh: refresh_hz as i32 * 1000,
    };
    output.change_current_state(
        Some(mode),
        Some(Transform::Normal),
        None,
        Some((0, 0).into()),
    );
    output.set_preferred(mode);
    output.create_global::<State>(&state.display);
    let buffer = state
        .gpus
        .renderer(gpu)?
        .create_buffer(Fourcc::Xrgb8888, size.into())?;
    Ok(HeadlessOutput {
        output,
        gpu,
        size: size.into(),
        buffer,
        damage: OutputDamageTracker::new(size, 1.0, Transform::Normal),
    })
}

/// Draws every window on `out`'s GPU; returns the frame's RGBA pixels when `read_back` is set.
fn render_output(
    state: &mut State,
    out: &mut HeadlessOutput,
    read_back: bool,
) -> Result<Option<Vec<u8>>, tandem::TandemError> {
    let origin: Point<i32, Physical> = (0, 0).into();
    let mut renderer: MultiRenderer<'_> = state.gpus.renderer(out.gpu)?;
    let mut elements: Vec<WaylandSurfaceRenderElement<MultiRenderer<'_>>> = Vec::new();
    for window in state.windows.iter().rev() {
        let surface = window.toplevel.wl_surface();
        if let Err(err) = import_surface_tree(&mut renderer, surface) {
            tracing::debug!(%err, "import failed; window skipped this frame");
            continue;
        }
        let location = window.location.to_physical(1) - origin;
        elements.extend(render_elements_from_surface_tree(
            &mut renderer,
            surface,
            location,
            1.0,
            1.0,
            Kind::Unspecified,
        ));
    }
    let mut framebuffer = renderer.bind(&mut out.buffer)?;
    out.damage
        .render_output(&mut renderer, &mut framebuffer, 1, &elements, BACKGROUND)
        .map_err(|err| match err {
            smithay::backend::renderer::damage::Error::Rendering(err) => err,
            smithay::backend::renderer::damage::Error::OutputNoMode(_) => {
                tandem::TandemError::NotImportedFor(out.gpu)
            }
        })?;
    if !read_back {
        return Ok(None);
    }
    let region = Rectangle::from_size((out.size.w, out.size.h).into());
    let mapping = renderer.copy_framebuffer(&framebuffer, region, Fourcc::Abgr8888)?;
    Ok(Some(renderer.map_texture(&mapping)?.to_vec()))
}

fn send_frame_callbacks(
    surface: &smithay::reexports::wayland_server::protocol::wl_surface::WlSurface,
    time: u32,
) {
    with_surface_tree_downward(
        surface,
        (),
        |_, _, _| TraversalAction::DoChildren(()),
        |_, states, _| {
            let callbacks: Vec<_> = states
                .cached_state
                .get::<SurfaceAttributes>()
                .current()
                .frame_callbacks
                .drain(..)
                .collect();
            for callback in callbacks {
                callback.done(time);
            }
        },
        |_, _, _| true,
    );
}

#[cfg(test)]
mod tests {
    use super::OutputSpec;

    #[test]
    fn output_specs_parse_and_reject_nonsense() {
        assert_eq!(
            "1280x800@1".parse::<OutputSpec>(),
            Ok(OutputSpec {
                size: (1280, 800),
                gpu: Some(1)
            })
        );
        assert_eq!(
            "64x48".parse::<OutputSpec>(),
            Ok(OutputSpec {
                size: (64, 48),
                gpu: None
            })
        );
        for bad in ["", "1280", "0x800", "1280x-1", "99999x10", "10x10@x", "axb"] {
            assert!(bad.parse::<OutputSpec>().is_err(), "{bad:?} was accepted");
        }
    }
}
