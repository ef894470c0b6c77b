//! The keymap a virtual keyboard sends (zwp_virtual_keyboard_v1.keymap), checked before
//! smithay compiles it: smithay 0.7 maps the client's file at the size the client names and
//! hands it to libxkbcommon, which crashes the compositor on a size of 0, a file shorter than
//! that size, or binary content. The keymap is read here (at most [`MAX_KEYMAP_BYTES`]) from a
//! regular file at least that long, must be text, and reaches smithay in a sealed copy the
//! client cannot change; anything else is the protocol's `no_keymap` error for that client.
//!
//! The dispatch of zwp_virtual_keyboard_v1 is declared here instead of through smithay's
//! `delegate_virtual_keyboard_manager!` (`protocols::virtual_input` creates the global).

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

use smithay::reexports::wayland_protocols_misc::zwp_virtual_keyboard_v1::server::{
    zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1,
    zwp_virtual_keyboard_v1::{self, ZwpVirtualKeyboardV1},
};
use smithay::reexports::wayland_server::{
    delegate_dispatch, delegate_global_dispatch, Client, DataInit, Dispatch, DisplayHandle,
    Resource,
};
use smithay::wayland::virtual_keyboard::{
    VirtualKeyboardManagerGlobalData, VirtualKeyboardManagerState, VirtualKeyboardUserData,
};

use crate::state::State;

/// The largest keymap taken: a full keymap with every layout is well under this.
pub const MAX_KEYMAP_BYTES: usize = 1 << 20;

/// wl_keyboard.keymap_format.xkb_v1.
const XKB_V1: u32 = 1;

delegate_global_dispatch!(State: [ZwpVirtualKeyboardManagerV1: VirtualKeyboardManagerGlobalData] => VirtualKeyboardManagerState);
delegate_dispatch!(State: [ZwpVirtualKeyboardManagerV1: ()] => VirtualKeyboardManagerState);

impl Dispatch<ZwpVirtualKeyboardV1, VirtualKeyboardUserData<State>> for State {
    fn request(
        state: &mut State,
        client: &Client,
        keyboard: &ZwpVirtualKeyboardV1,
        request: zwp_virtual_keyboard_v1::Request,
        data: &VirtualKeyboardUserData<State>,
        dh: &DisplayHandle,
        init: &mut DataInit<'_, State>,
    ) {
        let request = match request {
            zwp_virtual_keyboard_v1::Request::Keymap { format, fd, size } if format == XKB_V1 => {
                match sealed_copy(&fd, size as usize) {
                    Ok((fd, size)) => zwp_virtual_keyboard_v1::Request::Keymap { format, fd, size },
                    Err(why) => {
                        keyboard.post_error(
                            zwp_virtual_keyboard_v1::Error::NoKeymap,
                            format!("keymap refused: {why}"),
                        );
                        return;
                    }
                }
            }
            other => other,
        };
        <VirtualKeyboardManagerState as Dispatch<
            ZwpVirtualKeyboardV1,
            VirtualKeyboardUserData<State>,
            State,
        >>::request(state, client, keyboard, request, data, dh, init);
    }
}

/// The `size` bytes of the keymap in `fd`, checked, in a sealed memfd of the same size (the
/// text and a closing NUL, as the protocol's size counts it).
fn sealed_copy(fd: &OwnedFd, size: usize) -> Result<(OwnedFd, u32), String> {
    if size == 0 || size > MAX_KEYMAP_BYTES {
        return Err(format!("a size of {size} bytes (1 to {MAX_KEYMAP_BYTES})"));
    }
    let stat = rustix::fs::fstat(fd).map_err(|e| format!("fstat: {e}"))?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
        return Err("not a regular file".into());
    }
    if (stat.st_size as u64) < size as u64 {
        return Err(format!("the file holds {} of {size} bytes", stat.st_size));
    }
    let mut text = vec![0u8; size];
    let mut read = 0;
    while read < size {
        let n = rustix::io::pread(fd, &mut text[read..], read as u64)
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("the file ended early".into());
        }
        read += n;
    }
    // The text may end with the NUL the size counts; there is none inside it.
    let body = text.strip_suffix(&[0]).unwrap_or(&text);
    if body.is_empty() || body.contains(&0) || std::str::from_utf8(body).is_err() {
        return Err("not a text keymap".into());
    }
    let copy = rustix::fs::memfd_create(
        "tandem-virtual-keymap",
        rustix::fs::MemfdFlags::CLOEXEC | rustix::fs::MemfdFlags::ALLOW_SEALING,
    )
    .map_err(|e| format!("memfd: {e}"))?;
    let mut file = std::fs::File::from(copy);
    file.write_all(body)
        .and_then(|()| file.write_all(&[0]))
        .map_err(|e| format!("copy: {e}"))?;
    rustix::fs::fcntl_add_seals(
        file.as_fd(),
        rustix::fs::SealFlags::SHRINK | rustix::fs::SealFlags::GROW | rustix::fs::SealFlags::WRITE,
    )
    .map_err(|e| format!("seal: {e}"))?;
    let size = u32::try_from(body.len() + 1).map_err(|_| "too large".to_owned())?;
    Ok((OwnedFd::from(file), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memfd_with(bytes: &[u8]) -> OwnedFd {
        let fd = rustix::fs::memfd_create("test-keymap", rustix::fs::MemfdFlags::CLOEXEC)
            .expect("memfd");
        let mut file = std::fs::File::from(fd);
        file.write_all(bytes).expect("write");
        OwnedFd::from(file)
    }

    #[test]
    fn text_is_copied_and_what_would_crash_libxkbcommon_is_refused() {
        let text = b"xkb_keymap { };\0";
        let (copy, size) = sealed_copy(&memfd_with(text), text.len()).expect("text keymap");
        assert_eq!(size as usize, text.len());
        let mut read = vec![0u8; text.len()];
        rustix::io::pread(&copy, &mut read, 0).expect("read copy");
        assert_eq!(read, text);

        assert!(sealed_copy(&memfd_with(text), 0).is_err(), "size 0");
        assert!(
            sealed_copy(&memfd_with(text), 4096).is_err(),
            "longer than the file"
        );
        assert!(
            sealed_copy(&memfd_with(&[0u8; 4096]), 4096).is_err(),
            "zeros"
        );
        assert!(
            sealed_copy(&memfd_with(&[0xff; 64]), 64).is_err(),
            "not UTF-8"
        );
        assert!(
            sealed_copy(&memfd_with(text), MAX_KEYMAP_BYTES + 1).is_err(),
            "beyond the bound"
        );
        let (read_end, _write_end) = rustix::pipe::pipe().expect("pipe");
        assert!(sealed_copy(&read_end, 16).is_err(), "a pipe");
    }
}
