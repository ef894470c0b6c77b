//! zwp_input_method_v2: the input method that composes text for the focused text field
//! (fcitx5, ibus's Wayland frontend, on-screen keyboards). One per seat; a second is told
//! `unavailable`. It is activated when the focused field is enabled (at once if it binds after
//! that, as an input method started after the program does), told the field's surrounding text,
//! change cause and content type, and its committed text goes to that field with the field's
//! serial. Its keyboard grab takes the seat's keys while it holds it; its popups (candidate
//! lists) are drawn under the field's cursor rectangle while it is active. The manager is privileged (it reads and
//! sends keys): a sandboxed client does not see it.
//!
//! Owned by [`State`] (`input_method`). `protocols::text_input` calls [`field_changed`]; the
//! keyboard grab is `protocols::input_method_grab`; the renderers (`render`, the TTY backend,
//! captures) place the popups with [`popup_places`].

use smithay::reexports::wayland_protocols_misc::zwp_input_method_v2::server::{
    zwp_input_method_keyboard_grab_v2::ZwpInputMethodKeyboardGrabV2,
    zwp_input_method_manager_v2::{self, ZwpInputMethodManagerV2},
    zwp_input_method_v2::{self, ZwpInputMethodV2},
    zwp_input_popup_surface_v2::ZwpInputPopupSurfaceV2,
};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
};
use smithay::utils::{Logical, Point};
use smithay::wayland::compositor;

use crate::protocols::input_method_grab;
use crate::protocols::security_context::privileged;
use crate::protocols::text_input::{FieldChange, FieldState};
use crate::state::State;

const VERSION: u32 = 1;

/// The surface role of an input method's popup.
pub const INPUT_POPUP_ROLE: &str = "zwp_input_popup_surface_v2";

/// The seat's input method and its popups.
#[derive(Default)]
pub struct InputMethods {
    method: Option<Method>,
    /// The input method's popups.
    pub popups: Vec<InputPopup>,
}

struct Method {
    resource: ZwpInputMethodV2,
    /// `done` events sent so far.
    dones: u32,
    active: bool,
    pending: Composed,
    grab: Option<ZwpInputMethodKeyboardGrabV2>,
}

/// What the input method sends for its next commit.
#[derive(Default)]
struct Composed {
    preedit: Option<(String, i32, i32)>,
    commit: Option<String>,
    delete: Option<(u32, u32)>,
}

/// A candidate popup of the input method.
pub struct InputPopup {
    pub resource: ZwpInputPopupSurfaceV2,
    pub surface: WlSurface,
}

/// What an input method object stands for: the seat's, or one told `unavailable`.
pub struct MethodData {
    inert: bool,
}

pub fn init(display: &DisplayHandle) {
    display.create_global::<State, ZwpInputMethodManagerV2, ()>(VERSION, ());
}

impl InputMethods {
    /// Whether an input method serves a text field now.
    pub fn active(&self) -> bool {
        self.method.as_ref().is_some_and(|method| method.active)
    }

    /// The input method's keyboard grab, if it holds one.
    pub fn grab(&self) -> Option<&ZwpInputMethodKeyboardGrabV2> {
        self.method.as_ref()?.grab.as_ref()
    }

    /// Records the input method's keyboard grab (`None`: released); false if there is no
    /// input method to hold it.
    pub fn set_grab(&mut self, grab: Option<ZwpInputMethodKeyboardGrabV2>) -> bool {
        match self.method.as_mut() {
            Some(method) => {
                method.grab = grab;
                true
            }
            None => false,
        }
    }
}

/// An input method popup and where its top-left corner goes, in global logical coordinates.
pub type InputPopupPlace = (WlSurface, Point<i32, Logical>);

/// The popups to draw while the input method is active: under the focused field's cursor
/// rectangle, in the field's window (at the window's top-left corner when the field named no
/// cursor rectangle).
pub fn popup_places(state: &State) -> Vec<InputPopupPlace> {
    if !state.input_method.active() || state.input_method.popups.is_empty() {
        return Vec::new();
    }
    let Some(window) = state
        .text_inputs
        .focus()
        .and_then(|focus| state.window_for(focus))
    else {
        return Vec::new();
    };
    let Some(location) = state.space.element_location(&window) else {
        return Vec::new();
    };
    let origin = location - window.geometry().loc;
    let cursor = state
        .text_inputs
        .active_state()
        .and_then(|field| field.cursor_rectangle)
        .unwrap_or_default();
    let place = origin + cursor.loc + Point::from((0, cursor.size.h));
    state
        .input_method
        .popups
        .iter()
        .filter(|popup| popup.surface.is_alive())
        .map(|popup| (popup.surface.clone(), place))
        .collect()
}

/// The focused text field changed: the input method is activated, updated or deactivated.
pub fn field_changed(state: &mut State, change: FieldChange) {
    let Some(method) = state.input_method.method.as_mut() else {
        return;
    };
    match change {
        FieldChange::Enabled(field) => {
            method.resource.activate();
            method.active = true;
            method.pending = Composed::default();
            describe(&method.resource, &field);
            place_popups(&state.input_method.popups, &field);
        }
        FieldChange::Updated(field) => {
            describe(&method.resource, &field);
            place_popups(&state.input_method.popups, &field);
        }
        FieldChange::Disabled => {
            if !method.active {
                return;
            }
            method.resource.deactivate();
            method.active = false;
        }
    }
    method.resource.done();
    method.dones = method.dones.wrapping_add(1);
    state.request_redraw();
}

