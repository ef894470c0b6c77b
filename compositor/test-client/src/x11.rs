//! X11 windows with known pixels, for the compositor's Xwayland tests: each window is filled
//! with one colour by the X server itself (its background pixel), carries a WM_CLASS, a title
//! and _NET_WM_PID, takes WM_DELETE_WINDOW, and may be override-redirect (as menus are).
//!
//! `tandem-test-client --x11` calls [`run`]; it connects to `$DISPLAY`. It prints
//! `focus-in N` and `focus-out N` when window N gains or loses the X input focus.

use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt as _, CreateWindowAux, EventMask, NotifyDetail,
    PropMode, WindowClass,
};
use x11rb::protocol::Event;
use x11rb::wrapper::ConnectionExt as _;

/// What to open.
pub struct X11Options {
    pub size: (i32, i32),
    /// ARGB; the alpha byte is ignored.
    pub colour: u32,
    pub windows: usize,
    /// Menus and tooltips: placed by the program at (`position`), not managed.
    pub override_redirect: bool,
    pub position: (i16, i16),
    /// WM_CLASS's class.
    pub class: String,
    /// Exit after this long; otherwise once every window was closed.
    pub exit_after: Option<Duration>,
    /// Once mapped, rewrite the titles this many times as fast as the X server takes them,
    /// then hold the X server grabbed for this long (if at all): a window manager that waits
    /// for X replies on its event loop stalls meanwhile.
    pub retitle_then_grab: Option<(u32, Duration)>,
    /// A button press in a window asks the window manager to move it with the pointer
    /// (_NET_WM_MOVERESIZE), as programs that draw their own title bar do; prints
    /// `moveresize N` for window N.
    pub drag_moves: bool,
}

