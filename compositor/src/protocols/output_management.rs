//! wlr-output-management-unstable-v1 (wlr-randr, kanshi): every output is a head with its modes,
//! position, transform, scale and whether it is enabled; a client's configuration names every
//! head, enabled (with what to change) or disabled, and is tested or applied as one change.
//!
//! [`OutputManagement`] lives in `State::output_management` and keeps, per bound manager, the
//! heads and modes it was told of. [`refresh`] compares every output with what the managers were
//! last told and sends the differences (and a new serial); backends call it after each dispatch
//! (`Backend::answer_requests`), so outputs added, removed or changed anywhere reach them. A
//! configuration made against an older serial is `cancelled`.
//!
//! Applying changes positions (the space), transforms and scales (the output's state) here; a
//! mode the output does not list, and disabling an output, only where the backend's outputs are
//! virtual (`State::virtual_outputs`: headless, which draws into buffers of the new size at its
//! next frame and skips outputs that are off); elsewhere such a configuration `failed`.

use std::sync::Mutex;

use smithay::output::{Mode, Output, Scale};
use smithay::reexports::wayland_protocols_wlr::output_management::v1::server::{
    zwlr_output_configuration_head_v1::{self, ZwlrOutputConfigurationHeadV1},
    zwlr_output_configuration_v1::{self, ZwlrOutputConfigurationV1},
    zwlr_output_head_v1::{self, ZwlrOutputHeadV1},
    zwlr_output_manager_v1::{self, ZwlrOutputManagerV1},
    zwlr_output_mode_v1::{self, ZwlrOutputModeV1},
};
use smithay::reexports::wayland_server::backend::ClientId;
use smithay::reexports::wayland_server::protocol::wl_output;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, WEnum,
};
use smithay::utils::Transform;

use crate::state::State;

/// The version offered: heads without adaptive sync (zwlr_output_mode_v1 stops at 3).
const VERSION: u32 = 3;

/// The largest scale and mode side accepted.
const MAX_SCALE: f64 = 8.0;
const MAX_MODE_SIDE: i32 = 16384;

/// The managers bound and what each was told.
pub struct OutputManagement {
    serial: u32,
    managers: Vec<Manager>,
}

/// One bound manager: the heads it knows, by output name.
struct Manager {
    resource: ZwlrOutputManagerV1,
    heads: Vec<Head>,
}

struct Head {
    output: String,
    resource: ZwlrOutputHeadV1,
    modes: Vec<(Mode, ZwlrOutputModeV1)>,
    /// What it was last told (`None` before its first description).
    told: Option<HeadState>,
}

/// What a head says about its output.
#[derive(Debug, Clone, PartialEq)]
struct HeadState {
    enabled: bool,
    modes: Vec<Mode>,
    preferred: Option<Mode>,
    current: Option<Mode>,
    position: (i32, i32),
    transform: Transform,
    scale: f64,
}

impl HeadState {
    fn of(state: &State, output: &Output) -> HeadState {
        let location = state.space.output_geometry(output).map(|area| area.loc);
        HeadState {
            enabled: location.is_some(),
            modes: output.modes(),
            preferred: output.preferred_mode(),
            current: output.current_mode(),
            position: location
                .map(|loc| (loc.x, loc.y))
                .unwrap_or_else(|| output.current_location().into()),
            transform: output.current_transform(),
            scale: output.current_scale().fractional_scale(),
        }
    }
}

impl OutputManagement {
    pub fn new(display: &DisplayHandle) -> OutputManagement {
        display.create_global::<State, ZwlrOutputManagerV1, ()>(VERSION, ());
        OutputManagement {
            serial: 1,
            managers: Vec::new(),
        }
    }
}

/// A mode of a head: its output's name and the mode.
pub struct ModeData {
    output: String,
    mode: Mode,
}

/// A configuration: the serial it was made against, each head's part, and whether it was used.
pub struct ConfigurationData {
    serial: u32,
    parts: Mutex<ConfigurationParts>,
}

