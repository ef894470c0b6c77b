//! Hostile requests to the privileged globals: a virtual keyboard's keymap that libxkbcommon
//! would crash on (a page of zeros; a size beyond the end of its file) gets the protocol's
//! `no_keymap`; a security context whose "listening socket" is a pipe must be survived (its
//! listener ends, the event loop does not). `hostile::run` hands every case named
//! `privileged-*` to [`run`].

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::{wl_registry::WlRegistry, wl_seat::WlSeat};
use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols::wp::security_context::v1::client::{
    wp_security_context_manager_v1::WpSecurityContextManagerV1,
    wp_security_context_v1::WpSecurityContextV1,
};
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::{
    zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1,
    zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1,
};

use crate::hostile::{Expect, Outcome};

const VIRTUAL_KEYBOARD: &str = "zwp_virtual_keyboard_v1";
const NO_KEYMAP: u32 = 0;

pub const CASES: &[(&str, Expect)] = &[
    (
        "privileged-virtual-keyboard-keymap-of-zeros",
        Expect::Error(VIRTUAL_KEYBOARD, &[NO_KEYMAP]),
    ),
    (
        "privileged-virtual-keyboard-keymap-longer-than-its-file",
        Expect::Error(VIRTUAL_KEYBOARD, &[NO_KEYMAP]),
    ),
    (
        "privileged-security-context-pipe-as-socket",
        Expect::Survive,
    ),
];

struct Client;

impl Dispatch<WlRegistry, GlobalListContents> for Client {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: wayland_client::protocol::wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

wayland_client::delegate_noop!(Client: ignore WlSeat);
wayland_client::delegate_noop!(Client: ignore ZwpVirtualKeyboardManagerV1);
wayland_client::delegate_noop!(Client: ignore ZwpVirtualKeyboardV1);
wayland_client::delegate_noop!(Client: ignore WpSecurityContextManagerV1);
wayland_client::delegate_noop!(Client: ignore WpSecurityContextV1);

/// A memfd holding `bytes`.
fn memfd_with(bytes: &[u8]) -> Result<OwnedFd, String> {
    let fd = rustix::fs::memfd_create("tandem-hostile-keymap", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| format!("memfd: {e}"))?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes).map_err(|e| format!("write: {e}"))?;
    Ok(OwnedFd::from(file))
}

/// Runs one case against the compositor of WAYLAND_DISPLAY.
pub fn run(case: &str) -> Result<Outcome, String> {
    let conn = Connection::connect_to_env().map_err(|e| format!("connect: {e}"))?;
    let (globals, mut queue) =
        registry_queue_init::<Client>(&conn).map_err(|e| format!("registry: {e}"))?;
    let qh = queue.handle();
    // Kept until the outcome is read: the compositor sees them while it answers.
    let mut _kept: Vec<OwnedFd> = Vec::new();
    match case {
        "privileged-virtual-keyboard-keymap-of-zeros"
        | "privileged-virtual-keyboard-keymap-longer-than-its-file" => {
            let seat: WlSeat = globals
                .bind(&qh, 1..=1, ())
                .map_err(|_| "no wl_seat".to_owned())?;
            let manager: ZwpVirtualKeyboardManagerV1 = globals
                .bind(&qh, 1..=1, ())
                .map_err(|_| "zwp_virtual_keyboard_manager_v1 is not offered".to_owned())?;
            let keyboard = manager.create_virtual_keyboard(&seat, &qh, ());
            let (keymap, size) = if case.ends_with("zeros") {
                (memfd_with(&[0u8; 4096])?, 4096)
            } else {
                (memfd_with(b"xkb_keymap { };\0")?, 4096)
            };
            keyboard.keymap(1, keymap.as_fd(), size);
            _kept.push(keymap);
        }
        "privileged-security-context-pipe-as-socket" => {
            let manager: WpSecurityContextManagerV1 = globals
                .bind(&qh, 1..=1, ())
                .map_err(|_| "wp_security_context_manager_v1 is not offered".to_owned())?;
            let (listen_read, listen_write) =
                rustix::pipe::pipe().map_err(|e| format!("pipe: {e}"))?;
            let (close_read, close_write) =
                rustix::pipe::pipe().map_err(|e| format!("pipe: {e}"))?;
            let context = manager.create_listener(listen_read.as_fd(), close_read.as_fd(), &qh, ());
            context.commit();
            queue
                .roundtrip(&mut Client)
                .map_err(|e| format!("roundtrip: {e}"))?;
            // The "socket" becomes readable: the compositor tries to accept on it.
            rustix::io::write(&listen_write, b"x").map_err(|e| format!("write: {e}"))?;
            _kept.extend([listen_read, listen_write, close_read, close_write]);
        }
        _ => return Err(format!("unknown privileged case {case}")),
    }
    for _ in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        if queue.roundtrip(&mut Client).is_err() {
            break;
        }
    }
    Ok(match conn.protocol_error() {
        Some(error) => Outcome::ProtocolError {
            interface: error.object_interface,
            code: error.code,
            message: error.message,
        },
        None => Outcome::NoError,
    })
}
