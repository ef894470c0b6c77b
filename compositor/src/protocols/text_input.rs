//! zwp_text_input_v3: the text fields of programs (GTK, Qt, Chromium, foot) that an input method
//! types into. Each text input follows the keyboard focus (`enter` when its client's surface
//! gets it, `leave` when it goes), whether or not an input method runs: one started later finds
//! the focused field as it was enabled and described. Its state is double-buffered and counted:
//! `commit` applies it, and every `done` carries the number of commits so far.
//!
//! Owned by [`State`] (`text_inputs`). `protocols::seat` calls [`focus_changed`] when the keyboard
//! focus moves; the input method's side (`protocols::input_method`) is told when the focused
//! field is enabled, changed or disabled, and sends its text through [`TextInputs::active`].
//! Values a client sends outside the protocol's enums are ignored (the protocol has no error for
//! them).

use smithay::reexports::wayland_protocols::wp::text_input::zv3::server::{
    zwp_text_input_manager_v3::{self, ZwpTextInputManagerV3},
    zwp_text_input_v3::{self, ChangeCause, ContentHint, ContentPurpose, ZwpTextInputV3},
};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, WEnum,
};
use smithay::utils::{Logical, Rectangle};

use crate::protocols::input_method;
use crate::state::State;

const VERSION: u32 = 1;

/// Every text input, and the surface they follow.
#[derive(Default)]
pub struct TextInputs {
    fields: Vec<TextField>,
    /// The keyboard focus: text inputs of its client are entered on it.
    focus: Option<WlSurface>,
    /// The enabled text input of the focused client, the one the input method serves.
    active: Option<ZwpTextInputV3>,
}

/// What a text field said of itself: applied by `commit`, reset by `enable`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldState {
    pub enabled: bool,
    pub surrounding_text: Option<(String, u32, u32)>,
    pub change_cause: Option<ChangeCause>,
    pub content_type: Option<(ContentHint, ContentPurpose)>,
    pub cursor_rectangle: Option<Rectangle<i32, Logical>>,
}

/// The requests since the last commit.
#[derive(Default)]
struct Pending {
    enable: Option<bool>,
    surrounding_text: Option<(String, u32, u32)>,
    change_cause: Option<ChangeCause>,
    content_type: Option<(ContentHint, ContentPurpose)>,
    cursor_rectangle: Option<Rectangle<i32, Logical>>,
}

struct TextField {
    resource: ZwpTextInputV3,
    pending: Pending,
    current: FieldState,
    /// Commits so far: the serial of the next `done`.
    commits: u32,
    /// The surface it was last sent `enter` for.
    entered: Option<WlSurface>,
}

/// What changed on the focused field's commit, for the input method.
pub enum FieldChange {
    /// It was enabled (or enabled again, which resets it): the input method starts afresh.
    Enabled(FieldState),
    /// It stays enabled; these are what its commit set.
    Updated(FieldState),
    /// It was disabled.
    Disabled,
}

pub fn init(display: &DisplayHandle) {
    display.create_global::<State, ZwpTextInputManagerV3, ()>(VERSION, ());
}

impl TextInputs {
    /// The enabled text input of the focused client, and the serial its next `done` carries.
    pub fn active(&self) -> Option<(&ZwpTextInputV3, u32)> {
        let active = self.active.as_ref()?;
        self.fields
            .iter()
            .find(|field| &field.resource == active)
            .map(|field| (&field.resource, field.commits))
    }

    /// The state of the enabled text input of the focused client.
    pub fn active_state(&self) -> Option<&FieldState> {
        let active = self.active.as_ref()?;
        self.fields
            .iter()
            .find(|field| &field.resource == active)
            .map(|field| &field.current)
    }

    /// The surface the text inputs follow.
    pub fn focus(&self) -> Option<&WlSurface> {
        self.focus.as_ref()
    }

    fn field(&mut self, resource: &ZwpTextInputV3) -> Option<&mut TextField> {
        self.fields
            .iter_mut()
            .find(|field| &field.resource == resource)
    }

    fn focused_client(&self) -> Option<ClientId> {
        self.focus
            .as_ref()
            .filter(|surface| surface.is_alive())
            .and_then(|surface| surface.client())
            .map(|client| client.id())
    }
}

/// The keyboard focus moved to `focused`: text inputs on the old surface leave it (the input
/// method is deactivated if it served one of them), those of the new surface's client enter it.
pub fn focus_changed(state: &mut State, focused: Option<&WlSurface>) {
    let inputs = &mut state.text_inputs;
    if inputs.focus.as_ref() == focused {
        return;
    }
    for field in &mut inputs.fields {
        if let Some(surface) = field.entered.take() {
            if surface.is_alive() {
                field.resource.leave(&surface);
            }
        }
        field.current.enabled = false;
    }
    inputs.focus = focused.cloned();
    let had_active = inputs.active.take().is_some();
    if let Some(client) = inputs.focused_client() {
        let surface = focused.cloned();
        for field in &mut inputs.fields {
            if field.resource.client().map(|c| c.id()) == Some(client.clone()) {
                if let Some(surface) = &surface {
                    field.resource.enter(surface);
                    field.entered = Some(surface.clone());
                }
            }
        }
    }
    if had_active {
        input_method::field_changed(state, FieldChange::Disabled);
    }
}

