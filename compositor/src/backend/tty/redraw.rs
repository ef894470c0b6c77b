//! When and how TTY outputs are drawn. Redraws are driven by events: a client commit, a window
//! mapped or gone, the pointer moving or an output appearing sets `State::redraw_requested`,
//! and the run loop calls [`redraw_all`]. An output draws at once unless a page flip is still
//! pending; then it is marked dirty and drawn when the flip completes ([`on_vblank`]).
//!
//! A frame whose content did not change queues nothing, so no page flip comes back: a timer one
//! refresh period long stands in for it, sends the frame callbacks and draws again if something
//! changed meanwhile. An idle session therefore draws nothing, and a client commit after an
//! empty frame is on screen by the next refresh.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::shell::window::DesktopElement;
use smithay::backend::drm::compositor::{FrameFlags, RenderFrameResult};
use smithay::backend::drm::DrmNode;
use smithay::backend::renderer::{ImportAll, ImportMem};
use smithay::backend::session::Session;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::drm::control::crtc;
use smithay::reexports::drm::Device as _;

use super::TtyData;
use crate::input::cursor::CursorElement;
use crate::render::{send_frame_callbacks, BACKGROUND};
use crate::state::State;

smithay::backend::renderer::element::render_elements! {
    /// What a TTY output shows: the pointer over the space's windows.
    pub OutputElement<R> where R: ImportAll + ImportMem;
    Cursor=CursorElement<R>,
    Space=DesktopElement<R>,
}

/// Turns monitors off and on as their outputs' power says, marks every output that is on dirty
/// and draws those that are free to draw now.
pub fn redraw_all(data: &Rc<RefCell<TtyData>>, state: &mut State) {
    super::output::apply_power(data, state);
    let free: Vec<(DrmNode, crtc::Handle)> = {
        let mut data = data.borrow_mut();
        let mut free = Vec::new();
        for (node, device) in data.devices.iter_mut() {
            for (crtc, surface) in device.surfaces.iter_mut() {
                if surface.compositor.is_none() {
                    continue;
                }
                surface.dirty = true;
                surface.dirty_since.get_or_insert_with(Instant::now);
                if !surface.flip_pending && !surface.timer_armed {
                    free.push((*node, *crtc));
                }
            }
        }
        free
    };
    for (node, crtc) in free {
        render_crtc(data, state, node, crtc);
    }
}

/// A page flip completed: the frame is on screen. Its clients hear so, and the output draws
/// again if something changed meanwhile.
pub fn on_vblank(
    data: &Rc<RefCell<TtyData>>,
    state: &mut State,
    node: DrmNode,
    crtc: crtc::Handle,
) {
    let (info, dirty) = {
        let mut data = data.borrow_mut();
        let Some(surface) = data.surface_mut(node, crtc) else {
            return;
        };
        // The flip of a frame shown before the screen went off.
        let Some(compositor) = surface.compositor.as_mut() else {
            return;
        };
        if let Err(err) = compositor.frame_submitted() {
            tracing::warn!(%err, "frame_submitted");
        }
        surface.flip_pending = false;
        let Some(info) = state.output_info(&surface.output).cloned() else {
            return;
        };
        surface
            .cursor_count
            .update(compositor.surface(), state.gpus.ledger(), info.target);
        (info, surface.dirty)
    };
    send_frame_callbacks(state, &info);
    crate::capture::serve(state, &info, None);
    if dirty {
        render_crtc(data, state, node, crtc);
    }
}

/// After a session resume: no page flip from before the pause will come.
pub fn forget_pending_flips(data: &Rc<RefCell<TtyData>>) {
    for device in data.borrow_mut().devices.values_mut() {
        for surface in device.surfaces.values_mut() {
            surface.flip_pending = false;
        }
    }
}