/// Tells the input method what `field` says of itself (what is set of it).
fn describe(method: &ZwpInputMethodV2, field: &FieldState) {
    if let Some((text, cursor, anchor)) = &field.surrounding_text {
        method.surrounding_text(text.clone(), *cursor, *anchor);
    }
    if let Some(cause) = field.change_cause {
        method.text_change_cause(cause);
    }
    if let Some((hint, purpose)) = field.content_type {
        method.content_type(hint, purpose);
    }
}

fn place_popups(popups: &[InputPopup], field: &FieldState) {
    if let Some(rectangle) = field.cursor_rectangle {
        for popup in popups {
            popup.resource.text_input_rectangle(
                rectangle.loc.x,
                rectangle.loc.y,
                rectangle.size.w,
                rectangle.size.h,
            );
        }
    }
}

impl GlobalDispatch<ZwpInputMethodManagerV2, ()> for State {
    fn can_view(client: Client, _global_data: &()) -> bool {
        privileged(&client)
    }

    fn bind(
        _state: &mut State,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ZwpInputMethodManagerV2>,
        _global_data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<ZwpInputMethodManagerV2, ()> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        _manager: &ZwpInputMethodManagerV2,
        request: zwp_input_method_manager_v2::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        let zwp_input_method_manager_v2::Request::GetInputMethod { input_method, .. } = request
        else {
            return;
        };
        if state.input_method.method.is_some() {
            let resource = data_init.init(input_method, MethodData { inert: true });
            resource.unavailable();
            return;
        }
        let resource = data_init.init(input_method, MethodData { inert: false });
        state.input_method.method = Some(Method {
            resource,
            dones: 0,
            active: false,
            pending: Composed::default(),
            grab: None,
        });
        // A field enabled before the input method came is served now.
        if let Some(field) = state.text_inputs.active_state().cloned() {
            field_changed(state, FieldChange::Enabled(field));
        }
    }
}

impl Dispatch<ZwpInputMethodV2, MethodData> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        resource: &ZwpInputMethodV2,
        request: zwp_input_method_v2::Request,
        data: &MethodData,
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        use zwp_input_method_v2::Request;
        // Objects that must be made are made even for an inert input method, which is
        // otherwise ignored.
        match request {
            Request::GetInputPopupSurface { id, surface } => {
                if compositor::give_role(&surface, INPUT_POPUP_ROLE).is_err()
                    && compositor::get_role(&surface) != Some(INPUT_POPUP_ROLE)
                {
                    // The protocol names no error for this; 0 is the only code it can carry.
                    resource.post_error(0u32, "the surface already has another role");
                    return;
                }
                let popup = data_init.init(id, ());
                if data.inert {
                    return;
                }
                if let Some(field) = state.text_inputs.active_state() {
                    place_popups(
                        std::slice::from_ref(&InputPopup {
                            resource: popup.clone(),
                            surface: surface.clone(),
                        }),
                        field,
                    );
                }
                state.input_method.popups.push(InputPopup {
                    resource: popup,
                    surface,
                });
            }
            Request::GrabKeyboard { keyboard } => {
                let grab = data_init.init(keyboard, ());
                if !data.inert {
                    input_method_grab::start(state, grab);
                }
            }
            _ if data.inert => {}
            Request::CommitString { text } => {
                if let Some(method) = state.input_method.method.as_mut() {
                    method.pending.commit = Some(text);
                }
            }
            Request::SetPreeditString {
                text,
                cursor_begin,
                cursor_end,
            } => {
                if let Some(method) = state.input_method.method.as_mut() {
                    method.pending.preedit = Some((text, cursor_begin, cursor_end));
                }
            }
            Request::DeleteSurroundingText {
                before_length,
                after_length,
            } => {
                if let Some(method) = state.input_method.method.as_mut() {
                    method.pending.delete = Some((before_length, after_length));
                }
            }
            Request::Commit { serial: _ } => commit(state),
            _ => {}
        }
    }

    fn destroyed(
        state: &mut State,
        _client: ClientId,
        resource: &ZwpInputMethodV2,
        _data: &MethodData,
    ) {
        let ours = state
            .input_method
            .method
            .as_ref()
            .is_some_and(|method| &method.resource == resource);
        if ours {
            state.input_method.method = None;
            input_method_grab::end(state);
            state.request_redraw();
        }
    }
}

/// Sends what the input method composed to the focused field, then the field's `done`. A commit
/// with a stale serial is applied all the same, as the protocol asks.
fn commit(state: &mut State) {
    let Some(method) = state.input_method.method.as_mut() else {
        return;
    };
    let composed = std::mem::take(&mut method.pending);
    if !method.active {
        return;
    }
    let Some((field, serial)) = state.text_inputs.active() else {
        return;
    };
    if let Some((text, begin, end)) = composed.preedit {
        field.preedit_string(Some(text), begin, end);
    }
    if let Some(text) = composed.commit {
        field.commit_string(Some(text));
    }
    if let Some((before, after)) = composed.delete {
        field.delete_surrounding_text(before, after);
    }
    field.done(serial);
}

impl Dispatch<ZwpInputPopupSurfaceV2, ()> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        _resource: &ZwpInputPopupSurfaceV2,
        _request: <ZwpInputPopupSurfaceV2 as Resource>::Request,
        _data: &(),
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
    }

    fn destroyed(
        state: &mut State,
        _client: ClientId,
        resource: &ZwpInputPopupSurfaceV2,
        _data: &(),
    ) {
        state
            .input_method
            .popups
            .retain(|popup| &popup.resource != resource);
        state.request_redraw();
    }
}