impl GlobalDispatch<ZwpTextInputManagerV3, ()> for State {
    fn bind(
        _state: &mut State,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ZwpTextInputManagerV3>,
        _global_data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<ZwpTextInputManagerV3, ()> for State {
    fn request(
        state: &mut State,
        client: &Client,
        _manager: &ZwpTextInputManagerV3,
        request: zwp_text_input_manager_v3::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        let zwp_text_input_manager_v3::Request::GetTextInput { id, .. } = request else {
            return;
        };
        let resource = data_init.init(id, ());
        let inputs = &mut state.text_inputs;
        let entered = match (&inputs.focus, inputs.focused_client()) {
            (Some(surface), Some(focused)) if focused == client.id() => {
                resource.enter(surface);
                Some(surface.clone())
            }
            _ => None,
        };
        inputs.fields.push(TextField {
            resource,
            pending: Pending::default(),
            current: FieldState::default(),
            commits: 0,
            entered,
        });
    }
}

impl Dispatch<ZwpTextInputV3, ()> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        resource: &ZwpTextInputV3,
        request: zwp_text_input_v3::Request,
        _data: &(),
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        use zwp_text_input_v3::Request;
        let Some(field) = state.text_inputs.field(resource) else {
            return;
        };
        let pending = &mut field.pending;
        match request {
            Request::Enable => {
                // Enabling resets everything said before it, in this commit too.
                *pending = Pending {
                    enable: Some(true),
                    ..Pending::default()
                };
            }
            Request::Disable => pending.enable = Some(false),
            Request::SetSurroundingText {
                text,
                cursor,
                anchor,
            } => {
                // Offsets outside the text are the client's mistake; the input method gets
                // them clamped to it.
                let len = text.len() as u32;
                let clamp = |offset: i32| (offset.max(0) as u32).min(len);
                pending.surrounding_text = Some((text, clamp(cursor), clamp(anchor)));
            }
            Request::SetTextChangeCause {
                cause: WEnum::Value(cause),
            } => pending.change_cause = Some(cause),
            Request::SetContentType { hint, purpose } => {
                let hint = match hint {
                    WEnum::Value(hint) => hint,
                    WEnum::Unknown(bits) => ContentHint::from_bits_truncate(bits),
                };
                if let WEnum::Value(purpose) = purpose {
                    pending.content_type = Some((hint, purpose));
                }
            }
            Request::SetCursorRectangle {
                x,
                y,
                width,
                height,
            } => {
                pending.cursor_rectangle = Some(Rectangle::new(
                    (x, y).into(),
                    (width.max(0), height.max(0)).into(),
                ));
            }
            Request::Commit => commit(state, resource),
            _ => {}
        }
    }

    fn destroyed(state: &mut State, _client: ClientId, resource: &ZwpTextInputV3, _data: &()) {
        let inputs = &mut state.text_inputs;
        inputs.fields.retain(|field| &field.resource != resource);
        if inputs.active.as_ref() == Some(resource) {
            inputs.active = None;
            input_method::field_changed(state, FieldChange::Disabled);
        }
    }
}

/// Applies the field's pending state, and tells the input method what changed if the field
/// is the focused client's.
fn commit(state: &mut State, resource: &ZwpTextInputV3) {
    let inputs = &mut state.text_inputs;
    let focused_client = inputs.focused_client();
    let Some(field) = inputs.field(resource) else {
        return;
    };
    field.commits = field.commits.wrapping_add(1);
    let pending = std::mem::take(&mut field.pending);
    // Requests of a text input that is not entered are ignored, as the protocol asks.
    if field.entered.is_none() || resource.client().map(|c| c.id()) != focused_client {
        return;
    }
    let mut changed = FieldState::default();
    match pending.enable {
        Some(true) => field.current = FieldState::default(),
        Some(false) => field.current.enabled = false,
        None => {}
    }
    if pending.enable == Some(true) {
        field.current.enabled = true;
    }
    if let Some(text) = pending.surrounding_text {
        field.current.surrounding_text = Some(text.clone());
        changed.surrounding_text = Some(text);
    }
    if let Some(cause) = pending.change_cause {
        field.current.change_cause = Some(cause);
        changed.change_cause = Some(cause);
    }
    if let Some(content) = pending.content_type {
        field.current.content_type = Some(content);
        changed.content_type = Some(content);
    }
    if let Some(rectangle) = pending.cursor_rectangle {
        field.current.cursor_rectangle = Some(rectangle);
        changed.cursor_rectangle = Some(rectangle);
    }
    let enabled = field.current.enabled;
    let current = field.current.clone();
    let was_active = inputs.active.as_ref() == Some(resource);
    let change = match (enabled, was_active) {
        (true, false) => {
            inputs.active = Some(resource.clone());
            FieldChange::Enabled(current)
        }
        (true, true) if pending.enable == Some(true) => FieldChange::Enabled(current),
        (true, true) => FieldChange::Updated(changed),
        (false, true) => {
            inputs.active = None;
            FieldChange::Disabled
        }
        (false, false) => return,
    };
    input_method::field_changed(state, change);
}
