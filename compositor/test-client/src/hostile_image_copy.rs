//! Hostile ext-image-copy-capture clients: a frame captured without a buffer or twice, damage
//! of no size, a second frame while one lives, options the protocol does not define (each a
//! protocol error), and what must be survived: a buffer of the wrong size (its frame fails
//! with `buffer_constraints`), damage as large as the integers allow, a buffer or a session
//! destroyed while its frame waits. `hostile_capture::run` hands every case named
//! `capture-ext-*` to [`run`].

use std::time::Duration;

use wayland_protocols::ext::image_copy_capture::v1::client::ext_image_copy_capture_manager_v1::Options;

use crate::hostile::{outcome, Expect, Outcome};
use crate::image_copy::{ExtSource, FrameEvents, FrameOutcome, SessionEvents};
use crate::screencopy::CaptureInto;
use crate::TestClient;

const MANAGER: &str = "ext_image_copy_capture_manager_v1";
const SESSION: &str = "ext_image_copy_capture_session_v1";
const FRAME: &str = "ext_image_copy_capture_frame_v1";
const INVALID_OPTION: u32 = 1;
const DUPLICATE_FRAME: u32 = 1;
const NO_BUFFER: u32 = 1;
const INVALID_BUFFER_DAMAGE: u32 = 2;
const ALREADY_CAPTURED: u32 = 3;
/// `failed`'s reason for a buffer that does not fit.
const BUFFER_CONSTRAINTS: u32 = 1;

pub const CASES: &[(&str, Expect)] = &[
    (
        "capture-ext-without-buffer",
        Expect::Error(FRAME, &[NO_BUFFER]),
    ),
    (
        "capture-ext-capture-twice",
        Expect::Error(FRAME, &[ALREADY_CAPTURED]),
    ),
    (
        "capture-ext-attach-after-capture",
        Expect::Error(FRAME, &[ALREADY_CAPTURED]),
    ),
    (
        "capture-ext-damage-of-no-size",
        Expect::Error(FRAME, &[INVALID_BUFFER_DAMAGE]),
    ),
    (
        "capture-ext-damage-negative",
        Expect::Error(FRAME, &[INVALID_BUFFER_DAMAGE]),
    ),
    (
        "capture-ext-second-frame",
        Expect::Error(SESSION, &[DUPLICATE_FRAME]),
    ),
    (
        "capture-ext-unknown-option",
        Expect::Error(MANAGER, &[INVALID_OPTION]),
    ),
    ("capture-ext-wrong-size-buffer", Expect::Survive),
    ("capture-ext-damage-extreme", Expect::Survive),
    ("capture-ext-many-damage-rectangles", Expect::Survive),
    ("capture-ext-buffer-destroyed-before-ready", Expect::Survive),
    (
        "capture-ext-session-destroyed-while-waiting",
        Expect::Survive,
    ),
];

/// Runs one case against the compositor of WAYLAND_DISPLAY.
pub fn run(case: &str) -> Result<Outcome, String> {
    let mut client = TestClient::connect_env()?;
    client.roundtrip()?;
    let conn = client.conn.clone();
    let qh = client.qh();
    if case == "capture-ext-unknown-option" {
        let manager = client
            .globals
            .image_copy
            .clone()
            .ok_or("no ext_image_copy_capture_manager_v1")?;
        let session = client.ext_session(&ExtSource::Output(0), false)?;
        let sources = client
            .globals
            .output_sources
            .clone()
            .ok_or("no output source manager")?;
        let (name, version) = *client.globals.output_globals.first().ok_or("no output")?;
        let registry = client.globals.registry.clone().ok_or("no registry")?;
        let output: wayland_client::protocol::wl_output::WlOutput =
            registry.bind(name, version.min(3), &qh, ());
        let source = sources.create_source(&output, &qh, ());
        let _bad = manager.create_session(
            &source,
            Options::from_bits_retain(0x80),
            &qh,
            SessionEvents::default(),
        );
        drop(session);
        return Ok(outcome(&mut client, &conn));
    }
    let session = client.ext_session(&ExtSource::Output(0), false)?;
    let (w, h) = session.size().ok_or("no size")?;
    let size = (w as i32, h as i32);
    let fitting = client.capture_buffer(CaptureInto::Shm, 1, size)?;
    let frame_of = |client: &TestClient| {
        session
            .session
            .create_frame(&client.qh(), FrameEvents::default())
    };
    match case {
        "capture-ext-without-buffer" => frame_of(&client).capture(),
        "capture-ext-capture-twice" => {
            let frame = frame_of(&client);
            frame.attach_buffer(fitting.wl_buffer());
            frame.capture();
            frame.capture();
        }
        "capture-ext-attach-after-capture" => {
            let frame = frame_of(&client);
            frame.attach_buffer(fitting.wl_buffer());
            frame.capture();
            frame.attach_buffer(fitting.wl_buffer());
        }
        "capture-ext-damage-of-no-size" => {
            let frame = frame_of(&client);
            frame.attach_buffer(fitting.wl_buffer());
            frame.damage_buffer(0, 0, 0, 10);
        }
        "capture-ext-damage-negative" => {
            let frame = frame_of(&client);
            frame.attach_buffer(fitting.wl_buffer());
            frame.damage_buffer(-1, 0, 10, 10);
        }
        "capture-ext-second-frame" => {
            let _first = frame_of(&client);
            let _second = frame_of(&client);
        }
        "capture-ext-wrong-size-buffer" => {
            let wrong = client.capture_buffer(CaptureInto::Shm, 1, (size.0, size.1 - 1))?;
            let (ended, _) = client.ext_capture_with(
                &session,
                wrong.wl_buffer(),
                None,
                Duration::from_secs(10),
            )?;
            if ended != FrameOutcome::Failed(BUFFER_CONSTRAINTS) {
                return Err(format!(
                    "a buffer one row short ended as {ended:?}, not failed(buffer_constraints)"
                ));
            }
        }
        "capture-ext-damage-extreme" | "capture-ext-many-damage-rectangles" => {
            let frame = frame_of(&client);
            frame.attach_buffer(fitting.wl_buffer());
            if case == "capture-ext-damage-extreme" {
                frame.damage_buffer(i32::MAX, i32::MAX, i32::MAX, i32::MAX);
                frame.damage_buffer(0, 0, i32::MAX, i32::MAX);
            } else {
                for i in 0..10_000 {
                    frame.damage_buffer(i % 97, i % 89, 3, 5);
                }
            }
            frame.capture();
        }
        "capture-ext-buffer-destroyed-before-ready" => {
            let frame = frame_of(&client);
            let doomed = client.capture_buffer(CaptureInto::Shm, 1, size)?;
            frame.attach_buffer(doomed.wl_buffer());
            frame.capture();
            drop(doomed);
        }
        "capture-ext-session-destroyed-while-waiting" => {
            // The first frame is served at once; the second waits for a change that does
            // not come, and its session goes meanwhile.
            let (first, _) = client.ext_capture_with(
                &session,
                fitting.wl_buffer(),
                Some(size),
                Duration::from_secs(10),
            )?;
            if first != FrameOutcome::Ready {
                return Err(format!("the first frame ended as {first:?}"));
            }
            let frame = frame_of(&client);
            frame.attach_buffer(fitting.wl_buffer());
            frame.capture();
            client.roundtrip()?;
            drop(session);
            let outcome = outcome(&mut client, &conn);
            frame.destroy();
            return Ok(outcome);
        }
        _ => return Err(format!("unknown capture case {case}")),
    }
    let outcome = outcome(&mut client, &conn);
    drop(fitting);
    Ok(outcome)
}
