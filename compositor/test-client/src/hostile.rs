//! Hostile requests: malformed buffers and misuse that a compositor must answer with a protocol
//! error for this client only (or survive without one), run by `tandem-test-client --hostile`.

use std::os::fd::AsFd;

use wayland_client::protocol::wl_shm;
use wayland_client::Connection;

use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_buffer_params_v1;

use crate::{Pixels, TestClient};

/// What a case must get from the compositor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A protocol error on this interface; any of the listed codes.
    Error(&'static str, &'static [u32]),
    /// No error: the compositor must cope (and keep serving this client).
    Survive,
    /// Either that error, or no error at all; what must not happen is anything else.
    ErrorOrSurvive(&'static str, &'static [u32]),
}

impl Expect {
    /// Whether `outcome` is what this case allows.
    pub fn allows(&self, outcome: &Outcome) -> bool {
        let error_matches = |want: &str, codes: &[u32]| {
            matches!(outcome, Outcome::ProtocolError { interface, code, .. }
                if interface == want && codes.contains(code))
        };
        match self {
            Expect::Error(want, codes) => error_matches(want, codes),
            Expect::Survive => *outcome == Outcome::NoError,
            Expect::ErrorOrSurvive(want, codes) => {
                *outcome == Outcome::NoError || error_matches(want, codes)
            }
        }
    }
}

/// zwp_linux_buffer_params_v1 error codes.
mod params {
    pub const ALREADY_USED: u32 = 0;
    pub const PLANE_IDX: u32 = 1;
    pub const PLANE_SET: u32 = 2;
    pub const INCOMPLETE: u32 = 3;
    pub const INVALID_FORMAT: u32 = 4;
    pub const INVALID_DIMENSIONS: u32 = 5;
    pub const OUT_OF_BOUNDS: u32 = 6;
    pub const INVALID_WL_BUFFER: u32 = 7;
}

const PARAMS: &str = "zwp_linux_buffer_params_v1";
const ARGB8888: u32 = 0x3432_5241;
const LINEAR: (u32, u32) = (0, 0);

/// Every case: the buffer cases below, then the geometry cases (`hostile_geometry`) and the
/// capture cases (`hostile_capture`, `hostile_image_copy`).
pub fn cases() -> impl Iterator<Item = &'static (&'static str, Expect)> {
    CASES
        .iter()
        .chain(crate::hostile_geometry::CASES)
        .chain(crate::hostile_capture::CASES)
        .chain(crate::hostile_image_copy::CASES)
        .chain(crate::hostile_privileged::CASES)
        .chain(crate::presentation_hints::CASES)
}

