//! The compositor binary's command line: help, clear errors, and the demo.

use std::process::Command;

fn require(program: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
    assert!(
        found,
        "{program} is not installed: run `just deps` (Debian package weston)"
    );
}

fn runtime_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod");
    dir
}

mod common;

/// Runs the demo headless; returns (status ok, stdout, stderr).
fn demo(args: &[&str], runtime: &std::path::Path) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tandem-compositor"))
        .arg("demo")
        .args(args)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("RUST_LOG")
        .env("XDG_RUNTIME_DIR", runtime)
        .output()
        .expect("demo runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn demo_releases_every_byte_and_reads_as_a_report() {
    require("weston-simple-shm");
    let runtime = runtime_dir();
    let shots = tempfile::tempdir().expect("temp dir");
    let shots_arg = shots.path().to_str().expect("utf-8 path");
    let (ok, stdout, stderr) = demo(
        &[
            "--duration",
            "4",
            "--concurrent",
            "2",
            "--screenshot-dir",
            shots_arg,
        ],
        runtime.path(),
    );
    assert!(ok, "demo failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("native_texture="),
        "the table showed textures:\n{stdout}"
    );
    assert!(
        stdout.contains("bytes retained after all clients exited: 0"),
        "demo output:\n{stdout}"
    );
    // A report: the final table once, no colour codes when not on a terminal, and at the default
    // level no logs beyond warnings (smithay's EGL extension lists are kilobytes each).
    assert_eq!(
        stdout.matches("=== after all clients exited ===").count(),
        1,
        "{stdout}"
    );
    assert!(
        !stdout.contains('\x1b') && !stderr.contains('\x1b'),
        "{stderr}"
    );
    assert!(
        !stderr.contains("EGL_"),
        "extension lists at the default level:\n{stderr}"
    );
    assert!(
        stderr.lines().all(|l| !l.contains(" INFO ")),
        "info lines at the default level:\n{stderr}"
    );
    // The screenshots were taken while clients were shown.
    for index in 0..2 {
        let path = shots.path().join(format!("output-{index}.png"));
        let shown = common::foreground_pixels(&path);
        assert!(
            shown > 20_000,
            "{}: only {shown} pixels differ from the background",
            path.display()
        );
    }
}

#[test]
fn demo_with_dmabuf_shows_the_shadow_copy_path() {
    require("weston-simple-shm");
    let runtime = runtime_dir();
    let (ok, stdout, stderr) = demo(&["--duration", "4", "--dmabuf"], runtime.path());
    assert!(ok, "demo failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("shadow_buffer="), "{stdout}");
    assert!(
        stdout.contains("bytes retained after all clients exited: 0"),
        "{stdout}"
    );
}

#[test]
fn help_explains_the_options() {
    let output = Command::new(env!("CARGO_BIN_EXE_tandem-compositor"))
        .arg("--help")
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&output.stdout);
    for option in [
        "--backend",
        "--gpus",
        "--output",
        "--screenshot-dir",
        "demo",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}

#[test]
fn a_missing_runtime_dir_is_named_with_a_command_that_creates_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_tandem-compositor"))
        .args(["--backend", "headless", "--exit-after", "1"])
        .env("XDG_RUNTIME_DIR", "/nonexistent/tandem-runtime")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("XDG_RUNTIME_DIR=/nonexistent/tandem-runtime does not exist")
            && stderr.contains("mkdir -m 700 -p /nonexistent/tandem-runtime"),
        "{stderr}"
    );
}

#[test]
fn without_runtime_dir_a_private_one_is_used_and_msg_finds_it() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let bin = env!("CARGO_BIN_EXE_tandem-compositor");
    let mut compositor = Command::new(bin)
        .args(["--backend", "headless", "--gpus", "1", "--exit-after", "30"])
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("TANDEM_SOCKET")
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let msg = |what: &str| {
        Command::new(bin)
            .args(["msg", what])
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("TANDEM_SOCKET")
            .env("TMPDIR", tmp.path())
            .output()
            .expect("msg runs")
    };
    let mut answered = false;
    for _ in 0..100 {
        if msg("gpus").status.success() {
            answered = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let quit = msg("quit");
    let status = compositor.wait().expect("exits");
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut compositor.stdout.take().expect("stdout"), &mut stdout)
        .expect("stdout");
    assert!(answered, "msg found the compositor:\n{stdout}");
    assert!(quit.status.success() && status.success(), "{stdout}");
    let dir = std::fs::read_dir(tmp.path())
        .expect("tmp")
        .filter_map(|e| e.ok())
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("tandem-runtime-")
        })
        .expect("the private runtime dir was made");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&dir.metadata().expect("meta").permissions());
    assert_eq!(mode & 0o777, 0o700);
    assert!(
        stdout.contains(&format!("XDG_RUNTIME_DIR={}", dir.path().display())),
        "{stdout}"
    );
}

#[test]
fn clients_that_exit_are_reaped_at_once() {
    let runtime = runtime_dir();
    let bin = env!("CARGO_BIN_EXE_tandem-compositor");
    let mut compositor = Command::new(bin)
        .args(["--backend", "headless", "--gpus", "1", "--exit-after", "30"])
        .args(["--", "sh", "-c", "exit 0"])
        .env("XDG_RUNTIME_DIR", runtime.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starts");
    let pid = compositor.id();
    // The client exits at once; give the compositor a few frames to notice.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let zombies: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // pid (comm) state ppid ...
            let fields: Vec<&str> = stat.rsplit(") ").next().unwrap_or("").split(' ').collect();
            fields.first() == Some(&"Z") && fields.get(1) == Some(&pid.to_string().as_str())
        })
        .collect();
    let _ = Command::new(bin)
        .args(["msg", "quit"])
        .env("XDG_RUNTIME_DIR", runtime.path())
        .status();
    let _ = compositor.wait();
    assert!(zombies.is_empty(), "zombie children: {zombies:?}");
}

#[test]
fn nonsense_gpu_counts_are_refused() {
    for command in [
        &["--gpus", "0"][..],
        &["demo", "--gpus", "0"],
        &["stress", "--gpus", "17"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_tandem-compositor"))
            .args(command)
            .output()
            .expect("runs");
        assert!(!output.status.success(), "{command:?} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("between 1 and 16 GPUs"), "{stderr}");
    }
}

#[test]
fn the_test_client_describes_itself() {
    let output = Command::new(env!("CARGO_BIN_EXE_tandem-test-client"))
        .arg("--help")
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("test client"), "{help}");
    assert!(!help.contains("A Wayland compositor"), "{help}");
}
