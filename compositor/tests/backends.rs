//! The winit backend under Xvfb, and the tty backend's dry run on a machine without GPUs.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        require("Xvfb", "xvfb");
        let number = 100 + std::process::id() % 800;
        let display = format!(":{number}");
        let child = Command::new("Xvfb")
            .args([
                display.as_str(),
                "-screen",
                "0",
                "1024x768x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts");
        let socket = format!("/tmp/.X11-unix/X{number}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !Path::new(&socket).exists() {
            assert!(
                Instant::now() < deadline,
                "Xvfb did not come up on {display}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Xvfb { child, display }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn winit_window_shows_a_client_under_xvfb() {
    require("xwd", "x11-apps");
    require("/usr/bin/convert", "imagemagick");
    let xvfb = Xvfb::start();
    let script = format!(
        "tandem-test-client --colour ff00ff00 --size 200x150 & pid=$!\n{CAPTURE_WHILE_SHOWN}\n\
         xwd -root -silent -display {display} | /usr/bin/convert xwd:- \"$OUT/x11.png\"\n\
         kill $pid; wait $pid\n{CAPTURE_AFTER_AND_QUIT}",
        display = xvfb.display
    );
    let run = run_compositor(
        &["--backend", "winit"],
        &script,
        &[("DISPLAY", xvfb.display.as_str())],
    );
    // The nested window sits at the root's origin; the client's window at (16, 16) in it.
    assert_eq!(
        pixel(&run.path("x11.png"), 100, 80),
        [0, 255, 0],
        "{}",
        run.stderr
    );
    assert_ne!(
        pixel(&run.path("x11.png"), 600, 500),
        [0, 255, 0],
        "only the window is green"
    );
    assert_eq!(run.json("after.json")["total_bytes"].as_u64(), Some(0));
}

#[test]
fn tty_dry_run_prints_a_plan_and_exits_zero() {
    let output = Command::new(env!("CARGO_BIN_EXE_tandem-compositor"))
        .args(["--backend", "tty", "--dry-run"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("tty plan:"), "{stdout}");
}
