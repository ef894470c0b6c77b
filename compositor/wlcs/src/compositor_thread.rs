//! The compositor WLCS tests: tandem-compositor's headless backend on its own thread, with one
//! software GPU and one large output, rendering every frame through Tandem.
//!
//! [`CompositorThread::start`] builds it on the new thread and waits until it is ready;
//! requests arrive on a calloop channel in the compositor's own event loop and are carried
//! out by [`apply`] between its dispatches; [`CompositorThread::stop`] ends the loop and waits
//! for the thread, so nothing of one test outlives it.

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::mpsc;
use std::thread::JoinHandle;

use smithay::backend::input::ButtonState;
use smithay::reexports::calloop::channel;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Client;
use tandem_compositor::backend::headless::{
    Headless, HeadlessOptions, Layout, OutputSpec, TextureMode,
};
use tandem_compositor::backend::Backend;
use tandem_compositor::input;
use tandem_compositor::state::{client_data, State};

use crate::requests::{Action, Request, Requests};

/// The output every test sees.
const OUTPUT_SIZE: (i32, i32) = (2560, 1440);

/// A running compositor.
pub struct CompositorThread {
    requests: Requests,
    thread: JoinHandle<()>,
}

impl CompositorThread {
    /// Starts the compositor on a new thread; returns once it serves requests.
    pub fn start() -> Result<CompositorThread, String> {
        let (sender, channel) = channel::channel();
        let (ready, started) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tandem-compositor".into())
            .spawn(move || run(channel, ready))
            .map_err(|e| e.to_string())?;
        match started.recv() {
            Ok(Ok(())) => Ok(CompositorThread {
                requests: Requests(sender),
                thread,
            }),
            Ok(Err(err)) => Err(err),
            Err(_) => Err("the compositor thread ended while starting".into()),
        }
    }

    /// A handle for asking the compositor.
    pub fn requests(&self) -> Requests {
        self.requests.clone()
    }

    /// Asks the compositor to carry out `action` and waits until it has.
    pub fn call(&self, action: Action) -> std::io::Result<()> {
        self.requests.call(action)
    }

    /// Stops the compositor and waits until its thread has ended.
    pub fn stop(self) {
        self.requests.call_logged(Action::Stop);
        if self.thread.join().is_err() {
            tracing::error!("the compositor thread panicked");
        }
    }
}

fn run(channel: channel::Channel<Request>, ready: mpsc::Sender<Result<(), String>>) {
    let options = HeadlessOptions {
        gpus: 1,
        outputs: vec![OutputSpec {
            size: OUTPUT_SIZE,
            gpu: Some(0),
        }],
        layout: Layout::Row,
        refresh_hz: 60,
        screenshot_dir: None,
        terminal: Vec::new(),
        foreign_dmabuf_imports: true,
        textures: TextureMode::Tandem,
        render_gpu: None,
        drm_devices: Vec::new(),
    };
    let mut headless = match Headless::start(&options) {
        Ok(headless) => headless,
        Err(err) => {
            let _ = ready.send(Err(err.to_string()));
            return;
        }
    };
    // The seat has a touch screen from the start, so clients see the capability when they bind.
    input::touch_device(&mut headless.server.state);
    let mut clients: HashMap<RawFd, Client> = HashMap::new();
    let inserted = headless.server.event_loop.handle().insert_source(
        channel,
        move |event, _, state: &mut State| {
            if let channel::Event::Msg(request) = event {
                let outcome = apply(state, &mut clients, request.action);
                let _ = request.answer.send(outcome);
            }
        },
    );
    if let Err(err) = inserted {
        let _ = ready.send(Err(err.to_string()));
        return;
    }
    let _ = ready.send(Ok(()));
    headless.run_until(&mut |_| false);
}

/// Carries out one request on the compositor's state.
fn apply(
    state: &mut State,
    clients: &mut HashMap<RawFd, Client>,
    action: Action,
) -> Result<(), String> {
    let time = state.clock().as_millis() as u32;
    match action {
        Action::AddClient { key, stream } => {
            let gpu = *state.gpus.gpu_ids().first().ok_or("no GPU")?;
            let attachment = state.client_attachment(gpu);
            let client = state
                .display
                .insert_client(stream, client_data(gpu, attachment))
                .map_err(|e| e.to_string())?;
            clients.insert(key, client);
        }
        Action::Place {
            key,
            surface,
            origin,
        } => {
            let client = clients.get(&key).ok_or("WLCS named an unknown client")?;
            let surface = client
                .object_from_protocol_id::<WlSurface>(&state.display, surface)
                .map_err(|_| format!("the client has no wl_surface {surface}"))?;
            let Some(window) = state.window_for(&surface) else {
                if !tandem_compositor::shell::layer::pin(state, &surface, origin.into()) {
                    tracing::debug!(?surface, "WLCS placed a surface that is no window's");
                }
                state.request_redraw();
                return Ok(());
            };
            tandem_compositor::shell::window::place(&mut state.space, &window, origin.into());
            state.request_redraw();
        }
        Action::PointerTo { x, y } => input::pointer_moved(state, (x, y).into(), time),
        Action::PointerBy { dx, dy } => input::pointer_moved_by(
            state,
            (dx, dy).into(),
            (dx, dy).into(),
            u64::from(time) * 1000,
        ),
        Action::Button { code, pressed } => {
            let pressed = match pressed {
                true => ButtonState::Pressed,
                false => ButtonState::Released,
            };
            input::pointer_button(state, code, pressed, time);
        }
        Action::TouchDown { slot, x, y } => {
            input::touch_down(state, Some(slot), (x, y).into(), time)
        }
        Action::TouchMove { slot, x, y } => {
            input::touch_moved(state, Some(slot), (x, y).into(), time)
        }
        Action::TouchUp { slot } => input::touch_up(state, Some(slot), time),
        Action::Stop => state.running = false,
    }
    Ok(())
}
