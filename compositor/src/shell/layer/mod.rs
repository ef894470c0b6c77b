//! Layer surfaces (wlr-layer-shell): bars, docks, launchers, backgrounds, lock screens and
//! notifications, each anchored to an output on one of four layers.
//!
//! Each output keeps its layer surfaces, in the order they were mapped, with the rectangle
//! `shell::layer::layout::arrange` gave each, in the output's user data ([`OutputLayers`]). This
//! module maps new ones, lays them out and configures them when one commits (`state::commit`
//! calls [`commit`]; `shell::layer::keyboard` hands the keyboard to those that ask for it; it refits maximized
//! windows to the exclusive zones), drops destroyed ones and closes those of a removed output
//! ([`output_removed`]). `window::render_elements` draws them above and below the windows
//! ([`placed`]), `window::send_frames` tells them of frames, input finds them through
//! [`under`], and `toplevel_states` asks what the exclusive zones leave ([`usable_area`]).

pub mod keyboard;
pub mod layout;

use std::sync::Mutex;

use smithay::desktop::{LayerSurface, PopupKind, WindowSurfaceType};
use smithay::output::Output;
use smithay::reexports::wayland_server::protocol::wl_output::WlOutput;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point, Rectangle, Size};
use smithay::wayland::compositor::{with_states, with_surface_tree_downward, TraversalAction};
use smithay::wayland::shell::wlr_layer::{
    Layer, LayerSurface as WlrLayerSurface, LayerSurfaceData, WlrLayerShellHandler,
    WlrLayerShellState,
};
use smithay::wayland::shell::xdg::PopupSurface;

use crate::shell::layer::layout::{arrange, Request};
use crate::shell::window::SurfaceAt;
use crate::state::State;

/// The layers drawn above the windows, topmost first.
pub const ABOVE_WINDOWS: [Layer; 2] = [Layer::Overlay, Layer::Top];
/// The layers drawn below the windows, topmost first.
pub const BELOW_WINDOWS: [Layer; 2] = [Layer::Bottom, Layer::Background];

/// An output's layer surfaces in the order they were mapped, each with its rectangle in
/// output coordinates, and the area their exclusive zones leave.
#[derive(Default)]
struct Arranged {
    surfaces: Vec<(LayerSurface, Rectangle<i32, Logical>)>,
    usable: Option<Rectangle<i32, Logical>>,
    /// Layer surfaces an embedder moved ([`pin`]): their place, in output coordinates, wins
    /// over the layout's.
    pinned: Vec<(WlSurface, Point<i32, Logical>)>,
}

/// What an output keeps of its layer surfaces (in its user data).
#[derive(Default)]
pub struct OutputLayers(Mutex<Arranged>);

fn with_layers<T>(output: &Output, f: impl FnOnce(&mut Arranged) -> T) -> T {
    let data = output.user_data();
    data.insert_if_missing_threadsafe(OutputLayers::default);
    let layers = data.get::<OutputLayers>().expect("inserted just above");
    let mut arranged = layers
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&mut arranged)
}

/// The output's size in logical pixels.
fn logical_size(output: &Output) -> Size<i32, Logical> {
    let Some(mode) = output.current_mode() else {
        return Size::default();
    };
    let size = mode
        .size
        .to_f64()
        .to_logical(output.current_scale().fractional_scale())
        .to_i32_round();
    output.current_transform().transform_size(size)
}

/// Tells the surfaces of `root`'s tree that they are shown on `output`.
fn enter_output(output: &Output, root: &WlSurface) {
    with_surface_tree_downward(
        root,
        (),
        |_, _, _| TraversalAction::DoChildren(()),
        |surface, _, _| output.enter(surface),
        |_, _, _| true,
    );
}

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
        enter_output(&output, surface.wl_surface());
        let layer = LayerSurface::new(surface, namespace);
        with_layers(&output, |arranged| {
            arranged.surfaces.push((layer, Rectangle::default()));
        });
    }

    fn new_popup(&mut self, _parent: WlrLayerSurface, popup: PopupSurface) {
        if let Err(err) = self.popups.track_popup(PopupKind::Xdg(popup)) {
            tracing::debug!(%err, "layer surface popup not tracked");
        }
    }

    fn layer_destroyed(&mut self, surface: WlrLayerSurface) {
        crate::input::pointer_leaves(self, surface.wl_surface());
        let outputs: Vec<Output> = self.space.outputs().cloned().collect();
        for output in outputs {
            let removed = with_layers(&output, |arranged| {
                let before = arranged.surfaces.len();
                arranged
                    .surfaces
                    .retain(|(layer, _)| layer.layer_surface() != &surface);
                arranged.pinned.retain(|(s, _)| s != surface.wl_surface());
                arranged.surfaces.len() != before
            });
            if removed {
                lay_out(&output);
                crate::shell::toplevel_states::fit_maximized(self, &output);
            }
        }
        crate::shell::layer::keyboard::released(self, surface.wl_surface());
        self.request_redraw();
    }
}

/// The output `surface` is a layer surface of, and that layer surface.
fn find(state: &State, surface: &WlSurface) -> Option<(Output, LayerSurface)> {
    state.space.outputs().find_map(|output| {
        with_layers(output, |arranged| {
            arranged
                .surfaces
                .iter()
                .find(|(layer, _)| layer.wl_surface() == surface)
                .map(|(layer, _)| (output.clone(), layer.clone()))
        })
    })
}

