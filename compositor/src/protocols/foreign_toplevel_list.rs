//! ext-foreign-toplevel-list-v1: a handle for every mapped window, xdg and X11, with its title
//! and app id (an X11 window's class), for taskbars and for toplevel capture sources
//! (`capture::sources`).
//!
//! Owned by [`State`] (`toplevel_list`). [`sync`] keeps the handles in step with the space
//! after each dispatch (`server::Server::dispatch`): a handle for each new window, its title
//! and app id sent again when they change, `closed` for a window gone.

use smithay::desktop::Window;
use smithay::reexports::wayland_server::DisplayHandle;
use smithay::wayland::foreign_toplevel_list::{
    ForeignToplevelHandle, ForeignToplevelListHandler, ForeignToplevelListState,
};

use crate::shell::window::title_and_app_id;
use crate::state::State;

/// The global and a handle per listed window.
pub struct ToplevelList {
    global: ForeignToplevelListState,
    listed: Vec<Listed>,
}

struct Listed {
    window: Window,
    handle: ForeignToplevelHandle,
}

impl ToplevelList {
    pub fn new(display: &DisplayHandle) -> ToplevelList {
        ToplevelList {
            global: ForeignToplevelListState::new_with_filter::<State>(
                display,
                crate::protocols::security_context::privileged,
            ),
            listed: Vec::new(),
        }
    }

    /// The window `handle` lists, while it is listed.
    pub fn window_of(&self, handle: &ForeignToplevelHandle) -> Option<Window> {
        let identifier = handle.identifier();
        self.listed
            .iter()
            .find(|listed| listed.handle.identifier() == identifier)
            .map(|listed| listed.window.clone())
    }

    /// How many windows are listed.
    pub fn len(&self) -> usize {
        self.listed.len()
    }

    /// Whether no window is listed.
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }
}

/// Lists the new windows (minimized ones included), updates the titles and app ids that changed and closes the
/// handles of windows gone. X11 override-redirect windows (menus, tooltips) are not listed.
pub fn sync(state: &mut State) {
    let windows: Vec<Window> = crate::shell::minimize::windows(state);
    let mut gone = Vec::new();
    state.toplevel_list.listed.retain(|listed| {
        let kept = windows.contains(&listed.window);
        if !kept {
            gone.push(listed.handle.clone());
        }
        kept
    });
    for handle in gone {
        state.toplevel_list.global.remove_toplevel(&handle);
    }
    for window in windows {
        let Some((title, app_id)) = title_and_app_id(state, &window) else {
            continue;
        };
        let list = &mut state.toplevel_list;
        match list.listed.iter().find(|listed| listed.window == window) {
            Some(listed) => {
                let handle = &listed.handle;
                let title_changed = handle.title() != title;
                let app_id_changed = handle.app_id() != app_id;
                if title_changed {
                    handle.send_title(&title);
                }
                if app_id_changed {
                    handle.send_app_id(&app_id);
                }
                if title_changed || app_id_changed {
                    handle.send_done();
                }
            }
            None => {
                let handle = list.global.new_toplevel::<State>(title, app_id);
                list.listed.push(Listed { window, handle });
            }
        }
    }
}

impl ForeignToplevelListHandler for State {
    fn foreign_toplevel_list_state(&mut self) -> &mut ForeignToplevelListState {
        &mut self.toplevel_list.global
    }
}

smithay::delegate_foreign_toplevel_list!(State);
