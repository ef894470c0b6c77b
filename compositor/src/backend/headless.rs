//! The headless backend: virtual outputs, each driven by one GPU, rendered offscreen through
//! Tandem at the output's refresh rate.
//!
//! `Headless::start` builds the server and the outputs; `run_until` drives them. Each frame
//! renders every output on its GPU, sends frame callbacks, and calls `GpuManager::cleanup` so
//! freed textures go away even when no client draws. The GPUs are software ones, or the DRM
//! devices `drm_devices` names (`drm_gpus`); on those, `TextureMode::SmithayMultigpu` draws with
//! smithay's own multi-GPU renderer instead of Tandem (`smithay_multigpu`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::Offscreen;
use smithay::output::{Mode as OutputMode, Output, PhysicalProperties, Subpixel};
use smithay::utils::{Physical, Size, Transform};
use tandem::{GpuId, GpuManager, Quirks, TandemError};

use super::smithay_multigpu::SmithayMultiGpu;
use crate::ipc::messages::{Reply, Request};
use crate::monitor::MonitorId;
use crate::render::{render_output, render_output_stock};
use crate::server::{Server, StartError};
use crate::state::{OutputInfo, State};

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

/// How outputs are placed in the global space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// Side by side, left to right.
    Row,
    /// All at the origin: every window is shown by every output (and so on every GPU).
    Mirror,
}

/// How surfaces reach the GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TextureMode {
    /// Through Tandem's MultiRenderer.
    Tandem,
    /// Each output's GPU imports with smithay's stock GlesRenderer (the baseline).
    Smithay,
    /// Nothing is imported or drawn; clients still get frame callbacks. A control run that
    /// measures the compositor's own per-surface memory.
    None,
    /// smithay 0.7's own multi-GPU renderer (`GpuManager<GbmGlesBackend>`); DRM devices only.
    SmithayMultigpu,
}

/// What the headless backend is asked to do.
#[derive(Debug, Clone)]
pub struct HeadlessOptions {
    pub gpus: usize,
    pub outputs: Vec<OutputSpec>,
    pub layout: Layout,
    pub refresh_hz: u32,
    pub screenshot_dir: Option<PathBuf>,
    pub terminal: Vec<String>,
    /// May GPUs import dmabufs another GPU allocated?
    pub foreign_dmabuf_imports: bool,
    pub textures: TextureMode,
    /// The GPU (index) that draws every output, as one render GPU does on a TTY; outputs of
    /// other GPUs are then fed from it. `None`: each output is drawn by its own GPU.
    pub render_gpu: Option<usize>,
    /// DRM device nodes to use as the GPUs, in order, instead of `gpus` software ones.
    pub drm_devices: Vec<PathBuf>,
}

struct HeadlessOutput {
    info: OutputInfo,
    /// What the output is drawn into; none while its screen is off (`screens`).
    buffer: Option<Dmabuf>,
    damage: OutputDamageTracker,
    /// The mode size, scale and transform the buffer and damage tracker were made for.
    made_for: (Size<i32, Physical>, f64, Transform),
}

/// What an output's buffer and damage tracker depend on.
fn output_shape(output: &Output) -> (Size<i32, Physical>, f64, Transform) {
    (
        output
            .current_mode()
            .map(|mode| mode.size)
            .unwrap_or_default(),
        output.current_scale().fractional_scale(),
        output.current_transform(),
    )
}

pub struct Headless {
    pub server: Server,
    outputs: Vec<HeadlessOutput>,
    screenshot_dir: Option<PathBuf>,
    refresh_hz: u32,
    textures: TextureMode,
    frames: u64,
    /// Duration of every frame rendered so far.
    pub frame_times: Vec<Duration>,
    layout: Layout,
    /// The number the next output added over IPC is named by (HEADLESS-N).
    next_output: usize,
    /// smithay's multi-GPU renderer, in `TextureMode::SmithayMultigpu`.
    smithay_multigpu: Option<SmithayMultiGpu>,
    /// While set, frames draw no output (deferred deletes are still freed).
    pub rendering_paused: bool,
    /// How long each drawn output's surface imports took (cross-GPU copies happen there), kept
    /// while `record_import_times` is set.
    pub import_times: Vec<Duration>,
    pub record_import_times: bool,
}