#[derive(Default)]
struct ConfigurationParts {
    /// Per output name: what to set (`None`: disable it).
    heads: Vec<(String, Option<ZwlrOutputConfigurationHeadV1>)>,
    used: bool,
}

/// What a configuration head asks, for which output.
pub struct HeadRequests {
    output: String,
    changes: Mutex<HeadChanges>,
}

/// What to change of an enabled output (what is `None` stays); the configuration file's output
/// sections are applied as these too.
#[derive(Debug, Default, Clone)]
pub struct HeadChanges {
    pub mode: Option<Mode>,
    pub position: Option<(i32, i32)>,
    pub transform: Option<Transform>,
    pub scale: Option<f64>,
}

/// Tells every manager what changed since it was last told, with a new serial.
pub fn refresh(state: &mut State) {
    if state.output_management.managers.is_empty() {
        return;
    }
    let outputs = shown(state);
    let dh = state.display.clone();
    let management = &mut state.output_management;
    management
        .managers
        .retain(|manager| manager.resource.is_alive());
    let mut changed = false;
    for manager in &mut management.managers {
        changed |= tell(&dh, manager, &outputs);
    }
    if changed {
        management.serial = management.serial.wrapping_add(1);
        for manager in &management.managers {
            manager.resource.done(management.serial);
        }
    }
}

/// An output as managers are told of it.
struct Shown {
    output: Output,
    state: HeadState,
    /// The monitor's serial number (empty: unknown).
    serial: String,
}

/// Every output, as managers are told of it.
fn shown(state: &State) -> Vec<Shown> {
    state
        .outputs
        .iter()
        .map(|info| Shown {
            output: info.output.clone(),
            state: HeadState::of(state, &info.output),
            serial: info.monitor.serial.clone(),
        })
        .collect()
}

/// Sends `manager` the heads of `outputs` it does not know, what changed in those it knows, and
/// `finished` for those gone; whether anything was sent.
fn tell(dh: &DisplayHandle, manager: &mut Manager, outputs: &[Shown]) -> bool {
    let mut sent = false;
    manager.heads.retain(|head| {
        let here = outputs
            .iter()
            .any(|shown| shown.output.name() == head.output);
        if !here {
            for (_, mode) in &head.modes {
                mode.finished();
            }
            head.resource.finished();
            sent = true;
        }
        here
    });
    let Some(client) = manager.resource.client() else {
        return sent;
    };
    for Shown {
        output,
        state: now,
        serial,
    } in outputs
    {
        let name = output.name();
        match manager.heads.iter_mut().find(|head| head.output == name) {
            Some(head) => {
                if head.told.as_ref() != Some(now) {
                    update_head(dh, &client, head, now);
                    sent = true;
                }
            }
            None => {
                let Ok(resource) = client.create_resource::<ZwlrOutputHeadV1, _, State>(
                    dh,
                    manager.resource.version(),
                    name.clone(),
                ) else {
                    continue;
                };
                manager.resource.head(&resource);
                resource.name(name.clone());
                resource.description(output.description());
                let physical = output.physical_properties();
                resource.physical_size(physical.size.w, physical.size.h);
                if resource.version() >= 2 {
                    resource.make(physical.make.clone());
                    resource.model(physical.model.clone());
                    if !serial.is_empty() {
                        resource.serial_number(serial.clone());
                    }
                }
                let mut head = Head {
                    output: name,
                    resource,
                    modes: Vec::new(),
                    told: None,
                };
                update_head(dh, &client, &mut head, now);
                manager.heads.push(head);
                sent = true;
            }
        }
    }
    sent
}

