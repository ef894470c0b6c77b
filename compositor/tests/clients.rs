//! Real clients from Debian and the project's own test client against the headless compositor
//! on two software GPUs: windows are shown (screenshots), counted (`msg vram --json`), and every
//! byte is released once the clients exit.

mod common;

use common::*;

/// Runs `client` on a mirrored two-GPU layout and checks screenshot, report and release.
fn shows_and_releases(client: &str, package: &str) {
    require(client.split_whitespace().next().expect("program"), package);
    let script = format!(
        "{client} & pid=$!\n{CAPTURE_WHILE_SHOWN}\nkill $pid; wait $pid\n{CAPTURE_AFTER_AND_QUIT}"
    );
    let run = run_compositor(
        &two_gpus_mirrored(&["--output", "640x480@0", "--output", "640x480@1"]),
        &script,
        &[("LIBGL_ALWAYS_SOFTWARE", "1")],
    );
    let windows = run.json("windows.json");
    assert!(
        !windows["windows"].as_array().expect("windows").is_empty(),
        "{client} mapped no window: {windows}\n{}",
        run.stderr
    );
    for output in ["during-output-0.png", "during-output-1.png"] {
        let drawn = foreground_pixels(&run.path(output));
        assert!(
            drawn > 10_000,
            "{client}: {output} shows only {drawn} client pixels"
        );
    }
    let during = run.json("during.json");
    assert!(
        during["total_bytes"].as_u64().expect("total_bytes") > 0,
        "{during}"
    );
    for gpu in during["gpus"].as_array().expect("gpus") {
        assert!(
            gpu["bytes"].as_u64().expect("bytes") > 0,
            "{client}: nothing on {gpu}"
        );
    }
    let window = &during["windows"][0];
    assert!(
        window["bytes"].as_u64().expect("bytes") > 0 && window["pid"].as_i64().is_some(),
        "{window}"
    );
    let after = run.json("after.json");
    assert_eq!(
        after["total_bytes"].as_u64(),
        Some(0),
        "{client} left bytes behind: {after}"
    );
}

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