/// The buffer cases.
pub const CASES: &[(&str, Expect)] = &[
    (
        "dmabuf-plane-index-out-of-range",
        Expect::Error(PARAMS, &[params::PLANE_IDX]),
    ),
    (
        "dmabuf-plane-set-twice",
        Expect::Error(PARAMS, &[params::PLANE_SET]),
    ),
    (
        "dmabuf-no-planes",
        Expect::Error(PARAMS, &[params::INCOMPLETE]),
    ),
    // smithay 0.7 does not check that plane 0 is present; a lone plane 1 is imported as plane 0.
    (
        "dmabuf-missing-plane",
        Expect::ErrorOrSurvive(PARAMS, &[params::INCOMPLETE]),
    ),
    (
        "dmabuf-zero-width",
        Expect::Error(PARAMS, &[params::INVALID_DIMENSIONS]),
    ),
    (
        "dmabuf-negative-height",
        Expect::Error(PARAMS, &[params::INVALID_DIMENSIONS]),
    ),
    (
        "dmabuf-stride-overflow",
        Expect::Error(PARAMS, &[params::OUT_OF_BOUNDS, params::INVALID_WL_BUFFER]),
    ),
    (
        "dmabuf-offset-past-end",
        Expect::Error(PARAMS, &[params::OUT_OF_BOUNDS, params::INVALID_WL_BUFFER]),
    ),
    (
        "dmabuf-unknown-format",
        Expect::Error(PARAMS, &[params::INVALID_FORMAT]),
    ),
    // Found by the protocol fuzzer: the big-endian flag alone (smithay 0.7 panicked naming it).
    (
        "dmabuf-format-big-endian-flag",
        Expect::Error(PARAMS, &[params::INVALID_FORMAT]),
    ),
    (
        "dmabuf-unknown-modifier",
        Expect::Error(PARAMS, &[params::INVALID_FORMAT, params::INVALID_WL_BUFFER]),
    ),
    (
        "dmabuf-params-used-twice",
        Expect::Error(PARAMS, &[params::ALREADY_USED]),
    ),
    (
        "dmabuf-non-dmabuf-fd",
        Expect::Error(PARAMS, &[params::OUT_OF_BOUNDS, params::INVALID_WL_BUFFER]),
    ),
    (
        "dmabuf-unsealed-memfd",
        Expect::Error(PARAMS, &[params::INVALID_WL_BUFFER]),
    ),
    (
        "dmabuf-too-many-planes",
        Expect::Error(
            PARAMS,
            &[
                params::INCOMPLETE,
                params::INVALID_WL_BUFFER,
                params::PLANE_IDX,
                params::OUT_OF_BOUNDS,
            ],
        ),
    ),
    (
        "dmabuf-huge-dimensions",
        Expect::Error(
            PARAMS,
            &[
                params::OUT_OF_BOUNDS,
                params::INVALID_DIMENSIONS,
                params::INVALID_WL_BUFFER,
            ],
        ),
    ),
    // 16384x9000 fits a software GPU's textures but is 563 MiB: over the default budget.
    (
        "dmabuf-over-budget",
        Expect::Error(PARAMS, &[params::INVALID_WL_BUFFER]),
    ),
    (
        "dmabuf-zero-stride",
        Expect::ErrorOrSurvive(PARAMS, &[params::OUT_OF_BOUNDS, params::INVALID_WL_BUFFER]),
    ),
    ("shm-negative-stride", Expect::Error("wl_shm_pool", &[1])),
    ("shm-negative-offset", Expect::Error("wl_shm_pool", &[1])),
    ("shm-zero-width", Expect::Error("wl_shm_pool", &[1])),
    (
        "shm-pool-shrink-request",
        Expect::ErrorOrSurvive("wl_shm_pool", &[0, 1, 2]),
    ),
    ("shm-size-overflow", Expect::Error("wl_shm_pool", &[1])),
    (
        "shm-buffer-larger-than-pool",
        Expect::Error("wl_shm_pool", &[1]),
    ),
    ("shm-unknown-format", Expect::Error("wl_shm_pool", &[0, 1])),
    // Found by the protocol fuzzer (smithay 0.7 panicked on it): invalid_fd
    (
        "shm-pool-resize-to-zero",
        Expect::Error("wl_shm_pool", &[2]),
    ),
    ("shm-empty-pool", Expect::Error("wl_shm", &[1, 2])),
    // smithay maps the pool when it is created; reads past the new end are caught (SIGBUS) or
    // served from the old mapping.
    (
        "shm-pool-truncated-before-commit",
        Expect::ErrorOrSurvive("wl_buffer", &[2]),
    ),
    ("damage-far-outside-the-buffer", Expect::Survive),
    ("damage-negative-size", Expect::Survive),
    ("damage-many-rectangles", Expect::Survive),
    ("buffer-scale-zero", Expect::Error("wl_surface", &[0])),
    // smithay 0.7 does not enforce xdg_surface.unconfigured_buffer.
    (
        "buffer-before-configure",
        Expect::ErrorOrSurvive("xdg_surface", &[3]),
    ),
    ("one-buffer-on-two-surfaces", Expect::Survive),
    ("destroy-buffer-right-after-commit", Expect::Survive),
];

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    ProtocolError {
        interface: String,
        code: u32,
        message: String,
    },
    NoError,
}

pub(crate) fn outcome(client: &mut TestClient, conn: &Connection) -> Outcome {
    for _ in 0..3 {
        if client.roundtrip().is_err() {
            break;
        }
    }
    match conn.protocol_error() {
        Some(error) => Outcome::ProtocolError {
            interface: error.object_interface,
            code: error.code,
            message: error.message,
        },
        None => Outcome::NoError,
    }
}

