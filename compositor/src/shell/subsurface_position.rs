//! Where subsurfaces sit: wl_subsurface.set_position takes effect when the parent's state is
//! applied, whether the subsurface is synchronized or not.
//!
//! smithay 0.7 keeps a subsurface's position in the subsurface's own cached state, so it moves
//! with the subsurface's commit (a desynchronized one moves without its parent committing)
//! and a parent's commit alone never moves it. Tandem keeps the position the protocol says
//! in each subsurface's data ([`Position`]), moved along by each commit request (a hook that
//! `State::new_surface` registers through [`track`]), and writes it over smithay's whenever
//! smithay applied state (`State::commit` calls [`committed`] first thing); rendering and
//! hit-testing read smithay's as before.

use std::sync::Mutex;

use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point};

use crate::shell::client_geometry;
use crate::state::State;
use smithay::wayland::compositor::{
    add_pre_commit_hook, get_children, is_sync_subsurface, with_states, with_surface_tree_downward,
    CachedState, SubsurfaceCachedState, TraversalAction,
};

/// A subsurface's position as the protocol has it.
#[derive(Default)]
struct Position {
    /// The position its parent committed, waiting for the parent's state to be applied (a
    /// synchronized parent's state is applied with its own parent's).
    committed: Option<Point<i32, Logical>>,
    /// The position in effect.
    applied: Option<Point<i32, Logical>>,
}

/// Registers the hook that sees `surface`'s commit requests (its client's, not smithay's
/// applying its cached state later). `State::new_surface` calls it.
pub fn track(surface: &WlSurface) {
    add_pre_commit_hook::<State, _>(surface, |_, _, surface| commit_requested(surface));
}

/// The client asked to commit `surface`: its children's requested positions are committed
/// with it; if its state is applied now (it is no synchronized subsurface), every position
/// committed in its tree takes effect.
fn commit_requested(surface: &WlSurface) {
    for child in get_children(surface) {
        with_position(&child, |position, cached| {
            position.committed = Some(cached.pending().location)
        });
    }
    if is_sync_subsurface(surface) {
        return;
    }
    for descendant in surface_tree(surface) {
        for child in get_children(&descendant) {
            with_position(&child, |position, _| {
                if let Some(location) = position.committed.take() {
                    position.applied = Some(location);
                }
            });
        }
    }
}

/// smithay applied state in `surface`'s tree: the positions in effect are written over
/// what it applied.
pub fn committed(surface: &WlSurface) {
    for descendant in surface_tree(surface) {
        with_position(&descendant, |position, cached| {
            if let Some(location) = position.applied {
                cached.current().location = client_geometry::point(location);
            }
        });
    }
}

/// `surface` and its subsurfaces, at every depth.
fn surface_tree(surface: &WlSurface) -> Vec<WlSurface> {
    let mut tree = Vec::new();
    with_surface_tree_downward(
        surface,
        (),
        |_, _, _| TraversalAction::DoChildren(()),
        |descendant, _, _| tree.push(descendant.clone()),
        |_, _, _| true,
    );
    tree
}

fn with_position(
    surface: &WlSurface,
    f: impl FnOnce(&mut Position, &mut CachedState<SubsurfaceCachedState>),
) {
    with_states(surface, |states| {
        states
            .data_map
            .insert_if_missing_threadsafe(|| Mutex::new(Position::default()));
        let Some(data) = states.data_map.get::<Mutex<Position>>() else {
            return;
        };
        let Ok(mut position) = data.lock() else {
            return;
        };
        let mut cached = states.cached_state.get::<SubsurfaceCachedState>();
        f(&mut position, &mut cached);
    });
}
