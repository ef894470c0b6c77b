//! The stress test, short: Tandem retains nothing per window, the smithay baseline's leak shows.

use std::process::Command;

#[test]
fn stress_compare_reports_tandem_clean_and_the_baseline_leaking() {
    let out = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_tandem-compositor"))
        .args([
            "stress",
            "--compare",
            "--json",
            "--windows",
            "16",
            "--cycles",
            "3",
            "--out",
        ])
        .arg(out.path())
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
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("summary.json on stdout");
    assert_eq!(summary["mode"], "tandem");
    assert_eq!(summary["vram_per_window_bytes"]["ledger"], 0.0);
    assert_eq!(summary["vram_per_window_bytes"]["gl_names"], 0.0);
    assert_eq!(summary["steady_allocations_per_frame"], 0.0);
    let ratio = summary["copied_bytes_per_damaged_byte"]
        .as_f64()
        .expect("shadow copies ran");
    assert!(ratio <= 1.05, "copied/damaged = {ratio}");
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