/// Sends `head` what differs between what it was told and `now`.
fn update_head(dh: &DisplayHandle, client: &Client, head: &mut Head, now: &HeadState) {
    for mode in &now.modes {
        if head.modes.iter().any(|(known, _)| known == mode) {
            continue;
        }
        let Ok(resource) = client.create_resource::<ZwlrOutputModeV1, _, State>(
            dh,
            head.resource.version(),
            ModeData {
                output: head.output.clone(),
                mode: *mode,
            },
        ) else {
            continue;
        };
        head.resource.mode(&resource);
        resource.size(mode.size.w, mode.size.h);
        resource.refresh(mode.refresh);
        if now.preferred == Some(*mode) {
            resource.preferred();
        }
        head.modes.push((*mode, resource));
    }
    // Everything is news to a head never told, and to one turned on again.
    let told = head.told.take().filter(|told| told.enabled || !now.enabled);
    if told.as_ref().map(|t| t.enabled) != Some(now.enabled) {
        head.resource.enabled(i32::from(now.enabled));
    }
    let changed = |what: &dyn Fn(&HeadState) -> bool| told.as_ref().is_none_or(what);
    if now.enabled {
        if changed(&|t| t.current != now.current) {
            let current = head
                .modes
                .iter()
                .find(|(mode, _)| Some(*mode) == now.current);
            if let Some((_, resource)) = current {
                head.resource.current_mode(resource);
            }
        }
        if changed(&|t| t.position != now.position) {
            head.resource.position(now.position.0, now.position.1);
        }
        if changed(&|t| t.transform != now.transform) {
            head.resource.transform(now.transform.into());
        }
        if changed(&|t| t.scale != now.scale) {
            head.resource.scale(now.scale);
        }
    }
    head.told = Some(now.clone());
}

impl GlobalDispatch<ZwlrOutputManagerV1, ()> for State {
    fn can_view(client: Client, _global_data: &()) -> bool {
        crate::protocols::security_context::privileged(&client)
    }

    fn bind(
        state: &mut State,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrOutputManagerV1>,
        _data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        let resource = data_init.init(resource, ());
        state.output_management.managers.push(Manager {
            resource,
            heads: Vec::new(),
        });
        // The new manager hears of every head, then `done`, at once.
        let outputs = shown(state);
        let dh = state.display.clone();
        let management = &mut state.output_management;
        if let Some(manager) = management.managers.last_mut() {
            tell(&dh, manager, &outputs);
            manager.resource.done(management.serial);
        }
    }
}

impl Dispatch<ZwlrOutputManagerV1, ()> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        manager: &ZwlrOutputManagerV1,
        request: zwlr_output_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        match request {
            zwlr_output_manager_v1::Request::CreateConfiguration { id, serial } => {
                data_init.init(
                    id,
                    ConfigurationData {
                        serial,
                        parts: Mutex::default(),
                    },
                );
            }
            zwlr_output_manager_v1::Request::Stop => {
                manager.finished();
                state
                    .output_management
                    .managers
                    .retain(|kept| kept.resource != *manager);
            }
            _ => {}
        }
    }

    fn destroyed(state: &mut State, _client: ClientId, manager: &ZwlrOutputManagerV1, _: &()) {
        state
            .output_management
            .managers
            .retain(|kept| kept.resource != *manager);
    }
}

impl Dispatch<ZwlrOutputHeadV1, String> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        _head: &ZwlrOutputHeadV1,
        _request: zwlr_output_head_v1::Request,
        _data: &String,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        // `release` only: the head stays in its manager's list until its output goes.
    }
}

impl Dispatch<ZwlrOutputModeV1, ModeData> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        _mode: &ZwlrOutputModeV1,
        _request: zwlr_output_mode_v1::Request,
        _data: &ModeData,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
    }
}

