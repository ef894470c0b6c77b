//! Hostile screen captures (wlr-screencopy): buffers a frame did not offer (an shm buffer's
//! format and stride are checked by wl_shm itself before a frame sees them), a frame copied
//! twice, a buffer destroyed before the copy is served, rectangles outside the output or at
//! the integers' extremes. Wrong buffers get the frame's `invalid_buffer`, a second copy
//! `already_used`; the rest must be survived (a frame that cannot be served gets `failed`).
//! `hostile::run` hands every case named `capture-*` to [`run`].

use wayland_client::protocol::wl_shm;

use crate::hostile::{outcome, Expect, Outcome};
use crate::screencopy::CaptureInto;
use crate::{Pixels, TestClient};

const FRAME: &str = "zwlr_screencopy_frame_v1";
const ALREADY_USED: u32 = 0;
const INVALID_BUFFER: u32 = 1;

pub const CASES: &[(&str, Expect)] = &[
    (
        "capture-shm-buffer-too-small",
        Expect::Error(FRAME, &[INVALID_BUFFER]),
    ),
    (
        "capture-shm-buffer-too-tall",
        Expect::Error(FRAME, &[INVALID_BUFFER]),
    ),
    (
        "capture-dmabuf-wrong-format",
        Expect::Error(FRAME, &[INVALID_BUFFER]),
    ),
    (
        "capture-dmabuf-wrong-size",
        Expect::Error(FRAME, &[INVALID_BUFFER]),
    ),
    ("capture-copy-twice", Expect::Error(FRAME, &[ALREADY_USED])),
    ("capture-buffer-destroyed-before-ready", Expect::Survive),
    ("capture-frame-destroyed-before-ready", Expect::Survive),
    ("capture-region-outside-the-output", Expect::Survive),
    ("capture-region-extreme", Expect::Survive),
];

/// Runs one case against the compositor of WAYLAND_DISPLAY.
pub fn run(case: &str) -> Result<Outcome, String> {
    if case.starts_with("capture-ext-") {
        return crate::hostile_image_copy::run(case);
    }
    let mut client = TestClient::connect_env()?;
    client.roundtrip()?;
    let conn = client.conn.clone();
    let qh = client.qh();
    let shm = client.globals.shm.clone().ok_or("no wl_shm")?;
    let region = match case {
        "capture-region-outside-the-output" => Some((100_000, 100_000, 64, 64)),
        "capture-region-extreme" => Some((i32::MIN, i32::MAX, i32::MAX, i32::MIN)),
        _ => None,
    };
    let (events, frame) = match client.capture_frame(0, region, false) {
        Ok(frame) => frame,
        // A rectangle that is not on the output: the frame failed, as it should.
        Err(why) if region.is_some() && why == "failed" => return Ok(outcome(&mut client, &conn)),
        Err(why) => return Err(why),
    };
    let _ = events;
    // The output's size, from a capture that works.
    let mut probe = None;
    let size = client
        .capture(0, None, CaptureInto::Shm, false, false, &mut probe)
        .map(|c| (c.width as i32, c.height as i32))?;
    drop(probe);
    let shm_buffer = |width: i32, height: i32, stride: i32, format: wl_shm::Format| {
        let pixels = Pixels::with_stride(width.max(1), height.max(1), stride.max(4));
        let pool = shm.create_pool(pixels.fd(), pixels.len() as i32, &qh, ());
        let buffer = pool.create_buffer(0, width, height, stride, format, &qh, ());
        pool.destroy();
        (pixels, buffer)
    };
    let xrgb = wl_shm::Format::Xrgb8888;
    match case {
        "capture-shm-buffer-too-small" => {
            let (_pixels, buffer) = shm_buffer(size.0 - 1, size.1, size.0 * 4, xrgb);
            frame.copy(&buffer);
        }
        "capture-shm-buffer-too-tall" => {
            let (_pixels, buffer) = shm_buffer(size.0, size.1 + 1, size.0 * 4, xrgb);
            frame.copy(&buffer);
        }
        "capture-dmabuf-wrong-size" | "capture-dmabuf-wrong-format" => {
            let (fourcc, wrong_size) = if case == "capture-dmabuf-wrong-size" {
                (crate::formats::XRGB8888, (size.0 / 2, size.1 / 2))
            } else {
                (crate::formats::ABGR8888, size)
            };
            let wrong =
                client.capture_buffer(CaptureInto::Dmabuf { gpu: 0 }, fourcc, wrong_size)?;
            frame.copy(wrong.wl_buffer());
            let outcome = outcome(&mut client, &conn);
            drop(wrong);
            return Ok(outcome);
        }
        "capture-copy-twice" => {
            let (_pixels, buffer) = shm_buffer(size.0, size.1, size.0 * 4, xrgb);
            frame.copy(&buffer);
            frame.copy(&buffer);
        }
        "capture-buffer-destroyed-before-ready" => {
            let (_pixels, buffer) = shm_buffer(size.0, size.1, size.0 * 4, xrgb);
            frame.copy(&buffer);
            buffer.destroy();
        }
        "capture-frame-destroyed-before-ready" => {
            let (_pixels, buffer) = shm_buffer(size.0, size.1, size.0 * 4, xrgb);
            frame.copy_with_damage(&buffer);
            frame.destroy();
            let outcome = outcome(&mut client, &conn);
            buffer.destroy();
            return Ok(outcome);
        }
        "capture-region-outside-the-output" | "capture-region-extreme" => {
            let (_pixels, buffer) = shm_buffer(size.0, size.1, size.0 * 4, xrgb);
            frame.copy(&buffer);
        }
        _ => return Err(format!("unknown capture case {case}")),
    }
    Ok(outcome(&mut client, &conn))
}