/// Lays out `output`'s layer surfaces again and tells those whose size changed (and have had
/// their first configure).
fn lay_out(output: &Output) {
    with_layers(output, |arranged| {
        let requests: Vec<Request> = arranged
            .surfaces
            .iter()
            .map(|(layer, _)| {
                let cached = layer.cached_state();
                Request {
                    size: cached.size,
                    anchor: cached.anchor,
                    exclusive_zone: cached.exclusive_zone,
                    margin: cached.margin,
                }
            })
            .collect();
        let (placed, usable) = arrange(logical_size(output), &requests);
        arranged.usable = Some(usable);
        let pinned = std::mem::take(&mut arranged.pinned);
        for ((layer, rectangle), mut new) in arranged.surfaces.iter_mut().zip(placed) {
            if let Some((_, location)) = pinned.iter().find(|(s, _)| s == layer.wl_surface()) {
                new.loc = *location;
            }
            *rectangle = new;
            let surface = layer.layer_surface();
            let resized = surface
                .with_pending_state(|pending| pending.size.replace(new.size) != Some(new.size));
            if resized && initial_configure_sent(layer.wl_surface()) {
                surface.send_pending_configure();
            }
        }
        arranged.pinned = pinned;
    });
}

/// Moves the layer surface `surface` so that its top-left corner lies at `location` (global
/// coordinates), whatever its anchors say, for embedders that place surfaces themselves (the
/// WLCS integration). Returns false if `surface` is no layer surface.
pub fn pin(state: &State, surface: &WlSurface, location: Point<i32, Logical>) -> bool {
    let Some((output, _)) = find(state, surface) else {
        return false;
    };
    let origin = state
        .space
        .output_geometry(&output)
        .map(|g| g.loc)
        .unwrap_or_default();
    with_layers(&output, |arranged| {
        arranged.pinned.retain(|(s, _)| s != surface);
        arranged.pinned.push((surface.clone(), location - origin));
    });
    lay_out(&output);
    true
}

fn initial_configure_sent(surface: &WlSurface) -> bool {
    with_states(surface, |states| {
        states
            .data_map
            .get::<LayerSurfaceData>()
            .and_then(|data| data.lock().ok().map(|data| data.initial_configure_sent))
            .unwrap_or(true)
    })
}

/// A commit of `surface`: if it is a layer surface, its output's layers are laid out again and
/// it gets its first configure if it has had none.
pub fn commit(state: &mut State, surface: &WlSurface) {
    let Some((output, layer)) = find(state, surface) else {
        return;
    };
    let first = !initial_configure_sent(surface);
    lay_out(&output);
    if first {
        layer.layer_surface().send_configure();
    }
    crate::shell::toplevel_states::fit_maximized(state, &output);
    crate::shell::layer::keyboard::committed(state, &layer);
}

/// Whether the layer surface `surface` has a buffer to show.
pub fn has_content(surface: &WlSurface) -> bool {
    smithay::backend::renderer::utils::with_renderer_surface_state(surface, |state| {
        state.buffer().is_some()
    })
    .unwrap_or(false)
}

/// The layer surfaces with content on `layers` of every output, topmost first.
pub fn all_mapped(state: &State, layers: &[Layer]) -> Vec<LayerSurface> {
    state
        .space
        .outputs()
        .flat_map(|output| placed(output, layers))
        .map(|(layer, _)| layer)
        .filter(|layer| has_content(layer.wl_surface()))
        .collect()
}

/// Closes the layer surfaces of an output that is going away.
pub fn output_removed(output: &Output) {
    let surfaces = with_layers(output, |arranged| std::mem::take(&mut arranged.surfaces));
    for (layer, _) in surfaces {
        layer.layer_surface().send_close();
    }
}

/// `output`'s layer surfaces on `layers`, topmost first, each with its rectangle in output
/// coordinates.
pub fn placed(output: &Output, layers: &[Layer]) -> Vec<(LayerSurface, Rectangle<i32, Logical>)> {
    with_layers(output, |arranged| {
        layers
            .iter()
            .flat_map(|wanted| {
                arranged
                    .surfaces
                    .iter()
                    .rev()
                    .filter(move |(layer, _)| layer.layer() == *wanted)
                    .cloned()
            })
            .collect()
    })
}

/// Every layer surface of `output`.
pub fn all(output: &Output) -> Vec<LayerSurface> {
    with_layers(output, |arranged| {
        arranged
            .surfaces
            .iter()
            .map(|(layer, _)| layer.clone())
            .collect()
    })
}

/// What the exclusive zones of `output`'s layer surfaces leave of it, in output coordinates.
pub fn usable_area(output: &Output) -> Rectangle<i32, Logical> {
    with_layers(output, |arranged| arranged.usable)
        .unwrap_or_else(|| Rectangle::from_size(logical_size(output)))
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
        for (layer, rectangle) in placed(output, layers) {
            let origin = output_area.loc + rectangle.loc;
            let local = position - origin.to_f64();
            if let Some((surface, offset)) = layer.surface_under(local, WindowSurfaceType::ALL) {
                return Some((layer, (surface, (origin + offset).to_f64())));
            }
        }
    }
    None
}

smithay::delegate_layer_shell!(State);
