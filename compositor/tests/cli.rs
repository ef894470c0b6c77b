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

#[test]
fn demo_releases_every_byte_when_clients_exit() {
    require("weston-simple-shm");
    let runtime = runtime_dir();
    let output = Command::new(env!("CARGO_BIN_EXE_tandem-compositor"))
        .args(["demo", "--duration", "4", "--concurrent", "2"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env("RUST_LOG", "warn")
        .output()
        .expect("demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "demo failed:\n{stdout}");
    assert!(
        stdout.contains("native_texture="),
        "the table showed textures:\n{stdout}"
    );
    assert!(
        stdout.contains("bytes retained after all clients exited: 0"),
        "demo output:\n{stdout}"
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
fn missing_runtime_dir_is_a_clear_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_tandem-compositor"))
        .args(["--backend", "headless", "--exit-after", "1"])
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("XDG_RUNTIME_DIR is not set"), "{stderr}");
}
