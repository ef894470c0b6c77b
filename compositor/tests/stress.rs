//! The stress test, short: Tandem retains nothing per window, the smithay baseline's leak shows.

use std::process::Command;

/// Runs `tandem-compositor stress --json ARGS` on a bare environment; returns summary.json.
fn run_stress(args: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_tandem-compositor"))
        .args(["stress", "--json"])
        .args(args)
        .env_remove("XDG_RUNTIME_DIR")
        .env("RUST_LOG", "warn")
        .output()
        .expect("stress runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stress failed:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(&stdout).expect("summary.json on stdout")
}

#[test]
fn stress_compare_reports_tandem_clean_and_the_baseline_leaking() {
    let out = tempfile::tempdir().expect("temp dir");
    let out_dir = out.path().to_str().expect("utf-8 path");
    let summary = run_stress(&[
        "--compare",
        "--windows",
        "16",
        "--cycles",
        "3",
        "--out",
        out_dir,
    ]);
    assert_eq!(summary["mode"], "tandem");
    assert_eq!(summary["vram_per_window_bytes"]["ledger"], 0.0);
    assert_eq!(summary["vram_per_window_bytes"]["gl_names"], 0.0);
    assert_eq!(summary["steady_allocations_per_frame"], 0.0);
    // Dmabufs cross GPUs through shadow slots here (GPU draws: their bytes are not counted on
    // the CPU side, so no copied/damaged ratio is reported for them; copy_paths checks the CPU
    // path's, counted as the bytes move).
    assert!(
        summary["cross_gpu_dmabufs"]
            .as_str()
            .is_some_and(|path| path.starts_with("shadow copies")),
        "{summary}"
    );
    let baseline = &summary["modes"][1];
    assert_eq!(baseline["mode"], "smithay");
    let leaked = baseline["vram_per_window_bytes"]["gl_names"]
        .as_f64()
        .expect("gl_names");
    assert!(
        leaked > 0.0,
        "the baseline's retained textures are visible: {baseline}"
    );
    for file in ["samples.csv", "memory.png", "summary.json"] {
        assert!(out.path().join(file).is_file(), "{file} written");
    }
}

#[test]
fn stress_with_another_client_measures_that_clients_windows() {
    let found = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| dir.join("weston-simple-shm").is_file())
    });
    assert!(
        found,
        "weston-simple-shm is not installed: run `just deps` (Debian package weston)"
    );
    let summary = run_stress(&[
        "--client-cmd",
        "weston-simple-shm",
        "--windows",
        "4",
        "--cycles",
        "2",
        "--frames",
        "5",
    ]);
    // weston-simple-shm's window is 250x250, whatever --size says.
    assert_eq!(summary["window_bytes"], 250 * 250 * 4, "{summary}");
    assert!(summary["size"].is_null(), "{summary}");
    let rss = summary["vram_per_window_bytes"]["rss"]
        .as_f64()
        .expect("rss figure");
    assert!(rss >= 0.0, "RSS per window {rss}");
}
