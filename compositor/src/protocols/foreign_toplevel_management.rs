//! zwlr_foreign_toplevel_manager_v1: taskbars (waybar's wlr/taskbar, sfwbar) list every mapped
//! window, xdg and X11 (minimized ones too), with its title, app id, outputs and states, and
//! activate, close, minimize, maximize or make one fullscreen. Privileged: a sandboxed client does not see it.
//!
//! Owned by [`State`] (`toplevel_management`). [`sync`] runs after each dispatch, beside
//! `foreign_toplevel_list::sync`: a handle for each new window in every bound manager, what
//! changed sent again and closed by `done`, `closed` for a window gone. Each handle's data is
//! the id of the window it stands for, so a request for a window gone does nothing.

use smithay::desktop::Window;
use smithay::output::Output;
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::State as XdgState;
use smithay::reexports::wayland_protocols_wlr::foreign_toplevel::v1::server::{
    zwlr_foreign_toplevel_handle_v1::{self, ZwlrForeignToplevelHandleV1},
    zwlr_foreign_toplevel_manager_v1::{self, ZwlrForeignToplevelManagerV1},
};
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
};
use smithay::utils::SERIAL_COUNTER;

use crate::shell::window::title_and_app_id;
use crate::state::State;

const VERSION: u32 = 3;

/// The bound managers and the windows they are told of.
#[derive(Default)]
pub struct ToplevelManagement {
    managers: Vec<ZwlrForeignToplevelManagerV1>,
    windows: Vec<Managed>,
    next_id: u64,
}

/// Which window a handle stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToplevelId(u64);

struct Managed {
    id: ToplevelId,
    window: Window,
    handles: Vec<ZwlrForeignToplevelHandleV1>,
    /// What the handles were last told.
    sent: Described,
}

/// What a handle says of its window.
#[derive(Clone, PartialEq, Default)]
struct Described {
    title: String,
    app_id: String,
    states: Vec<zwlr_foreign_toplevel_handle_v1::State>,
    outputs: Vec<Output>,
}

pub fn init(display: &DisplayHandle) {
    display.create_global::<State, ZwlrForeignToplevelManagerV1, ()>(VERSION, ());
}

/// How many windows the managers are told of.
pub fn listed(state: &State) -> usize {
    state.toplevel_management.windows.len()
}

/// What `window` looks like to a taskbar now; `None` for an X11 menu or tooltip.
fn describe(state: &State, window: &Window) -> Option<Described> {
    use zwlr_foreign_toplevel_handle_v1::State as Handle;
    let (title, app_id) = title_and_app_id(state, window)?;
    let mut states = Vec::new();
    if let Some(toplevel) = window.toplevel() {
        // What the window was last told: a taskbar shows a change as soon as it is asked for.
        let (maximized, fullscreen) = toplevel.with_pending_state(|pending| {
            (
                pending.states.contains(XdgState::Maximized),
                pending.states.contains(XdgState::Fullscreen),
            )
        });
        if maximized {
            states.push(Handle::Maximized);
        }
        if fullscreen {
            states.push(Handle::Fullscreen);
        }
    } else if let Some(x11) = crate::shell::window::x11_window(state.xwayland.as_ref(), window) {
        if x11.maximized {
            states.push(Handle::Maximized);
        }
        if x11.fullscreen {
            states.push(Handle::Fullscreen);
        }
    }
    if crate::shell::minimize::is_minimized(state, window) {
        states.push(Handle::Minimized);
    }
    let focused = state
        .seat
        .get_keyboard()
        .and_then(|keyboard| keyboard.current_focus())
        .is_some_and(|surface| {
            crate::shell::window::main_surface(state.xwayland.as_ref(), window).as_ref()
                == Some(&surface)
        });
    if focused {
        states.push(Handle::Activated);
    }
    let outputs = state.space.outputs_for_element(window);
    Some(Described {
        title,
        app_id,
        states,
        outputs,
    })
}

/// Tells `handle` everything in `now` that differs from `before`, then `done`.
fn send_changes(
    display: &DisplayHandle,
    handle: &ZwlrForeignToplevelHandleV1,
    before: &Described,
    now: &Described,
) {
    if before.title != now.title {
        handle.title(now.title.clone());
    }
    if before.app_id != now.app_id {
        handle.app_id(now.app_id.clone());
    }
    if let Ok(client) = display.get_client(handle.id()) {
        for output in before.outputs.iter().filter(|o| !now.outputs.contains(o)) {
            for wl_output in output.client_outputs(&client) {
                handle.output_leave(&wl_output);
            }
        }
        for output in now.outputs.iter().filter(|o| !before.outputs.contains(o)) {
            for wl_output in output.client_outputs(&client) {
                handle.output_enter(&wl_output);
            }
        }
    }
    if before.states != now.states {
        let bytes: Vec<u8> = now
            .states
            .iter()
            .flat_map(|state| (*state as u32).to_ne_bytes())
            .collect();
        handle.state(bytes);
    }
    handle.done();
}