impl Dispatch<ZwlrOutputConfigurationV1, ConfigurationData> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        configuration: &ZwlrOutputConfigurationV1,
        request: zwlr_output_configuration_v1::Request,
        data: &ConfigurationData,
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        use zwlr_output_configuration_v1::{Error, Request};
        let mut parts = data.parts.lock().unwrap_or_else(|p| p.into_inner());
        if parts.used && !matches!(request, Request::Destroy) {
            configuration.post_error(Error::AlreadyUsed, "the configuration was already used");
            return;
        }
        let head_output = |head: &ZwlrOutputHeadV1| head.data::<String>().cloned();
        match request {
            Request::EnableHead { id, head } => {
                let output = head_output(&head).unwrap_or_default();
                if parts.heads.iter().any(|(name, _)| *name == output) {
                    configuration.post_error(
                        Error::AlreadyConfiguredHead,
                        format!("{output} was configured already"),
                    );
                    return;
                }
                let config_head = data_init.init(
                    id,
                    HeadRequests {
                        output: output.clone(),
                        changes: Mutex::default(),
                    },
                );
                parts.heads.push((output, Some(config_head)));
            }
            Request::DisableHead { head } => {
                let output = head_output(&head).unwrap_or_default();
                if parts.heads.iter().any(|(name, _)| *name == output) {
                    configuration.post_error(
                        Error::AlreadyConfiguredHead,
                        format!("{output} was configured already"),
                    );
                    return;
                }
                parts.heads.push((output, None));
            }
            Request::Apply | Request::Test => {
                parts.used = true;
                let apply = matches!(request, Request::Apply);
                let heads = std::mem::take(&mut parts.heads);
                drop(parts);
                configure(state, configuration, data.serial, heads, apply);
            }
            _ => {}
        }
    }
}

/// Tests or applies a configuration and tells its client how it went.
fn configure(
    state: &mut State,
    configuration: &ZwlrOutputConfigurationV1,
    serial: u32,
    heads: Vec<(String, Option<ZwlrOutputConfigurationHeadV1>)>,
    apply: bool,
) {
    let unconfigured = state
        .outputs
        .iter()
        .map(|info| info.output.name())
        .find(|name| !heads.iter().any(|(configured, _)| configured == name));
    if let Some(name) = unconfigured {
        configuration.post_error(
            zwlr_output_configuration_v1::Error::UnconfiguredHead,
            format!("{name} is not in the configuration"),
        );
        return;
    }
    if serial != state.output_management.serial {
        configuration.cancelled();
        return;
    }
    let changes: Vec<(Output, Option<HeadChanges>)> = heads
        .into_iter()
        .filter_map(|(name, head)| {
            let output = state
                .outputs
                .iter()
                .find(|info| info.output.name() == name)?
                .output
                .clone();
            let changes = head.map(|head| {
                head.data::<HeadRequests>()
                    .map(|requests| {
                        requests
                            .changes
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .clone()
                    })
                    .unwrap_or_default()
            });
            Some((output, changes))
        })
        .collect();
    match check(state, &changes) {
        Err(why) => {
            tracing::info!(%why, "output configuration refused");
            configuration.failed();
        }
        Ok(()) if !apply => configuration.succeeded(),
        Ok(()) => {
            for (output, changes) in &changes {
                apply_changes(state, output, changes.as_ref());
            }
            configuration.succeeded();
            state.request_redraw();
            refresh(state);
        }
    }
}

/// Whether `changes` (`None`: turn that output off) can be applied here.
pub fn check(state: &State, changes: &[(Output, Option<HeadChanges>)]) -> Result<(), String> {
    let stays_on = |output: &Output| match changes.iter().find(|(changed, _)| changed == output) {
        Some((_, changes)) => changes.is_some(),
        None => state.space.output_geometry(output).is_some(),
    };
    if !state.outputs.is_empty() && !state.outputs.iter().any(|info| stays_on(&info.output)) {
        return Err("every output would be off".into());
    }
    for (output, changes) in changes {
        let name = output.name();
        let Some(changes) = changes else {
            if !state.virtual_outputs {
                return Err(format!("{name}: this backend cannot turn an output off"));
            }
            continue;
        };
        if let Some(mode) = changes.mode {
            let listed = output.modes().contains(&mode);
            if !listed && !state.virtual_outputs {
                return Err(format!("{name}: mode {mode:?} is not one of the output's"));
            }
            let side = 1..=MAX_MODE_SIDE;
            if !side.contains(&mode.size.w) || !side.contains(&mode.size.h) {
                return Err(format!("{name}: mode {mode:?} is out of range"));
            }
        }
    }
    Ok(())
}