/// Runs one case against the compositor of WAYLAND_DISPLAY.
pub fn run(case: &str) -> Result<Outcome, String> {
    if case.starts_with("geometry-") {
        return crate::hostile_geometry::run(case);
    }
    if case.starts_with("capture-") {
        return crate::hostile_capture::run(case);
    }
    if case.starts_with("privileged-") {
        return crate::hostile_privileged::run(case);
    }
    if case.starts_with("hints-") {
        return crate::presentation_hints::run(case);
    }
    if case.starts_with("syncobj-") {
        return Err(format!(
            "{case} needs a DRM node: run it with crate::hostile_syncobj::run (the binary's --hostile does)"
        ));
    }
    let mut client = TestClient::connect_env()?;
    let conn = client.conn.clone();
    let qh = client.qh();
    let compositor = client
        .globals
        .compositor
        .clone()
        .ok_or("no wl_compositor")?;
    let shm = client.globals.shm.clone().ok_or("no wl_shm")?;
    let dmabuf = client.globals.dmabufs.first().cloned();
    let pixels = Pixels::new(64, 64);
    let surface = compositor.create_surface(&qh, ());
    let need_dmabuf = || {
        dmabuf
            .clone()
            .ok_or("no zwp_linux_dmabuf_v1 on this socket")
    };
    match case {
        c if c.starts_with("dmabuf-") => {
            let params = need_dmabuf()?.create_params(&qh, ());
            let add = |fd: std::os::fd::BorrowedFd<'_>, plane: u32, offset: u32, stride: u32| {
                params.add(fd, plane, offset, stride, LINEAR.0, LINEAR.1)
            };
            let (mut w, mut h, mut format) = (64, 64, ARGB8888);
            let unsealed;
            let pipe;
            let sparse;
            match c {
                "dmabuf-plane-index-out-of-range" => add(pixels.fd(), 4, 0, 256),
                "dmabuf-plane-set-twice" => {
                    add(pixels.fd(), 0, 0, 256);
                    add(pixels.fd(), 0, 0, 256);
                }
                "dmabuf-no-planes" => {}
                "dmabuf-missing-plane" => add(pixels.fd(), 1, 0, 256),
                "dmabuf-zero-width" => {
                    add(pixels.fd(), 0, 0, 256);
                    w = 0;
                }
                "dmabuf-negative-height" => {
                    add(pixels.fd(), 0, 0, 256);
                    h = -1;
                }
                "dmabuf-stride-overflow" => add(pixels.fd(), 0, 0, u32::MAX / 2),
                "dmabuf-offset-past-end" => add(pixels.fd(), 0, 1 << 20, 256),
                "dmabuf-unknown-format" => {
                    add(pixels.fd(), 0, 0, 256);
                    format = 0x1234_5678;
                }
                "dmabuf-format-big-endian-flag" => {
                    add(pixels.fd(), 0, 0, 256);
                    format = 0x8000_0000;
                }
                "dmabuf-unknown-modifier" => {
                    // An Intel X-tiled modifier, which no software GPU advertises.
                    params.add(pixels.fd(), 0, 0, 256, 0x0100_0000, 1);
                }
                "dmabuf-params-used-twice" => {
                    add(pixels.fd(), 0, 0, 256);
                    let _first = params.create_immed(
                        w,
                        h,
                        format,
                        zwp_linux_buffer_params_v1::Flags::empty(),
                        &qh,
                        (),
                    );
                }
                "dmabuf-non-dmabuf-fd" => {
                    pipe = rustix::pipe::pipe().map_err(|e| e.to_string())?;
                    add(pipe.0.as_fd(), 0, 0, 256);
                }
                "dmabuf-unsealed-memfd" => {
                    unsealed = Pixels::unsealed(64, 64);
                    add(unsealed.fd(), 0, 0, 256);
                }
                "dmabuf-huge-dimensions" => {
                    add(pixels.fd(), 0, 0, 131072);
                    (w, h) = (32768, 32768);
                }
                "dmabuf-zero-stride" => add(pixels.fd(), 0, 0, 0),
                "dmabuf-over-budget" => {
                    // Sparse: the client pays nothing for it, the compositor would.
                    sparse = Pixels::sparse(16384, 9000);
                    add(sparse.fd(), 0, 0, 16384 * 4);
                    (w, h) = (16384, 9000);
                }
                "dmabuf-too-many-planes" => {
                    add(pixels.fd(), 0, 0, 256);
                    add(pixels.fd(), 1, 0, 256);
                    add(pixels.fd(), 2, 0, 256);
                }
                other => return Err(format!("unknown case {other}")),
            }
            let buffer = params.create_immed(
                w,
                h,
                format,
                zwp_linux_buffer_params_v1::Flags::empty(),
                &qh,
                (),
            );
            surface.attach(Some(&buffer), 0, 0);
            surface.damage_buffer(0, 0, 64, 64);
            surface.commit();
        }
        c if c.starts_with("shm-") => {
            let len = pixels.len() as i32;
            let (pool_len, w, h, stride, format) = match c {
                "shm-negative-stride" => (len, 64, 64, -256, wl_shm::Format::Argb8888),
                "shm-zero-width" => (len, 0, 64, 256, wl_shm::Format::Argb8888),
                "shm-negative-offset" | "shm-pool-shrink-request" | "shm-pool-resize-to-zero" => {
                    (len, 64, 64, 256, wl_shm::Format::Argb8888)
                }
                "shm-size-overflow" => (len, 32768, 32768, 131072, wl_shm::Format::Argb8888),
                "shm-buffer-larger-than-pool" => (4096, 64, 64, 256, wl_shm::Format::Argb8888),
                "shm-unknown-format" => (len, 64, 64, 256, wl_shm::Format::Yuv444),
                "shm-empty-pool" => (0, 64, 64, 256, wl_shm::Format::Argb8888),
                "shm-pool-truncated-before-commit" => (len, 64, 64, 256, wl_shm::Format::Argb8888),
                other => return Err(format!("unknown case {other}")),
            };
            let truncatable = Pixels::unsealed(64, 64);
            let truncate = c == "shm-pool-truncated-before-commit";
            let fd = if truncate {
                truncatable.fd()
            } else {
                pixels.fd()
            };
            if truncate {
                // A mapped window, so that the compositor reads the pool every frame.
                let wm_base = client.globals.wm_base.clone().ok_or("no xdg_wm_base")?;
                let xdg = wm_base.get_xdg_surface(&surface, &qh, ());
                let toplevel = xdg.get_toplevel(&qh, ());
                surface.commit();
                client.roundtrip()?;
                std::mem::forget((xdg, toplevel));
            }
            let pool = shm.create_pool(fd, pool_len, &qh, ());
            if c == "shm-pool-shrink-request" {
                pool.resize(pool_len / 2);
            }
            if c == "shm-pool-resize-to-zero" {
                pool.resize(0);
            }
            let offset = if c == "shm-negative-offset" { -4096 } else { 0 };
            let buffer = pool.create_buffer(offset, w, h, stride, format, &qh, ());
            if truncate {
                // The pool shrinks under the buffer before the compositor ever reads it.
                client.roundtrip()?;
                rustix::fs::ftruncate(truncatable.fd(), 0).map_err(|e| e.to_string())?;
            }
            surface.attach(Some(&buffer), 0, 0);
            surface.damage_buffer(0, 0, 64, 64);
            surface.commit();
            if truncate {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            return Ok(outcome(&mut client, &conn));
        }
        "buffer-scale-zero" => {
            surface.set_buffer_scale(0);
            surface.commit();
        }
        "buffer-before-configure" => {
            let wm_base = client.globals.wm_base.clone().ok_or("no xdg_wm_base")?;
            let xdg = wm_base.get_xdg_surface(&surface, &qh, ());
            let _toplevel = xdg.get_toplevel(&qh, ());
            let pool = shm.create_pool(pixels.fd(), pixels.len() as i32, &qh, ());
            let buffer = pool.create_buffer(0, 64, 64, 256, wl_shm::Format::Argb8888, &qh, ());
            // The first commit of an xdg surface must come without a buffer.
            surface.attach(Some(&buffer), 0, 0);
            surface.commit();
        }
        "damage-far-outside-the-buffer"
        | "damage-many-rectangles"
        | "damage-negative-size"
        | "one-buffer-on-two-surfaces"
        | "destroy-buffer-right-after-commit" => {
            let mut window = client.shm_window((64, 64));
            window.make_toplevel(&client, "hostile", case);
            client.roundtrip()?;
            window.pixels().fill((0, 0, 64, 64), 0xffff_0000);
            window.commit(None);
            match case {
                "damage-far-outside-the-buffer" => {
                    window.surface.damage_buffer(
                        -1_000_000_000,
                        -1_000_000_000,
                        i32::MAX,
                        i32::MAX,
                    );
                    window
                        .surface
                        .damage(i32::MIN, i32::MIN, i32::MAX, i32::MAX);
                    window.surface.commit();
                }
                "damage-many-rectangles" => {
                    for i in 0..20_000 {
                        window.surface.damage_buffer(i % 64, (i / 64) % 64, 1, 1);
                    }
                    window.surface.commit();
                }
                "damage-negative-size" => {
                    window.surface.damage_buffer(10, 10, -5, -7);
                    window.surface.damage(10, 10, i32::MIN, -1);
                    window.surface.commit();
                }
                "one-buffer-on-two-surfaces" => {
                    let other = compositor.create_surface(&qh, ());
                    if let Some(buffer) = &window.buffer {
                        other.attach(Some(buffer.wl_buffer()), 0, 0);
                    }
                    other.commit();
                }
                _ => window.destroy(),
            }
        }
        other => return Err(format!("unknown case {other}")),
    }
    Ok(outcome(&mut client, &conn))
}