/// Opens the windows and serves them until they are all closed or the time is up.
pub fn run(options: &X11Options) -> Result<(), String> {
    let (conn, screen) = x11rb::connect(None).map_err(|e| format!("X11 display: {e}"))?;
    let error = |e: &dyn std::fmt::Display| format!("X11: {e}");
    let atom = |name: &str| -> Result<u32, String> {
        Ok(conn
            .intern_atom(false, name.as_bytes())
            .map_err(|e| error(&e))?
            .reply()
            .map_err(|e| error(&e))?
            .atom)
    };
    let protocols = atom("WM_PROTOCOLS")?;
    let delete = atom("WM_DELETE_WINDOW")?;
    let pid_atom = atom("_NET_WM_PID")?;
    let moveresize = atom("_NET_WM_MOVERESIZE")?;
    let root = conn.setup().roots[screen].root;
    let width = u16::try_from(options.size.0).map_err(|e| error(&e))?;
    let height = u16::try_from(options.size.1).map_err(|e| error(&e))?;
    let mut open = Vec::new();
    for index in 0..options.windows {
        let window = conn.generate_id().map_err(|e| error(&e))?;
        let aux = CreateWindowAux::new()
            .background_pixel(options.colour & 0x00ff_ffff)
            .override_redirect(u32::from(options.override_redirect))
            .event_mask(
                EventMask::STRUCTURE_NOTIFY
                    | EventMask::FOCUS_CHANGE
                    | if options.drag_moves {
                        EventMask::BUTTON_PRESS
                    } else {
                        EventMask::NO_EVENT
                    },
            );
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            window,
            root,
            options.position.0,
            options.position.1,
            width,
            height,
            0,
            WindowClass::INPUT_OUTPUT,
            x11rb::COPY_FROM_PARENT,
            &aux,
        )
        .map_err(|e| error(&e))?;
        let class = format!("tandem-test-client\0{}\0", options.class);
        let title = format!("{} {index}", options.class);
        conn.change_property8(
            PropMode::REPLACE,
            window,
            AtomEnum::WM_CLASS,
            AtomEnum::STRING,
            class.as_bytes(),
        )
        .and_then(|_| {
            conn.change_property8(
                PropMode::REPLACE,
                window,
                AtomEnum::WM_NAME,
                AtomEnum::STRING,
                title.as_bytes(),
            )
        })
        .and_then(|_| {
            conn.change_property32(
                PropMode::REPLACE,
                window,
                pid_atom,
                AtomEnum::CARDINAL,
                &[std::process::id()],
            )
        })
        .and_then(|_| {
            conn.change_property32(
                PropMode::REPLACE,
                window,
                protocols,
                AtomEnum::ATOM,
                &[delete],
            )
        })
        .and_then(|_| conn.map_window(window))
        .map_err(|e| error(&e))?;
        open.push(window);
    }
    conn.flush().map_err(|e| error(&e))?;
    if let Some((times, hold)) = options.retitle_then_grab {
        retitle_then_grab(&conn, &open, times, hold).map_err(|e| error(&e))?;
    }
    let created = open.clone();
    let deadline = options.exit_after.map(|after| Instant::now() + after);
    while !open.is_empty() && deadline.is_none_or(|d| Instant::now() < d) {
        match conn.poll_for_event().map_err(|e| error(&e))? {
            Some(Event::ClientMessage(message))
                if message.type_ == protocols && message.data.as_data32()[0] == delete =>
            {
                conn.destroy_window(message.window).map_err(|e| error(&e))?;
                conn.flush().map_err(|e| error(&e))?;
                open.retain(|w| *w != message.window);
            }
            Some(Event::ButtonPress(press)) if options.drag_moves => {
                const MOVE: u32 = 8;
                const FROM_APPLICATION: u32 = 1;
                let message = ClientMessageEvent::new(
                    32,
                    press.event,
                    moveresize,
                    [
                        press.root_x as u32,
                        press.root_y as u32,
                        MOVE,
                        u32::from(press.detail),
                        FROM_APPLICATION,
                    ],
                );
                conn.ungrab_pointer(x11rb::CURRENT_TIME)
                    .and_then(|_| {
                        conn.send_event(
                            false,
                            root,
                            EventMask::SUBSTRUCTURE_REDIRECT | EventMask::SUBSTRUCTURE_NOTIFY,
                            message,
                        )
                    })
                    .and_then(|_| conn.flush())
                    .map_err(|e| error(&e))?;
                report_focus("moveresize", &created, press.event);
            }
            Some(Event::FocusIn(event)) if gives_focus(event.detail) => {
                report_focus("focus-in", &created, event.event);
            }
            Some(Event::FocusOut(event)) if gives_focus(event.detail) => {
                report_focus("focus-out", &created, event.event);
            }
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    Ok(())
}

/// Rewrites the titles of `windows` `times` times and prints `retitled` once the X server took
/// them all; then, unless `hold` is zero, grabs the server, rewrites them once more (the window
/// manager hears of it but cannot ask), holds the grab for `hold`, and lets go, printing
/// `grabbed` and `released`.
fn retitle_then_grab(
    conn: &impl Connection,
    windows: &[u32],
    times: u32,
    hold: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    // The window manager reads the first titles once the windows are managed.
    std::thread::sleep(Duration::from_secs(1));
    let retitle = |round: u32| -> Result<(), Box<dyn std::error::Error>> {
        for window in windows {
            let title = format!("title {round}");
            conn.change_property8(
                PropMode::REPLACE,
                *window,
                AtomEnum::WM_NAME,
                AtomEnum::STRING,
                title.as_bytes(),
            )?;
        }
        Ok(())
    };
    for round in 0..times {
        retitle(round)?;
    }
    conn.sync()?;
    println!("retitled");
    if hold.is_zero() {
        return Ok(());
    }
    conn.grab_server()?;
    retitle(times)?;
    conn.sync()?;
    println!("grabbed");
    std::thread::sleep(hold);
    conn.ungrab_server()?;
    conn.sync()?;
    println!("released");
    Ok(())
}

/// Focus events about the window itself, not the pointer's side effects of focus on the root.
fn gives_focus(detail: NotifyDetail) -> bool {
    !matches!(
        detail,
        NotifyDetail::POINTER | NotifyDetail::POINTER_ROOT | NotifyDetail::NONE
    )
}

fn report_focus(what: &str, created: &[u32], window: u32) {
    if let Some(index) = created.iter().position(|w| *w == window) {
        println!("{what} {index}");
        let _ = std::io::Write::flush(&mut std::io::stdout());
    }
}
