//! libinput device settings: the configuration's `[touchpad]` section for touchpads (devices
//! that tap), `[mouse]` for every other pointer. A setting a device does not have is left out
//! for it.
//!
//! The TTY backend calls [`device_added`] and [`device_removed`] as libinput reports devices;
//! `config::apply` calls [`configure_all`] on every load of the file.

use smithay::reexports::input::{Device, DeviceCapability};

use crate::config::Config;
use crate::state::State;

/// A device libinput found: configured now, and again whenever the file is loaded.
pub fn device_added(state: &mut State, mut device: Device) {
    configure(&state.config, &mut device);
    state.input_devices.push(device);
}

pub fn device_removed(state: &mut State, device: &Device) {
    state.input_devices.retain(|known| known != device);
}

/// Applies the configuration to every device.
pub fn configure_all(state: &mut State) {
    let config = state.config.clone();
    for device in &mut state.input_devices {
        configure(&config, device);
    }
}

fn configure(config: &Config, device: &mut Device) {
    if !device.has_capability(DeviceCapability::Pointer) {
        return;
    }
    let touchpad = device.config_tap_finger_count() > 0;
    let (natural_scroll, accel_speed) = if touchpad {
        (config.touchpad.natural_scroll, config.touchpad.accel_speed)
    } else {
        (config.mouse.natural_scroll, config.mouse.accel_speed)
    };
    let mut applied = Vec::new();
    let mut failed = Vec::new();
    let mut record = |what: String, ok: bool| {
        if ok {
            applied.push(what)
        } else {
            failed.push(what)
        }
    };
    if touchpad {
        let tap = config.touchpad.tap;
        record(
            format!("tap {tap}"),
            device.config_tap_set_enabled(tap).is_ok(),
        );
        if device.config_dwt_is_available() {
            let dwt = config.touchpad.disable_while_typing;
            record(
                format!("disable while typing {dwt}"),
                device.config_dwt_set_enabled(dwt).is_ok(),
            );
        }
    }
    if device.config_scroll_has_natural_scroll() {
        record(
            format!("natural scroll {natural_scroll}"),
            device
                .config_scroll_set_natural_scroll_enabled(natural_scroll)
                .is_ok(),
        );
    }
    if device.config_accel_is_available() {
        record(
            format!("acceleration {accel_speed}"),
            device.config_accel_set_speed(accel_speed).is_ok(),
        );
    }
    let kind = if touchpad { "touchpad" } else { "mouse" };
    tracing::info!(device = device.name(), kind, applied = %applied.join(", "), "input device configured");
    if !failed.is_empty() {
        tracing::warn!(device = device.name(), failed = %failed.join(", "), "libinput refused settings");
    }
}