/// Draws one output and queues the frame if its content changed.
pub fn render_crtc(
    data: &Rc<RefCell<TtyData>>,
    state: &mut State,
    node: DrmNode,
    crtc: crtc::Handle,
) {
    let mut data_ref = data.borrow_mut();
    if !data_ref.session.is_active() {
        return;
    }
    let TtyData { devices, .. } = &mut *data_ref;
    let Some(device) = devices.get_mut(&node) else {
        return;
    };
    // A device that was unplugged answers no ioctl; its scanout buffers' mappings are gone, so
    // drawing into them would fault. udev's word on the removal follows.
    if device.drm.get_driver().is_err() {
        tracing::debug!(?node, "device not answering: not drawing");
        return;
    }
    let Some(surface) = device.surfaces.get_mut(&crtc) else {
        return;
    };
    let Some(info) = state.output_info(&surface.output).cloned() else {
        return;
    };
    let Some(compositor) = surface.compositor.as_mut() else {
        // Its screen is off.
        return;
    };
    if surface.rendered_by != info.render {
        // Another GPU draws it now, into buffers that hold nothing of the frames before.
        compositor.reset_buffers();
        surface.rendered_by = info.render;
    }
    let name = info.output.name();
    let pointer = crate::input::cursor::placement(state, &info.output);
    let input_popups = crate::protocols::input_method::popup_places(state);
    let result = (|| -> Result<bool, String> {
        let mut renderer = state
            .gpus
            .cross_renderer(info.render, info.target, Some(&name))
            .map_err(|e| e.to_string())?;
        let mut elements: Vec<OutputElement<_>> = state
            .pointer_image
            .elements(&mut renderer, pointer.as_ref())
            .into_iter()
            .map(OutputElement::Cursor)
            .collect();
        elements.extend(
            crate::shell::window::render_elements(
                &state.space,
                state.xwayland.as_ref(),
                &state.session_lock,
                &input_popups,
                &mut renderer,
                &info.output,
            )
            .into_iter()
            .map(OutputElement::Space),
        );
        let frame: RenderFrameResult<'_, _, _, _> = compositor
            .render_frame(&mut renderer, &elements, BACKGROUND, FrameFlags::DEFAULT)
            .map_err(|e| e.to_string())?;
        Ok(!frame.is_empty)
    })();
    surface.dirty = false;
    // Nothing changed: the output shows this frame's content already.
    let unchanged = matches!(result, Ok(false));
    let queued = match result {
        Ok(true) => match compositor.queue_frame(()) {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(%err, %name, "queue_frame");
                false
            }
        },
        Ok(false) => false,
        Err(err) => {
            tracing::warn!(%err, %name, "rendering failed");
            false
        }
    };
    let since = surface.dirty_since.take();
    if queued || unchanged {
        crate::protocols::session_lock::output_drawn(state, &name);
    }
    if queued {
        surface.flip_pending = true;
        drop(data_ref);
        state.count_frame(&name);
        if let Some(since) = since {
            state.record_latency(&name, since.elapsed());
        }
        return;
    }
    if surface.timer_armed {
        return;
    }
    surface.timer_armed = true;
    let refresh_mhz = info
        .output
        .current_mode()
        .map(|mode| mode.refresh)
        .filter(|r| *r > 0)
        .unwrap_or(60_000);
    drop(data_ref);
    let period = Duration::from_micros(1_000_000_000 / refresh_mhz as u64);
    let timer_data = data.clone();
    let armed = state.display_loop_handle().insert_source(
        Timer::from_duration(period),
        move |_, _, state| {
            let dirty = {
                let mut data = timer_data.borrow_mut();
                let Some(surface) = data.surface_mut(node, crtc) else {
                    return TimeoutAction::Drop;
                };
                surface.timer_armed = false;
                surface.dirty && !surface.flip_pending
            };
            send_frame_callbacks(state, &info);
            crate::capture::serve(state, &info, None);
            if dirty {
                render_crtc(&timer_data, state, node, crtc);
            }
            TimeoutAction::Drop
        },
    );
    if let Err(err) = armed {
        tracing::warn!(%err, "could not arm the frame timer");
        if let Some(surface) = data.borrow_mut().surface_mut(node, crtc) {
            surface.timer_armed = false;
        }
    }
}
