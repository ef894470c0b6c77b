//! The output registry: every output a backend shows, with the GPU that renders it and the GPU
//! whose buffers it scans out. The one place backends, IPC, parking and the GPU services read
//! outputs from.
//!
//! Backends [`add`](OutputRegistry::add) an output when they create it and
//! [`remove`](OutputRegistry::remove) it when it goes; moving rendering to another GPU changes
//! `render` in place ([`OutputRegistry::iter_mut`]), and each backend's per-output state picks it up
//! from here on its next frame.

use smithay::output::Output;
use smithay::reexports::wayland_server::backend::GlobalId;
use tandem::GpuId;

/// An output shown by a backend, and the GPUs behind it.
#[derive(Debug, Clone)]
pub struct OutputInfo {
    pub output: Output,
    /// GPU that renders the output.
    pub render: GpuId,
    /// GPU whose buffers the output scans out.
    pub target: GpuId,
    /// The output's wl_output global, removed when the output goes.
    pub global: GlobalId,
    /// The screen is on (`screens::set_power` turns it off and on; a backend shows nothing on
    /// an output that is off and holds no buffer for it).
    pub powered: bool,
    /// The monitor shown on it (make, model, serial), whatever connector it is on.
    pub monitor: crate::monitor::MonitorId,
}

/// Every output, in the order they were added.
#[derive(Debug, Default)]
pub struct OutputRegistry {
    outputs: Vec<OutputInfo>,
}

impl OutputRegistry {
    pub fn add(&mut self, info: OutputInfo) {
        self.outputs.push(info);
    }

    /// Takes `output` out of the registry, if it was in it (what captures keep for it goes
    /// with `capture::forget_output`).
    pub fn remove(&mut self, output: &Output) -> Option<OutputInfo> {
        let index = self.outputs.iter().position(|o| &o.output == output)?;
        Some(self.outputs.remove(index))
    }

    pub fn get(&self, output: &Output) -> Option<&OutputInfo> {
        self.outputs.iter().find(|o| &o.output == output)
    }

    pub fn get_mut(&mut self, output: &Output) -> Option<&mut OutputInfo> {
        self.outputs.iter_mut().find(|o| &o.output == output)
    }

    /// Is an output already called `name`?
    pub fn name_taken(&self, name: &str) -> bool {
        self.outputs.iter().any(|o| o.output.name() == name)
    }

    /// The output whose monitor is `monitor`, named as the configuration file names it.
    pub fn by_name_or_monitor(&self, name: &str) -> Option<&OutputInfo> {
        self.outputs
            .iter()
            .find(|o| o.output.name() == name || o.monitor.description() == name)
    }

    /// The first output added that is still here.
    pub fn first(&self) -> Option<&OutputInfo> {
        self.outputs.first()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, OutputInfo> {
        self.outputs.iter()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, OutputInfo> {
        self.outputs.iter_mut()
    }

    pub fn len(&self) -> usize {
        self.outputs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }
}

impl<'a> IntoIterator for &'a OutputRegistry {
    type Item = &'a OutputInfo;
    type IntoIter = std::slice::Iter<'a, OutputInfo>;

    fn into_iter(self) -> Self::IntoIter {
        self.outputs.iter()
    }
}

impl<'a> IntoIterator for &'a mut OutputRegistry {
    type Item = &'a mut OutputInfo;
    type IntoIter = std::slice::IterMut<'a, OutputInfo>;

    fn into_iter(self) -> Self::IntoIter {
        self.outputs.iter_mut()
    }
}
