//! Layer surfaces (wlr-layer-shell): bars, docks, launchers, backgrounds, lock screens and
//! notifications, each anchored to an output on one of four layers.
//!
//! Each output's smithay `LayerMap` (in the output's user data) owns its layer surfaces and
//! lays them out; this module maps new ones, lays out and configures them on commit
//! (`state::commit` calls [`commit`]; it also hands the keyboard to those that ask for it and
//! refits maximized windows to the exclusive zones), unmaps destroyed ones and closes those of a removed
//! output ([`output_removed`]). `window::render_elements` draws them above and below the
//! windows, `window::send_frames` tells them of frames, and input finds them through
//! [`under`] before and after the windows.

use smithay::desktop::{layer_map_for_output, LayerSurface, PopupKind, WindowSurfaceType};
use smithay::output::Output;
use smithay::reexports::wayland_server::protocol::wl_output::WlOutput;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point, SERIAL_COUNTER};
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::wlr_layer::{
    KeyboardInteractivity, Layer, LayerSurface as WlrLayerSurface, LayerSurfaceData,
    WlrLayerShellHandler, WlrLayerShellState,
};
use smithay::wayland::shell::xdg::PopupSurface;

use crate::state::State;
use crate::window::SurfaceAt;

/// The layers drawn above the windows, topmost first.
pub const ABOVE_WINDOWS: [Layer; 2] = [Layer::Overlay, Layer::Top];
/// The layers drawn below the windows, topmost first.
pub const BELOW_WINDOWS: [Layer; 2] = [Layer::Bottom, Layer::Background];

impl WlrLayerShellHandler for State {
    fn shell_state(&mut self) -> &mut WlrLayerShellState {
        &mut self.layer_shell
    }

    fn new_layer_surface(
        &mut self,
        surface: WlrLayerSurface,
        output: Option<WlOutput>,
        layer: Layer,
        namespace: String,
    ) {
        let output = output
            .as_ref()
            .and_then(Output::from_resource)
            .or_else(|| self.space.outputs().next().cloned());
        let Some(output) = output else {
            tracing::info!(%namespace, "layer surface closed: no output to show it on");
            surface.send_close();
            return;
        };
        tracing::info!(%namespace, ?layer, output = %output.name(), "new layer surface");
        let mut map = layer_map_for_output(&output);
        if let Err(err) = map.map_layer(&LayerSurface::new(surface, namespace)) {
            tracing::warn!(%err, "layer surface not mapped");
        }
    }

    fn new_popup(&mut self, _parent: WlrLayerSurface, popup: PopupSurface) {
        if let Err(err) = self.popups.track_popup(PopupKind::Xdg(popup)) {
            tracing::debug!(%err, "layer surface popup not tracked");
        }
    }

    fn layer_destroyed(&mut self, surface: WlrLayerSurface) {
        for output in self.space.outputs() {
            let mut map = layer_map_for_output(output);
            let layer = map
                .layers()
                .find(|layer| layer.layer_surface() == &surface)
                .cloned();
            if let Some(layer) = layer {
                map.unmap_layer(&layer);
            }
        }
        self.request_redraw();
    }
}

/// A commit of `surface`: if it is a layer surface, its output's layers are laid out again and
/// it gets its first configure if it has had none.
pub fn commit(state: &mut State, surface: &WlSurface) {
    let output = state.space.outputs().find(|output| {
        layer_map_for_output(output)
            .layer_for_surface(surface, WindowSurfaceType::TOPLEVEL)
            .is_some()
    });
    let Some(output) = output.cloned() else {
        return;
    };
    let initial_configure_sent = with_states(surface, |states| {
        states
            .data_map
            .get::<LayerSurfaceData>()
            .and_then(|data| data.lock().ok().map(|data| data.initial_configure_sent))
            .unwrap_or(true)
    });
    let layer = {
        let mut map = layer_map_for_output(&output);
        map.arrange();
        let layer = map
            .layer_for_surface(surface, WindowSurfaceType::TOPLEVEL)
            .cloned();
        if let (Some(layer), false) = (&layer, initial_configure_sent) {
            layer.layer_surface().send_configure();
        }
        layer
    };
    crate::toplevel_states::fit_maximized(state, &output);
    if let Some(layer) = layer {
        keyboard_interactivity(state, &layer);
    }
}

/// A layer surface that asks for the keyboard exclusively (a lock screen, a launcher) on the
/// top or overlay layer takes it once it has content; one that no longer takes the keyboard
/// gives it back to the topmost window.
fn keyboard_interactivity(state: &mut State, layer: &LayerSurface) {
    let Some(keyboard) = state.seat.get_keyboard() else {
        return;
    };
    let surface = layer.wl_surface();
    let focused = keyboard.current_focus().as_ref() == Some(surface);
    let cached = layer.cached_state();
    let has_buffer =
        smithay::backend::renderer::utils::with_renderer_surface_state(surface, |state| {
            state.buffer().is_some()
        })
        .unwrap_or(false);
    let exclusive = cached.keyboard_interactivity == KeyboardInteractivity::Exclusive
        && ABOVE_WINDOWS.contains(&cached.layer);
    if exclusive && has_buffer && !focused {
        let serial = SERIAL_COUNTER.next_serial();
        keyboard.set_focus(state, Some(surface.clone()), serial);
    } else if focused && cached.keyboard_interactivity == KeyboardInteractivity::None {
        state.focus_topmost();
    }
}

/// Closes the layer surfaces of an output that is going away.
pub fn output_removed(output: &Output) {
    let mut map = layer_map_for_output(output);
    let layers: Vec<LayerSurface> = map.layers().cloned().collect();
    for layer in layers {
        layer.layer_surface().send_close();
        map.unmap_layer(&layer);
    }
}

/// The topmost layer surface of `layers` under `position` on any output: the layer surface
/// and the surface there, with that surface's origin.
pub fn under(
    state: &State,
    layers: &[Layer],
    position: Point<f64, Logical>,
) -> Option<(LayerSurface, SurfaceAt)> {
    for output in state.space.outputs() {
        let Some(output_area) = state.space.output_geometry(output) else {
            continue;
        };
        if !output_area.to_f64().contains(position) {
            continue;
        }
        let map = layer_map_for_output(output);
        for layer in layers {
            let Some(found) = map.layer_under(*layer, position - output_area.loc.to_f64()) else {
                continue;
            };
            let Some(geometry) = map.layer_geometry(found) else {
                continue;
            };
            let origin = output_area.loc + geometry.loc;
            let local = position - origin.to_f64();
            if let Some((surface, offset)) = found.surface_under(local, WindowSurfaceType::ALL) {
                return Some((found.clone(), (surface, (origin + offset).to_f64())));
            }
        }
    }
    None
}