impl Headless {
    pub fn start(options: &HeadlessOptions) -> Result<Headless, StartError> {
        let quirks = Quirks {
            imports_foreign_dmabufs: options.foreign_dmabuf_imports,
            ..Quirks::default()
        };
        let mut gpus = GpuManager::new();
        let mut drm = Vec::new();
        for path in &options.drm_devices {
            let (gpu, device) = super::drm_gpus::open(path, quirks).map_err(StartError::Backend)?;
            gpus.add_gpu(gpu);
            drm.push(device);
        }
        if options.drm_devices.is_empty() {
            for _ in 0..options.gpus.max(1) {
                gpus.add_software_gpu(quirks)?;
            }
        }
        let smithay_multigpu = match options.textures {
            TextureMode::SmithayMultigpu if drm.is_empty() => {
                return Err(StartError::Backend(
                    "smithay's multi-GPU renderer needs DRM devices (--drm-device)".into(),
                ))
            }
            TextureMode::SmithayMultigpu => {
                Some(SmithayMultiGpu::open(&drm).map_err(StartError::Backend)?)
            }
            _ => None,
        };
        let gpu_ids = gpus.gpu_ids();
        let mut server = Server::new(gpus, options.terminal.clone())?;
        server.state.new_gpu_quirks = quirks;
        server.state.virtual_outputs = true;
        let specs: Vec<OutputSpec> = if options.outputs.is_empty() {
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
        let mut x = 0;
        for (index, spec) in specs.iter().enumerate() {
            let gpu_index = spec.gpu.unwrap_or(index % gpu_ids.len());
            let gpu = *gpu_ids.get(gpu_index).ok_or(StartError::NoSuchGpu {
                index,
                gpu: gpu_index,
                gpus: gpu_ids.len(),
            })?;
            let location = match options.layout {
                Layout::Row => (x, 0),
                Layout::Mirror => (0, 0),
            };
            x += spec.size.0;
            let render = match options.render_gpu {
                Some(render_index) => *gpu_ids.get(render_index).ok_or(StartError::NoSuchGpu {
                    index,
                    gpu: render_index,
                    gpus: gpu_ids.len(),
                })?,
                None => gpu,
            };
            let output = new_output(
                &mut server,
                index,
                (render, gpu),
                spec.size,
                location,
                options.refresh_hz,
                None,
            )?;
            tracing::info!(output = %output.info.output.name(), %gpu, size = ?spec.size, ?location, "output ready");
            outputs.push(output);
        }
        Ok(Headless {
            server,
            outputs,
            screenshot_dir: options.screenshot_dir.clone(),
            refresh_hz: options.refresh_hz.max(1),
            textures: options.textures,
            frames: 0,
            frame_times: Vec::new(),
            layout: options.layout,
            next_output: specs.len(),
            smithay_multigpu,
            rendering_paused: false,
            import_times: Vec::new(),
            record_import_times: false,
        })
    }

    /// Adds a virtual output of `size` drawn by the GPU whose id is `gpu` (the first GPU when
    /// `None`), placed as the layout says; returns its name.
    fn add_output(
        &mut self,
        size: (i32, i32),
        gpu: Option<&str>,
        serial: Option<&str>,
    ) -> Result<String, String> {
        if !(1..=16384).contains(&size.0) || !(1..=16384).contains(&size.1) {
            return Err(format!(
                "output size out of range (1..=16384): {}x{}",
                size.0, size.1
            ));
        }
        let ids = self.server.state.gpus.gpu_ids();
        let gpu = match gpu {
            Some(wanted) => *ids
                .iter()
                .find(|id| id.to_string() == wanted)
                .ok_or_else(|| format!("no GPU {wanted}; see msg gpus"))?,
            None => *ids.first().ok_or("no GPU left")?,
        };
        let location = match self.layout {
            Layout::Row => {
                let state = &self.server.state;
                let right = state
                    .space
                    .outputs()
                    .filter_map(|o| state.space.output_geometry(o))
                    .map(|g| g.loc.x + g.size.w)
                    .max()
                    .unwrap_or(0);
                (right, 0)
            }
            Layout::Mirror => (0, 0),
        };
        let refresh = self.refresh_hz;
        let output = new_output(
            &mut self.server,
            self.next_output,
            (gpu, gpu),
            size,
            location,
            refresh,
            serial,
        )
        .map_err(|e| e.to_string())?;
        self.next_output += 1;
        let name = output.info.output.name();
        tracing::info!(output = %name, %gpu, ?size, ?location, "output added over IPC");
        self.outputs.push(output);
        Ok(name)
    }

    /// Removes the virtual output `name`: its global, its place in the space and whatever
    /// Tandem held for it.
    fn remove_output(&mut self, name: &str) -> Result<(), String> {
        let index = self
            .outputs
            .iter()
            .position(|o| o.info.output.name() == name)
            .ok_or_else(|| format!("no output {name}; see msg outputs"))?;
        let output = self.outputs.remove(index);
        let state = &mut self.server.state;
        state
            .display
            .remove_global::<crate::state::State>(output.info.global.clone());
        crate::shell::layer::output_removed(&output.info.output);
        state.space.unmap_output(&output.info.output);
        state.outputs.remove(&output.info.output);
        state.gpus.remove_output(name);
        crate::capture::forget_output(state, name);
        tracing::info!(output = %name, "output removed over IPC");
        Ok(())
    }
}

impl super::Backend for Headless {
    fn server(&mut self) -> &mut Server {
        &mut self.server
    }

