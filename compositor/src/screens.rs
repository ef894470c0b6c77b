//! Screens on and off: an output that is off shows nothing, holds no buffer to show it and
//! does not keep its GPUs awake; input, `msg power on` or a client's request turns it on again.
//!
//! [`set_power`] is the one place an output's power changes: wlr-output-power-management
//! (`protocols::output_power`), `msg power`, the idle timeout and input call it. It records the
//! state in the output registry (`OutputInfo::powered`), lets go of the output's intermediates
//! and asks for a redraw; backends act on the registry at their next frame (headless drops the
//! output's buffer, the TTY drops its DrmCompositor, so the swapchain goes and the CRTC is
//! turned off, winit stops drawing) and make new buffers when it is on again. GPU parking
//! (`gpu::parking`) counts only outputs that are on, so a GPU whose screens are all off and
//! that has no client parks.
//!
//! [`Screens`] (in `State::screens`) holds the idle timeout of the configuration file
//! (`[idle] screens_off_after`): after that long without input, and while no surface inhibits
//! idleness, every output goes off ([`configure`] arms the timer); input turns them on
//! ([`user_activity`], which input calls for every event).

use std::time::{Duration, Instant};

use smithay::output::Output;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::RegistrationToken;

use crate::state::State;

/// The idle timeout and the input it counts from.
pub struct Screens {
    off_after: Option<Duration>,
    last_activity: Instant,
    timer: Option<RegistrationToken>,
}

impl Default for Screens {
    fn default() -> Screens {
        Screens {
            off_after: None,
            last_activity: Instant::now(),
            timer: None,
        }
    }
}

impl Screens {
    /// How long without input before the screens go off (`None`: never).
    pub fn off_after(&self) -> Option<Duration> {
        self.off_after
    }
}

/// Why an output's power changed, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerCause {
    /// `msg power`.
    Ipc,
    /// A wlr-output-power-management client.
    Client,
    /// No input for the configured time.
    Idle,
    /// Input while it was off.
    Input,
}

/// Turns `output` on or off; returns whether that changed anything.
pub fn set_power(state: &mut State, output: &Output, on: bool, cause: PowerCause) -> bool {
    let Some(info) = state.outputs.get_mut(output) else {
        return false;
    };
    if info.powered == on {
        return false;
    }
    info.powered = on;
    if on {
        // Turned on by a request: idleness counts from now, not from the last input.
        state.screens.last_activity = Instant::now();
    }
    let name = output.name();
    if !on {
        // An output that shows nothing needs no buffer drawn on another GPU for it, nor the
        // pointer's image on its GPU (made again for the outputs still on).
        state.gpus.remove_output(&name);
        state.pointer_image.release_textures();
    }
    tracing::info!(output = %name, ?cause, "screen {}", if on { "on" } else { "off" });
    crate::protocols::output_power::power_changed(state, output, on);
    crate::protocols::session_lock::outputs_changed(state);
    state.request_redraw();
    true
}

/// Turns every output on or off; returns how many changed.
pub fn set_all(state: &mut State, on: bool, cause: PowerCause) -> usize {
    let outputs: Vec<Output> = state.outputs.iter().map(|o| o.output.clone()).collect();
    outputs
        .iter()
        .filter(|output| set_power(state, output, on, cause))
        .count()
}

/// Input happened: idle notifications start again and screens that are off come on.
pub fn user_activity(state: &mut State) {
    crate::protocols::idle::activity(state);
    state.screens.last_activity = Instant::now();
    if state.outputs.iter().any(|o| !o.powered) {
        set_all(state, true, PowerCause::Input);
    }
}

/// Sets the idle timeout (`None` or zero: never) and arms its timer.
pub fn configure(state: &mut State, off_after: Option<Duration>) {
    let off_after = off_after.filter(|after| !after.is_zero());
    if state.screens.off_after == off_after {
        return;
    }
    state.screens.off_after = off_after;
    state.screens.last_activity = Instant::now();
    if let Some(token) = state.screens.timer.take() {
        state.display_loop_handle().remove(token);
    }
    let Some(after) = off_after else {
        tracing::info!("screens stay on while idle");
        return;
    };
    tracing::info!(
        seconds = after.as_secs_f64(),
        "screens go off after this long idle"
    );
    let armed =
        state
            .display_loop_handle()
            .insert_source(Timer::from_duration(after), |_, _, state| {
                match state.screens.off_after {
                    Some(after) => TimeoutAction::ToDuration(idle_check(state, after)),
                    None => TimeoutAction::Drop,
                }
            });
    match armed {
        Ok(token) => state.screens.timer = Some(token),
        Err(err) => tracing::warn!(%err, "could not arm the idle timer: screens stay on"),
    }
}

/// The idle timer fired: turns the screens off if the seat was idle for `after` and nothing
/// inhibits idleness; returns when to look again.
fn idle_check(state: &mut State, after: Duration) -> Duration {
    let idle_for = state.screens.last_activity.elapsed();
    if idle_for < after {
        return after - idle_for;
    }
    if state.idle.is_inhibited() {
        // Idleness counts from the inhibitor's end, as swayidle's timeouts do.
        state.screens.last_activity = Instant::now();
        return after;
    }
    set_all(state, false, PowerCause::Idle);
    after
}
