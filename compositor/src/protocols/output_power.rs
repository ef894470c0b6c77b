//! wlr-output-power-management-unstable-v1: clients (wlopm, idle daemons) turn outputs off and
//! on. Each zwlr_output_power_v1 is told its output's mode when it is made and whenever the
//! output's power changes, by anything (`screens::set_power` calls [`power_changed`]); it is
//! told `failed` once its output is gone.
//!
//! [`OutputPower`] lives in `State::output_power` and keeps the live power objects by output
//! name; backends call [`forget_gone`] after each dispatch (`Backend::answer_requests`).

use smithay::output::Output;
use smithay::reexports::wayland_protocols_wlr::output_power_management::v1::server::{
    zwlr_output_power_manager_v1::{self, ZwlrOutputPowerManagerV1},
    zwlr_output_power_v1::{self, Mode, ZwlrOutputPowerV1},
};
use smithay::reexports::wayland_server::backend::GlobalId;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, WEnum,
};

use crate::screens::PowerCause;
use crate::state::State;

/// The global and the power objects clients hold, each with its output's name.
pub struct OutputPower {
    _global: GlobalId,
    objects: Vec<(String, ZwlrOutputPowerV1)>,
}

impl OutputPower {
    pub fn new(display: &DisplayHandle) -> OutputPower {
        OutputPower {
            _global: display.create_global::<State, ZwlrOutputPowerManagerV1, ()>(1, ()),
            objects: Vec::new(),
        }
    }
}

fn mode_of(on: bool) -> Mode {
    if on {
        Mode::On
    } else {
        Mode::Off
    }
}

/// `output` was turned on or off: its power objects hear the new mode.
pub fn power_changed(state: &mut State, output: &Output, on: bool) {
    let name = output.name();
    for (_, object) in state
        .output_power
        .objects
        .iter()
        .filter(|(of, object)| *of == name && object.is_alive())
    {
        object.mode(mode_of(on));
    }
}

/// Power objects whose output is gone are told `failed` (and are not told anything after).
pub fn forget_gone(state: &mut State) {
    let State {
        output_power,
        outputs,
        ..
    } = state;
    output_power.objects.retain(|(name, object)| {
        if !object.is_alive() {
            return false;
        }
        let present = outputs.iter().any(|o| o.output.name() == *name);
        if !present {
            object.failed();
        }
        present
    });
}

impl GlobalDispatch<ZwlrOutputPowerManagerV1, ()> for State {
    fn can_view(client: Client, _global_data: &()) -> bool {
        crate::protocols::security_context::privileged(&client)
    }

    fn bind(
        _state: &mut State,
        _dh: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrOutputPowerManagerV1>,
        _data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<ZwlrOutputPowerManagerV1, ()> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        _manager: &ZwlrOutputPowerManagerV1,
        request: zwlr_output_power_manager_v1::Request,
        _data: &(),
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        match request {
            zwlr_output_power_manager_v1::Request::GetOutputPower { id, output } => {
                let object = data_init.init(id, ());
                let Some(output) = Output::from_resource(&output)
                    .filter(|output| state.outputs.get(output).is_some())
                else {
                    object.failed();
                    return;
                };
                let on = state.outputs.get(&output).is_some_and(|info| info.powered);
                object.mode(mode_of(on));
                state.output_power.objects.push((output.name(), object));
            }
            zwlr_output_power_manager_v1::Request::Destroy => {}
            _ => {}
        }
    }
}

impl Dispatch<ZwlrOutputPowerV1, ()> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        object: &ZwlrOutputPowerV1,
        request: zwlr_output_power_v1::Request,
        _data: &(),
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        match request {
            zwlr_output_power_v1::Request::SetMode { mode } => {
                let on = match mode {
                    WEnum::Value(Mode::On) => true,
                    WEnum::Value(Mode::Off) => false,
                    _ => {
                        object.post_error(
                            zwlr_output_power_v1::Error::InvalidMode,
                            "the mode is neither on nor off",
                        );
                        return;
                    }
                };
                let Some(output) = state
                    .output_power
                    .objects
                    .iter()
                    .find(|(_, held)| held == object)
                    .and_then(|(name, _)| {
                        state
                            .outputs
                            .iter()
                            .find(|o| o.output.name() == *name)
                            .map(|o| o.output.clone())
                    })
                else {
                    // Its output is gone: `failed` was or will be sent.
                    return;
                };
                if !crate::screens::set_power(state, &output, on, PowerCause::Client) {
                    // Unchanged: the mode is confirmed all the same.
                    object.mode(mode_of(on));
                }
            }
            zwlr_output_power_v1::Request::Destroy => {
                state
                    .output_power
                    .objects
                    .retain(|(_, held)| held != object);
            }
            _ => {}
        }
    }
}