/// A handle for `managed`'s window in `manager`'s client, told everything about it.
fn announce(
    display: &DisplayHandle,
    manager: &ZwlrForeignToplevelManagerV1,
    managed: &mut Managed,
) {
    let Ok(client) = display.get_client(manager.id()) else {
        return;
    };
    let Ok(handle) = client.create_resource::<ZwlrForeignToplevelHandleV1, ToplevelId, State>(
        display,
        manager.version(),
        managed.id,
    ) else {
        return;
    };
    manager.toplevel(&handle);
    send_changes(display, &handle, &Described::default(), &managed.sent);
    managed.handles.push(handle);
}

/// Brings every manager up to date with the space.
pub fn sync(state: &mut State) {
    let windows = crate::shell::minimize::windows(state);
    let descriptions: Vec<(Window, Described)> = windows
        .into_iter()
        .filter_map(|window| describe(state, &window).map(|d| (window, d)))
        .collect();
    let display = state.display.clone();
    let management = &mut state.toplevel_management;
    management.managers.retain(|manager| manager.is_alive());
    management.windows.retain(|managed| {
        let kept = descriptions
            .iter()
            .any(|(window, _)| *window == managed.window);
        if !kept {
            for handle in managed.handles.iter().filter(|h| h.is_alive()) {
                handle.closed();
            }
        }
        kept
    });
    for (window, now) in descriptions {
        let position = management.windows.iter().position(|m| m.window == window);
        match position {
            Some(index) => {
                let managed = &mut management.windows[index];
                managed.handles.retain(|handle| handle.is_alive());
                if managed.sent != now {
                    for handle in &managed.handles {
                        send_changes(&display, handle, &managed.sent, &now);
                    }
                    managed.sent = now;
                }
            }
            None => {
                management.next_id += 1;
                let mut managed = Managed {
                    id: ToplevelId(management.next_id),
                    window,
                    handles: Vec::new(),
                    sent: now,
                };
                for manager in &management.managers {
                    announce(&display, manager, &mut managed);
                }
                management.windows.push(managed);
            }
        }
    }
}

impl GlobalDispatch<ZwlrForeignToplevelManagerV1, ()> for State {
    fn can_view(client: Client, _global_data: &()) -> bool {
        crate::protocols::security_context::privileged(&client)
    }

    fn bind(
        state: &mut State,
        display: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrForeignToplevelManagerV1>,
        _global_data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        let manager = data_init.init(resource, ());
        for managed in &mut state.toplevel_management.windows {
            announce(display, &manager, managed);
        }
        state.toplevel_management.managers.push(manager);
    }
}

impl Dispatch<ZwlrForeignToplevelManagerV1, ()> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        manager: &ZwlrForeignToplevelManagerV1,
        request: zwlr_foreign_toplevel_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        if let zwlr_foreign_toplevel_manager_v1::Request::Stop = request {
            state
                .toplevel_management
                .managers
                .retain(|bound| bound != manager);
            manager.finished();
        }
    }
}

impl Dispatch<ZwlrForeignToplevelHandleV1, ToplevelId> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        handle: &ZwlrForeignToplevelHandleV1,
        request: zwlr_foreign_toplevel_handle_v1::Request,
        id: &ToplevelId,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        use zwlr_foreign_toplevel_handle_v1::Request;
        if let Request::SetRectangle { width, height, .. } = &request {
            if *width < 0 || *height < 0 {
                handle.post_error(
                    zwlr_foreign_toplevel_handle_v1::Error::InvalidRectangle,
                    "a rectangle of negative size",
                );
            }
            return;
        }
        let window = state
            .toplevel_management
            .windows
            .iter()
            .find(|managed| managed.id == *id)
            .map(|managed| managed.window.clone());
        let Some(window) = window else {
            return;
        };
        let toplevel = window.toplevel().cloned();
        match request {
            Request::Activate { .. } if !crate::shell::minimize::restore(state, &window) => {
                state.focus(Some(window), SERIAL_COUNTER.next_serial());
            }
            Request::Close => crate::shell::window::close(state, &window),
            Request::SetMaximized => {
                crate::shell::minimize::restore(state, &window);
                if let Some(toplevel) = toplevel {
                    crate::shell::toplevel_states::maximize(state, &toplevel);
                }
            }
            Request::UnsetMaximized => {
                if let Some(toplevel) = toplevel {
                    crate::shell::toplevel_states::restore(state, &toplevel, XdgState::Maximized);
                }
            }
            Request::SetFullscreen { .. } => {
                crate::shell::minimize::restore(state, &window);
                if let Some(toplevel) = toplevel {
                    crate::shell::toplevel_states::fullscreen(state, &toplevel);
                }
            }
            Request::UnsetFullscreen => {
                if let Some(toplevel) = toplevel {
                    crate::shell::toplevel_states::restore(state, &toplevel, XdgState::Fullscreen);
                }
            }
            Request::SetMinimized => crate::shell::minimize::minimize(state, &window),
            Request::UnsetMinimized => {
                crate::shell::minimize::restore(state, &window);
            }
            Request::Destroy => {
                for managed in &mut state.toplevel_management.windows {
                    managed.handles.retain(|h| h != handle);
                }
                return;
            }
            _ => {}
        }
        // The taskbar sees the change by the end of its roundtrip.
        sync(state);
    }
}