/// Applies one output's part: its mode, transform, scale and position, or turns it off.
pub fn apply_changes(state: &mut State, output: &Output, changes: Option<&HeadChanges>) {
    let Some(changes) = changes else {
        tracing::info!(output = %output.name(), "output turned off");
        state.space.unmap_output(output);
        return;
    };
    if let Some(mode) = changes.mode {
        if !output.modes().contains(&mode) {
            output.add_mode(mode);
        }
    }
    let position = changes
        .position
        .map(smithay::utils::Point::from)
        .or_else(|| state.space.output_geometry(output).map(|area| area.loc))
        .unwrap_or_else(|| output.current_location());
    output.change_current_state(
        changes.mode,
        changes.transform,
        changes.scale.map(Scale::Fractional),
        Some(position),
    );
    state.space.map_output(output, position);
    if let Some(info) = state.outputs.get(output) {
        let monitor = info.monitor.clone();
        state
            .monitor_settings
            .remember(&monitor, output, (position.x, position.y));
    }
    tracing::info!(
        output = %output.name(),
        mode = ?output.current_mode(),
        position = ?(position.x, position.y),
        scale = output.current_scale().fractional_scale(),
        transform = ?output.current_transform(),
        "output configured"
    );
}

impl Dispatch<ZwlrOutputConfigurationHeadV1, HeadRequests> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        head: &ZwlrOutputConfigurationHeadV1,
        request: zwlr_output_configuration_head_v1::Request,
        data: &HeadRequests,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        use zwlr_output_configuration_head_v1::{Error, Request};
        let mut changes = data.changes.lock().unwrap_or_else(|p| p.into_inner());
        let already = |head: &ZwlrOutputConfigurationHeadV1, what: &str| {
            head.post_error(Error::AlreadySet, format!("{what} was set already"));
        };
        match request {
            Request::SetMode { mode } => {
                if changes.mode.is_some() {
                    return already(head, "the mode");
                }
                match mode.data::<ModeData>() {
                    Some(mode) if mode.output == data.output => changes.mode = Some(mode.mode),
                    _ => head.post_error(Error::InvalidMode, "not a mode of this head"),
                }
            }
            Request::SetCustomMode {
                width,
                height,
                refresh,
            } => {
                if changes.mode.is_some() {
                    return already(head, "the mode");
                }
                let side = 1..=MAX_MODE_SIDE;
                if !side.contains(&width) || !side.contains(&height) || refresh < 0 {
                    head.post_error(
                        Error::InvalidCustomMode,
                        format!("{width}x{height}@{refresh}"),
                    );
                    return;
                }
                changes.mode = Some(Mode {
                    size: (width, height).into(),
                    refresh: if refresh == 0 { 60_000 } else { refresh },
                });
            }
            Request::SetPosition { x, y } => {
                if changes.position.is_some() {
                    return already(head, "the position");
                }
                let limit = 1 << 24;
                changes.position = Some((x.clamp(-limit, limit), y.clamp(-limit, limit)));
            }
            Request::SetTransform { transform } => {
                if changes.transform.is_some() {
                    return already(head, "the transform");
                }
                match transform {
                    WEnum::Value(transform) => changes.transform = Some(to_transform(transform)),
                    WEnum::Unknown(value) => {
                        head.post_error(Error::InvalidTransform, format!("transform {value}"))
                    }
                }
            }
            Request::SetScale { scale } => {
                if changes.scale.is_some() {
                    return already(head, "the scale");
                }
                if !(scale > 0.0 && scale <= MAX_SCALE) {
                    head.post_error(Error::InvalidScale, format!("scale {scale}"));
                    return;
                }
                changes.scale = Some(scale);
            }
            _ => {}
        }
    }
}

fn to_transform(transform: wl_output::Transform) -> Transform {
    match transform {
        wl_output::Transform::_90 => Transform::_90,
        wl_output::Transform::_180 => Transform::_180,
        wl_output::Transform::_270 => Transform::_270,
        wl_output::Transform::Flipped => Transform::Flipped,
        wl_output::Transform::Flipped90 => Transform::Flipped90,
        wl_output::Transform::Flipped180 => Transform::Flipped180,
        wl_output::Transform::Flipped270 => Transform::Flipped270,
        _ => Transform::Normal,
    }
}
