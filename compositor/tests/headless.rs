//! The compositor binary, headless on two software GPUs, with real clients from Debian.

use std::path::Path;
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

/// Counts pixels of a PNG that differ from the output background.
fn foreground_pixels(path: &Path) -> usize {
    let decoder = png::Decoder::new(std::fs::File::open(path).expect("screenshot exists"));
    let mut reader = decoder.read_info().expect("png header");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("png data");
    let background = [26u8, 26, 36];
    pixels[..info.buffer_size()]
        .chunks_exact(4)
        .filter(|p| {
            p[..3]
                .iter()
                .zip(background)
                .any(|(a, b)| a.abs_diff(b) > 2)
        })
        .count()
}

#[test]
fn weston_simple_shm_is_shown_on_both_gpus() {
    require("weston-simple-shm");
    let runtime = runtime_dir();
    let shots = tempfile::tempdir().expect("temp dir");
    let status = Command::new(env!("CARGO_BIN_EXE_tandem-compositor"))
        .args(["--backend", "headless", "--layout", "mirror"])
        .args([
            "--gpus",
            "2",
            "--output",
            "320x240@0",
            "--output",
            "320x240@1",
        ])
        .args(["--exit-after", "3", "--screenshot-dir"])
        .arg(shots.path())
        .args(["--", "weston-simple-shm"])
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env("RUST_LOG", "warn")
        .status()
        .expect("compositor runs");
    assert!(status.success());
    for output in ["output-0.png", "output-1.png"] {
        let drawn = foreground_pixels(&shots.path().join(output));
        // weston-simple-shm's window is 250x250 at (16, 16): most of it lies inside 320x240.
        assert!(
            drawn > 200 * 200,
            "{output}: only {drawn} pixels of the client"
        );
    }
}

#[test]
fn demo_releases_every_byte_when_clients_exit() {
    require("weston-simple-shm");
    let runtime = runtime_dir();
    let output = Command::new(env!("CARGO_BIN_EXE_tandem-compositor"))
        .args(["demo", "--duration", "4", "--concurrent", "2"])
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
