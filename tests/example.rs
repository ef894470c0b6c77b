//! examples/headless_compositor.rs, run as a user runs it: two real clients (weston-simple-shm
//! and Tandem's test client) over its socket, frames drawn on GPU 0 for an output on GPU 1, the
//! screenshot it writes checked on pixels, and nothing held for the clients once they are gone.

use std::path::PathBuf;
use std::process::Command;

/// A binary next to this test's own directory (target/debug/...).
fn built(relative: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test path");
    let debug = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/debug");
    let path = debug.join(relative);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo build --workspace --all-targets)",
        path.display()
    );
    path
}

fn installed(program: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        found,
        "{program} is missing: install the Debian package {package} (just deps)"
    );
}

#[test]
fn the_example_compositor_shows_real_clients_and_releases_them() {
    installed("weston-simple-shm", "weston");
    let example = built("examples/headless_compositor");
    let client = built("tandem-test-client");
    let dir = tempfile::tempdir().expect("temp dir");
    let shot = dir.path().join("example.png");
    let output = Command::new(&example)
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .args([
            "--size",
            "640x480",
            "--until-windows",
            "2",
            "--frames",
            "10",
        ])
        .args(["--client", "weston-simple-shm"])
        .args([
            "--client",
            &format!("{} --colour ff2040e0 --size 200x150", client.display()),
        ])
        .arg("--screenshot")
        .arg(&shot)
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "example failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("10 frames; 2 windows"), "{stdout}");
    assert!(
        stdout.contains("after the clients left: 0 bytes held for clients' surfaces"),
        "{stdout}"
    );

    let decoder = png::Decoder::new(std::fs::File::open(&shot).expect("screenshot written"));
    let mut reader = decoder.read_info().expect("png header");
    let mut pixels = vec![0; reader.output_buffer_size()];
    reader.next_frame(&mut pixels).expect("png data");
    // The bottom-right corner is far from the windows.
    let background = &pixels[pixels.len() - 4..].to_vec()[..];
    let blue = [0x20, 0x40, 0xe0, 0xff];
    let (mut test_client, mut other) = (0, 0);
    for px in pixels.chunks_exact(4) {
        if px == blue.as_slice() {
            test_client += 1;
        } else if px != background {
            other += 1;
        }
    }
    // Side by side, each window is wholly in view.
    assert!(
        test_client >= 200 * 150 * 9 / 10,
        "the test client's window: {test_client} pixels of its colour"
    );
    assert!(
        other > 250 * 250 / 2,
        "weston-simple-shm's window: {other} pixels that are neither background nor the test client"
    );
}
