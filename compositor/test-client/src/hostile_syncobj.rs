//! Hostile uses of explicit sync (wp_linux_drm_syncobj_manager_v1): each must get the protocol's
//! error for this client. They need a compositor that offers the global, so a DRM GPU with
//! timeline syncobjs (the VM's virgl GPU); `tandem-test-client --list-hostile-explicit-sync`
//! lists them, `--hostile CASE` runs one with the render node of `--gbm-device`.

use std::os::fd::AsFd;
use std::path::Path;

use wayland_client::protocol::wl_shm;

use crate::hostile::{outcome, Expect, Outcome};
use crate::timeline::Timeline;
use crate::{Pixels, TestClient};

const MANAGER: &str = "wp_linux_drm_syncobj_manager_v1";
const SURFACE: &str = "wp_linux_drm_syncobj_surface_v1";

/// wp_linux_drm_syncobj_manager_v1 and wp_linux_drm_syncobj_surface_v1 error codes.
mod code {
    pub const SURFACE_EXISTS: u32 = 0;
    pub const INVALID_TIMELINE: u32 = 1;
    pub const NO_SURFACE: u32 = 1;
    pub const UNSUPPORTED_BUFFER: u32 = 2;
    pub const NO_BUFFER: u32 = 3;
    pub const NO_ACQUIRE_POINT: u32 = 4;
    pub const NO_RELEASE_POINT: u32 = 5;
    pub const CONFLICTING_POINTS: u32 = 6;
}

pub const CASES: &[(&str, Expect)] = &[
    (
        "syncobj-acquire-without-release",
        Expect::Error(SURFACE, &[code::NO_RELEASE_POINT]),
    ),
    (
        "syncobj-release-without-acquire",
        Expect::Error(SURFACE, &[code::NO_ACQUIRE_POINT]),
    ),
    (
        "syncobj-points-without-buffer",
        Expect::Error(SURFACE, &[code::NO_BUFFER]),
    ),
    (
        "syncobj-points-on-shm-buffer",
        Expect::Error(SURFACE, &[code::UNSUPPORTED_BUFFER]),
    ),
    (
        "syncobj-release-not-after-acquire",
        Expect::Error(SURFACE, &[code::CONFLICTING_POINTS]),
    ),
    (
        "syncobj-second-surface-object",
        Expect::Error(MANAGER, &[code::SURFACE_EXISTS]),
    ),
    (
        "syncobj-timeline-not-a-syncobj",
        Expect::Error(MANAGER, &[code::INVALID_TIMELINE]),
    ),
    (
        "syncobj-points-after-surface-destroyed",
        Expect::Error(SURFACE, &[code::NO_SURFACE]),
    ),
];

/// Runs one case against the compositor of WAYLAND_DISPLAY, with timelines and GBM buffers on
/// `node`.
pub fn run(case: &str, node: &Path) -> Result<Outcome, String> {
    let mut client = TestClient::connect_env()?;
    let conn = client.conn.clone();
    let qh = client.qh();
    let manager = client
        .globals
        .syncobj
        .clone()
        .ok_or("the compositor offers no wp_linux_drm_syncobj_manager_v1 on this socket")?;
    let timeline = Timeline::create(node)?;
    let imported = manager.import_timeline(timeline.export()?.as_fd(), &qh, ());
    if case == "syncobj-timeline-not-a-syncobj" {
        let not_a_syncobj = Pixels::new(4, 4);
        manager.import_timeline(not_a_syncobj.fd(), &qh, ());
        return Ok(outcome(&mut client, &conn));
    }
    client.open_gbm(node)?;
    let mut window = client.gbm_window((64, 64));
    window.make_toplevel(&client, "hostile", case);
    client.roundtrip()?;
    let syncobj_surface = manager.get_surface(&window.surface, &qh, ());
    let buffer = window
        .buffer
        .as_ref()
        .map(|b| b.wl_buffer().clone())
        .ok_or("the window has no buffer")?;
    let attach_and_commit = |window: &crate::Window| {
        window.surface.attach(Some(&buffer), 0, 0);
        window.surface.damage_buffer(0, 0, 64, 64);
        window.surface.commit();
    };
    match case {
        "syncobj-acquire-without-release" => {
            syncobj_surface.set_acquire_point(&imported, 0, 1);
            attach_and_commit(&window);
        }
        "syncobj-release-without-acquire" => {
            syncobj_surface.set_release_point(&imported, 0, 1);
            attach_and_commit(&window);
        }
        "syncobj-points-without-buffer" => {
            syncobj_surface.set_acquire_point(&imported, 0, 1);
            syncobj_surface.set_release_point(&imported, 0, 2);
            window.surface.commit();
        }
        "syncobj-points-on-shm-buffer" => {
            let pixels = Pixels::new(64, 64);
            let shm = client.globals.shm.clone().ok_or("no wl_shm")?;
            let pool = shm.create_pool(pixels.fd(), pixels.len() as i32, &qh, ());
            let shm_buffer = pool.create_buffer(0, 64, 64, 256, wl_shm::Format::Argb8888, &qh, ());
            syncobj_surface.set_acquire_point(&imported, 0, 1);
            syncobj_surface.set_release_point(&imported, 0, 2);
            window.surface.attach(Some(&shm_buffer), 0, 0);
            window.surface.commit();
        }
        "syncobj-release-not-after-acquire" => {
            syncobj_surface.set_acquire_point(&imported, 0, 2);
            syncobj_surface.set_release_point(&imported, 0, 1);
            attach_and_commit(&window);
        }
        "syncobj-second-surface-object" => {
            manager.get_surface(&window.surface, &qh, ());
        }
        "syncobj-points-after-surface-destroyed" => {
            window.destroy();
            syncobj_surface.set_acquire_point(&imported, 0, 1);
        }
        other => return Err(format!("unknown case {other}")),
    }
    Ok(outcome(&mut client, &conn))
}
