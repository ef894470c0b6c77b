//! Parks GPUs nothing needs: once a second, a GPU with no output on, no connected client of its
//! socket and nothing in the ledger for `State::park_after` (`--park-after`, else the configuration's
//! `[gpus] park_after`) gives up its EGL context and
//! device fds (`GpuManager::park_idle`). Whatever needs it later wakes it: a client connecting
//! to its socket (`server::listen`), a buffer or an output drawn through it (the manager wakes
//! a parked GPU on use).
//!
//! `Server::new` installs the timer; the TTY backend takes `State::newly_parked` to close the
//! KMS side of a parked device that drives no monitor.

use std::sync::atomic::Ordering;
use std::time::Duration;

use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::LoopHandle;
use tandem::GpuId;

use crate::state::State;

/// How often idle GPUs are looked for.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Starts looking for idle GPUs, once a second, while `State::park_after` says how long one
/// stays idle before it is parked.
pub fn install(handle: &LoopHandle<'static, State>) -> Result<(), String> {
    handle
        .insert_source(Timer::from_duration(CHECK_EVERY), move |_, _, state| {
            if let Some(after) = state.park_after {
                park_idle_gpus(state, after);
            }
            TimeoutAction::ToDuration(CHECK_EVERY)
        })
        .map(drop)
        .map_err(|e| format!("parking timer: {e}"))
}

/// Is `gpu` needed by an output that is on or by a connected client of its sockets?
pub fn needed(state: &State, gpu: GpuId) -> bool {
    let drives_output = state
        .outputs
        .iter()
        .any(|o| o.powered && (o.render == gpu || o.target == gpu));
    let has_clients = state
        .client_attachments
        .iter()
        .any(|(g, connected)| *g == gpu && connected.load(Ordering::Relaxed) > 0);
    drives_output || has_clients
}

fn park_idle_gpus(state: &mut State, after: Duration) {
    let needed_now: Vec<GpuId> = state
        .gpus
        .gpu_ids()
        .into_iter()
        .filter(|gpu| needed(state, *gpu))
        .collect();
    let parked = state
        .gpus
        .park_idle(&|gpu| needed_now.contains(&gpu), after);
    state.newly_parked.extend(parked);
}

/// Wakes `gpu` if it is parked (a client connected to its socket).
pub fn wake_for_client(state: &mut State, gpu: GpuId) {
    if !state.gpus.is_parked(gpu) {
        return;
    }
    if let Err(err) = state.gpus.wake(gpu) {
        tracing::warn!(%err, %gpu, "could not wake the GPU for a client of its socket");
    }
}
