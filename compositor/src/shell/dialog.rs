//! Dialogs: a toplevel whose client names a parent window (xdg_toplevel.set_parent, or another
//! program's window imported through xdg-foreign, as a portal's file chooser does) is centred
//! over that parent when it first shows, and stays above it when the parent is raised.
//!
//! `State::focus_once_shown` calls [`center_over_parent`] before it gives a new window the
//! keyboard, and `XdgShellHandler::parent_changed` for a window that already shows;
//! `State::focus` calls [`raise_dialogs_of`] after raising a window; `ipc` reads [`parent_of`].

use smithay::desktop::{Space, Window};
use smithay::utils::{Logical, Point};

use crate::state::State;

/// The window `window` is a dialog of, if it names one that is in the space.
pub fn parent_of(space: &Space<Window>, window: &Window) -> Option<Window> {
    let parent = window.toplevel()?.parent()?;
    space
        .elements()
        .find(|candidate| candidate.toplevel().map(|t| t.wl_surface()) == Some(&parent))
        .cloned()
}

/// A dialog goes to the middle of its parent, kept on the parent's output, above it.
pub fn center_over_parent(state: &mut State, window: &Window) {
    let Some(parent) = parent_of(&state.space, window) else {
        return;
    };
    let Some(parent_location) = state.space.element_location(&parent) else {
        return;
    };
    let (parent_size, size) = (parent.geometry().size, window.geometry().size);
    let mut location = parent_location
        + Point::<i32, Logical>::from(((parent_size.w - size.w) / 2, (parent_size.h - size.h) / 2));
    let output_area = state
        .space
        .outputs_for_element(&parent)
        .first()
        .and_then(|output| state.space.output_geometry(output));
    if let Some(area) = output_area {
        location.x = location.x.max(area.loc.x);
        location.y = location.y.max(area.loc.y);
    }
    tracing::debug!(?location, "dialog centred over its parent");
    crate::shell::window::place(&mut state.space, window, location);
    state.space.raise_element(window, false);
}

/// `window` was raised: its dialogs (and theirs) go above it.
pub fn raise_dialogs_of(space: &mut Space<Window>, window: &Window) {
    let mut parents = vec![window.clone()];
    // Bounded by the number of windows: each is raised at most once.
    let mut raised = 0;
    while let Some(parent) = parents.pop() {
        let dialogs: Vec<Window> = space
            .elements()
            .filter(|candidate| parent_of(space, candidate).as_ref() == Some(&parent))
            .cloned()
            .collect();
        for dialog in dialogs {
            raised += 1;
            if raised > space.elements().count() {
                return;
            }
            space.raise_element(&dialog, false);
            parents.push(dialog);
        }
    }
}
