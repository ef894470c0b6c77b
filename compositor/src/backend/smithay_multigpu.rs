//! smithay 0.7's own multi-GPU renderer (`GpuManager<GbmGlesBackend>`) drawing the headless
//! backend's outputs on DRM devices: the baseline `seed-compare` measures Tandem against.
//!
//! `Headless` owns one when its texture mode is `SmithayMultigpu`, and calls
//! [`SmithayMultiGpu::render_output`] for each output instead of Tandem's `render_output`. The
//! output is drawn by its own GPU (`single_renderer`), so a window whose buffer another GPU
//! allocated is imported there and copied across by smithay's multigpu module. Nothing of
//! Tandem's texture layer is involved; the server (globals, shell, sockets) is the same.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use smithay::backend::allocator::dmabuf::{AsDmabuf, Dmabuf};
use smithay::backend::allocator::gbm::{GbmAllocator, GbmBufferFlags};
use smithay::backend::allocator::{Allocator, Fourcc, Modifier};
use smithay::backend::drm::{DrmDeviceFd, DrmNode};
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::gles::GlesRenderer;
use smithay::backend::renderer::multigpu::gbm::GbmGlesBackend;
use smithay::backend::renderer::multigpu::GpuManager;
use smithay::backend::renderer::{Bind, Renderer};
use tandem::GpuId;

use super::drm_gpus::{gbm_device, DrmGpu};
use crate::render::{send_frame_callbacks, BACKGROUND};
use crate::state::{OutputInfo, State};

type Api = GbmGlesBackend<GlesRenderer, DrmDeviceFd>;

pub struct SmithayMultiGpu {
    gpus: GpuManager<Api>,
    nodes: Vec<DrmNode>,
    /// Each device's allocator for the outputs' buffers (scanout-capable, as a TTY's are).
    allocators: HashMap<DrmNode, GbmAllocator<DrmDeviceFd>>,
    /// Each output's buffer, by output name.
    buffers: HashMap<String, Dmabuf>,
}

impl SmithayMultiGpu {
    /// Gives smithay a GBM device of its own on each device's node that draws.
    pub fn open(devices: &[DrmGpu]) -> Result<SmithayMultiGpu, String> {
        let mut api = Api::default();
        let mut allocators = HashMap::new();
        for device in devices {
            let gbm = gbm_device(&device.draws_through)?;
            allocators.insert(
                device.node,
                GbmAllocator::new(gbm.clone(), GbmBufferFlags::RENDERING),
            );
            api.add_node(device.node, gbm)
                .map_err(|e| format!("smithay's GbmGlesBackend on {}: {e}", device.node))?;
        }
        let gpus = GpuManager::new(api).map_err(|e| format!("smithay's GpuManager: {e}"))?;
        Ok(SmithayMultiGpu {
            gpus,
            nodes: devices.iter().map(|d| d.node).collect(),
            allocators,
            buffers: HashMap::new(),
        })
    }

    /// Draws `info`'s output on its own GPU with smithay's MultiRenderer, waits for the frame
    /// to finish and sends frame callbacks. Returns how long the surface imports took (where
    /// smithay copies buffers of other GPUs).
    pub fn render_output(
        &mut self,
        state: &mut State,
        info: &OutputInfo,
        damage: &mut OutputDamageTracker,
    ) -> Result<Duration, String> {
        let GpuId::Drm(node) = info.target else {
            return Err(format!("{} is not a DRM device", info.target));
        };
        let name = info.output.name();
        let size = info
            .output
            .current_mode()
            .map(|mode| mode.size)
            .ok_or("the output has no mode")?;
        if !self.buffers.contains_key(&name) {
            let allocator = self
                .allocators
                .get_mut(&node)
                .ok_or_else(|| format!("{node} was not opened for smithay"))?;
            let buffer = allocator
                .create_buffer(
                    size.w as u32,
                    size.h as u32,
                    Fourcc::Xrgb8888,
                    &[Modifier::Linear],
                )
                .map_err(|e| format!("output buffer on {node}: {e}"))?
                .export()
                .map_err(|e| format!("output buffer on {node}: {e}"))?;
            self.buffers.insert(name.clone(), buffer);
        }
        let buffer = self.buffers.get_mut(&name).ok_or("no output buffer")?;
        let input_popups = crate::protocols::input_method::popup_places(state);
        let mut renderer = self
            .gpus
            .single_renderer(&node)
            .map_err(|e| format!("smithay's MultiRenderer on {node}: {e}"))?;
        let started = Instant::now();
        let elements = crate::shell::window::render_elements(
            &state.space,
            state.xwayland.as_ref(),
            &state.session_lock,
            &input_popups,
            &mut renderer,
            &info.output,
        );
        let imports = started.elapsed();
        let mut framebuffer = renderer.bind(buffer).map_err(|e| e.to_string())?;
        let rendered = damage
            .render_output(&mut renderer, &mut framebuffer, 1, &elements, BACKGROUND)
            .map_err(|e| format!("{e:?}"))?;
        drop(framebuffer);
        let _ = rendered.sync.wait();
        send_frame_callbacks(state, info);
        Ok(imports)
    }

    /// Frees the deferred GL deletes of every device's renderer (smithay frees them only when
    /// asked, or when a framebuffer is unbound). Called every frame, drawn or not, as Tandem's
    /// cleanup is.
    pub fn cleanup(&mut self) -> Result<(), String> {
        for node in self.nodes.clone() {
            self.gpus
                .single_renderer(&node)
                .map_err(|e| e.to_string())?
                .cleanup_texture_cache()
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Waits until every device's context has finished its work (glFinish).
    pub fn finish(&mut self) -> Result<(), String> {
        for node in self.nodes.clone() {
            let mut renderer = self
                .gpus
                .single_renderer(&node)
                .map_err(|e| e.to_string())?;
            renderer
                .as_mut()
                .with_context(|gl| {
                    // SAFETY: glFinish only waits for the current context's commands.
                    unsafe { gl.Finish() }
                })
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Live GL texture names in each device's context, by node.
    pub fn live_texture_names(&mut self) -> Result<Vec<(String, u64)>, String> {
        let mut names = Vec::new();
        for node in self.nodes.clone() {
            let mut renderer = self
                .gpus
                .single_renderer(&node)
                .map_err(|e| e.to_string())?;
            let count = tandem::diagnostics::live_texture_names(renderer.as_mut())
                .map_err(|e| e.to_string())?;
            names.push((node.to_string(), count as u64));
        }
        Ok(names)
    }
}