    fn apply(&mut self, request: &Request) -> Reply {
        let result = match request {
            Request::OutputAdd {
                width,
                height,
                gpu,
                serial,
            } => self
                .add_output((*width, *height), gpu.as_deref(), serial.as_deref())
                .map(|name| Reply::OutputAdded { name }),
            Request::OutputRemove { name } => self.remove_output(name).map(|()| Reply::Ok),
            _ => Err("not a backend request".into()),
        };
        result.unwrap_or_else(|message| Reply::Error { message })
    }

    fn run_until(&mut self, stop: &mut dyn FnMut(&mut Server) -> bool) {
        let frame_time = Duration::from_secs_f64(1.0 / self.refresh_hz as f64);
        let mut next_frame = Instant::now();
        while self.server.state.running && !stop(&mut self.server) {
            let timeout = next_frame.saturating_duration_since(Instant::now());
            if let Err(err) = self.server.dispatch(timeout) {
                tracing::error!(%err, "event loop failed");
                break;
            }
            self.answer_requests();
            if Instant::now() >= next_frame {
                self.frame();
                next_frame += frame_time;
                if next_frame < Instant::now() {
                    next_frame = Instant::now() + frame_time;
                }
            }
        }
    }

    fn frame(&mut self) {
        let _span = tracing::trace_span!("frame", n = self.frames).entered();
        let started = Instant::now();
        let screenshot = self.screenshot_dir.is_some() && self.frames.is_multiple_of(60);
        self.render_all(screenshot);
        let cleaned = match self.smithay_multigpu.as_mut() {
            Some(smithay) => smithay.cleanup(),
            None => self
                .server
                .state
                .gpus
                .cleanup()
                .map(drop)
                .map_err(|e| e.to_string()),
        };
        if let Err(err) = cleaned {
            tracing::warn!(%err, "cleanup failed");
        }
        self.frame_times.push(started.elapsed());
        self.frames += 1;
    }

    fn screenshot_all(&mut self) {
        self.render_all(self.screenshot_dir.is_some());
    }

    fn stop_screenshots(&mut self) {
        self.screenshot_dir = None;
    }
}

impl Headless {
    fn render_all(&mut self, read_back: bool) {
        if self.rendering_paused {
            return;
        }
        for index in 0..self.outputs.len() {
            let output = &mut self.outputs[index];
            // An output whose GPU was removed is now drawn by another one.
            if let Some(info) = self.server.state.outputs.get(&output.info.output) {
                if info.render != output.info.render {
                    output.info = info.clone();
                    output.damage = OutputDamageTracker::from_output(&output.info.output);
                }
            }
            // Turned off (wlr-output-management): not drawn, its clients get no frames.
            if self
                .server
                .state
                .space
                .output_geometry(&output.info.output)
                .is_none()
            {
                continue;
            }
            let powered = self
                .server
                .state
                .outputs
                .get(&output.info.output)
                .is_some_and(|info| info.powered);
            if !powered {
                if output.buffer.take().is_some() {
                    tracing::debug!(output = %output.info.output.name(), "screen off: buffer released");
                }
                continue;
            }
            if let Err(err) = reshape(&mut self.server.state, output) {
                tracing::warn!(%err, output = index, "the output's new mode has no buffer");
                continue;
            }
            let Some(buffer) = output.buffer.as_mut() else {
                continue;
            };
            if self.textures == TextureMode::None {
                crate::render::send_frame_callbacks(&self.server.state, &output.info);
                continue;
            }
            if self.textures == TextureMode::Smithay {
                let state = &mut self.server.state;
                let result =
                    render_output_stock(state, &output.info, buffer, &mut output.damage, 1);
                if let Err(err) = result {
                    tracing::warn!(%err, output = index, "rendering failed");
                }
                continue;
            }
            if let Some(smithay) = self.smithay_multigpu.as_mut() {
                let state = &mut self.server.state;
                match smithay.render_output(state, &output.info, &mut output.damage) {
                    Ok(imports) if self.record_import_times => self.import_times.push(imports),
                    Ok(_) => {}
                    Err(err) => tracing::warn!(%err, output = index, "rendering failed"),
                }
                continue;
            }
            let result = render_output(
                &mut self.server.state,
                &output.info,
                buffer,
                &mut output.damage,
                1,
                read_back,
            );
            if result.is_ok() {
                let name = self.outputs[index].info.output.name();
                self.server.state.count_frame(&name);
                if self.record_import_times {
                    self.import_times.push(self.server.state.last_imports);
                }
            }
            match result {
                Ok(Some(pixels)) => self.write_screenshot(index, &pixels),
                Ok(None) => {}
                Err(err) => tracing::warn!(%err, output = index, "rendering failed"),
            }
        }
    }

