//! Real clients from Debian and the project's own test client against the headless compositor
//! on two software GPUs: windows are shown (screenshots), counted (`msg vram --json`), and every
//! byte is released once the clients exit.

mod common;

use common::*;

#[test]
fn weston_simple_shm() {
    shows_and_releases("weston-simple-shm", "weston");
}

#[test]
fn weston_simple_egl() {
    shows_and_releases("weston-simple-egl", "weston");
}

#[test]
fn foot() {
    shows_and_releases("foot -e sh -c 'echo tandem; sleep 30'", "foot");
}

#[test]
fn dmabuf_from_gpu1_shown_on_gpu0_goes_through_a_shadow_slot() {
    let script = format!(
        "WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --buffers dmabuf \
         --colour ffff0000 --size 200x150 --frames 10 & pid=$!\n{CAPTURE_WHILE_SHOWN}\n\
         kill $pid; wait $pid\n{CAPTURE_AFTER_AND_QUIT}"
    );
    let run = run_compositor(
        &[
            "--backend",
            "headless",
            "--gpus",
            "2",
            "--output",
            "320x240@0",
            "--no-foreign-dmabuf-imports",
        ],
        &script,
        &[],
    );
    let during = run.json("during.json");
    let gpus = during["gpus"].as_array().expect("gpus");
    let soft1 = gpus.iter().find(|g| g["id"] == "soft1").expect("soft1");
    assert_eq!(soft1["kinds"]["shadow_buffer"]["objects"], 1, "{during}");
    let soft0 = gpus.iter().find(|g| g["id"] == "soft0").expect("soft0");
    assert_eq!(soft0["bytes"], 0, "GPU 0 only imports the slot: {during}");
    // The window is at (16, 16); the moving squares stay in its top-left corner.
    assert_eq!(
        pixel(&run.path("during-output-0.png"), 150, 130),
        [255, 0, 0],
        "red from GPU 1"
    );
    let after = run.json("after.json");
    assert_eq!(after["total_bytes"].as_u64(), Some(0), "{after}");
}