    /// Waits until every GPU context of the library drawing the outputs has finished its work
    /// (glFinish), so that a frame's time includes what the GPUs did for it.
    pub fn finish_gpus(&mut self) -> Result<(), String> {
        if let Some(smithay) = self.smithay_multigpu.as_mut() {
            return smithay.finish();
        }
        let gpus = &mut self.server.state.gpus;
        for id in gpus.gpu_ids() {
            let gpu = gpus.gpu(id).map_err(|e| e.to_string())?;
            gpu.renderer()
                .with_context(|gl| {
                    // SAFETY: glFinish only waits for the current context's commands.
                    unsafe { gl.Finish() }
                })
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Live GL texture names per GPU context of the library drawing the outputs.
    pub fn live_texture_names(&mut self) -> Result<Vec<(String, u64)>, String> {
        if let Some(smithay) = self.smithay_multigpu.as_mut() {
            return smithay.live_texture_names();
        }
        let gpus = &mut self.server.state.gpus;
        let mut names = Vec::new();
        for id in gpus.gpu_ids() {
            let count = gpus.live_texture_names(id).map_err(|e| e.to_string())?;
            names.push((id.to_string(), count as u64));
        }
        Ok(names)
    }

    fn write_screenshot(&self, index: usize, rgba: &[u8]) {
        let Some(dir) = &self.screenshot_dir else {
            return;
        };
        let Some(buffer) = &self.outputs[index].buffer else {
            return;
        };
        let size = smithay::backend::allocator::Buffer::size(buffer);
        let path = dir.join(format!("output-{index}.png"));
        if let Err(err) = crate::screenshot::write_png(&path, size.w as u32, size.h as u32, rgba) {
            tracing::warn!(%err, path = %path.display(), "could not write screenshot");
        }
    }
}

/// Makes `output`'s buffer and damage tracker fit its mode, scale and transform again after
/// they changed (wlr-output-management), and gives it a buffer again after its screen was off.
fn reshape(state: &mut State, output: &mut HeadlessOutput) -> Result<(), TandemError> {
    let shape = output_shape(&output.info.output);
    if shape == output.made_for && output.buffer.is_some() {
        return Ok(());
    }
    let fits = output.buffer.as_ref().is_some_and(|buffer| {
        let size = smithay::backend::allocator::Buffer::size(buffer);
        (size.w, size.h) == (shape.0.w, shape.0.h)
    });
    if !fits {
        output.buffer = None;
        output.buffer = Some(
            state
                .gpus
                .renderer(output.info.target)?
                .create_buffer(Fourcc::Xrgb8888, (shape.0.w, shape.0.h).into())?,
        );
    }
    output.damage = OutputDamageTracker::from_output(&output.info.output);
    output.made_for = shape;
    Ok(())
}

/// A virtual output whose buffers live on `gpus.1`, drawn by `gpus.0`; its monitor's serial
/// is `serial`, or its name.
fn new_output(
    server: &mut Server,
    index: usize,
    gpus: (GpuId, GpuId),
    size: (i32, i32),
    location: (i32, i32),
    refresh_hz: u32,
    serial: Option<&str>,
) -> Result<HeadlessOutput, StartError> {
    let state = &mut server.state;
    let (render, gpu) = gpus;
    let name = format!("HEADLESS-{}", index + 1);
    let monitor = MonitorId {
        make: "Tandem".into(),
        model: format!("virtual on {gpu}"),
        serial: serial.map_or_else(|| name.clone(), str::to_owned),
    };
    let output = Output::new(
        name,
        PhysicalProperties {
            // As if the panel had 96 dots per inch.
            size: (size.0 * 254 / 960, size.1 * 254 / 960).into(),
            subpixel: Subpixel::Unknown,
            make: monitor.make.clone(),
            model: monitor.model.clone(),
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
        Some(location.into()),
    );
    output.set_preferred(mode);
    let global = output.create_global::<crate::state::State>(&state.display);
    state.space.map_output(&output, location);
    let buffer: Dmabuf = state
        .gpus
        .renderer(gpu)?
        .create_buffer(Fourcc::Xrgb8888, size.into())?;
    let info = OutputInfo {
        output,
        render,
        target: gpu,
        global,
        powered: true,
        monitor,
    };
    state.outputs.add(info.clone());
    let made_for = output_shape(&info.output);
    Ok(HeadlessOutput {
        info,
        buffer: Some(buffer),
        damage: OutputDamageTracker::new(size, 1.0, Transform::Normal),
        made_for,
    })
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
