//! Which GPU draws an output, chosen per output: the configuration file's `render_gpu` makes
//! soft0 draw soft1's output (through an intermediate the ledger counts) and `msg output-render`
//! gives it back to soft1 (the intermediate goes); the window is shown on the output's own
//! buffer either way. Unknown GPUs and outputs are refused with their names.

mod common;

use common::*;

fn output<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["outputs"]
        .as_array()
        .and_then(|outputs| outputs.iter().find(|o| o["name"] == name))
        .unwrap_or_else(|| panic!("no output {name} in {json}"))
}

fn intermediate_bytes(vram: &serde_json::Value) -> u64 {
    vram["gpus"]
        .as_array()
        .map(|gpus| {
            gpus.iter()
                .filter_map(|gpu| gpu["kinds"]["output_intermediate"]["bytes"].as_u64())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn the_gpu_that_draws_an_output_is_chosen_by_configuration_and_over_ipc() {
    let config = tempfile::NamedTempFile::new().expect("config file");
    std::fs::write(
        config.path(),
        "[outputs.HEADLESS-2]\nrender_gpu = \"soft0\"\n",
    )
    .expect("config");
    let script = r#"
fresh_shot() { rm -f "$OUT/output-1.png"; i=0; until [ -e "$OUT/output-1.png" ]; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done; cp "$OUT/output-1.png" "$OUT/$1"; }
tandem-test-client --colour ffe03020 --size 200x150 > /dev/null 2>&1 & window=$!
i=0; until tandem-compositor msg windows --json | grep -q app_id; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
sleep 0.5
fresh_shot by-soft0.png
tandem-compositor msg outputs --json > "$OUT/outputs-config.json"
tandem-compositor msg vram --json > "$OUT/vram-config.json"
tandem-compositor msg output-render --output HEADLESS-2 --gpu soft1 > "$OUT/set.txt" 2>&1
sleep 0.3
fresh_shot by-soft1.png
tandem-compositor msg outputs --json > "$OUT/outputs-ipc.json"
tandem-compositor msg vram --json > "$OUT/vram-ipc.json"
tandem-compositor msg output-render --output HEADLESS-2 --gpu soft7 > "$OUT/bad-gpu.txt" 2>&1 && echo accepted >> "$OUT/bad-gpu.txt"
tandem-compositor msg output-render --output HEADLESS-9 --gpu soft0 > "$OUT/bad-output.txt" 2>&1 && echo accepted >> "$OUT/bad-output.txt"
kill $window
tandem-compositor msg quit
"#;
    let config_path = config.path().to_string_lossy().into_owned();
    let args = two_gpus_mirrored(&["--config", &config_path]);
    let run = run_compositor(&args, script, &[]);
    let text = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    let configured = run.json("outputs-config.json");
    assert_eq!(output(&configured, "HEADLESS-2")["render_gpu"], "soft0");
    assert_eq!(output(&configured, "HEADLESS-2")["target_gpu"], "soft1");
    assert!(
        intermediate_bytes(&run.json("vram-config.json")) > 0,
        "soft0 draws soft1's output through an intermediate"
    );
    let shown = foreground_pixels(&run.path("by-soft0.png"));
    assert!(
        shown > 200 * 150 * 8 / 10,
        "drawn by soft0, HEADLESS-2 shows the window ({shown} pixels)"
    );
    assert_eq!(text("set.txt").trim(), "ok");
    let moved = run.json("outputs-ipc.json");
    assert_eq!(output(&moved, "HEADLESS-2")["render_gpu"], "soft1");
    assert_eq!(
        intermediate_bytes(&run.json("vram-ipc.json")),
        0,
        "drawn by its own GPU, it needs no intermediate"
    );
    let shown = foreground_pixels(&run.path("by-soft1.png"));
    assert!(
        shown > 200 * 150 * 8 / 10,
        "drawn by soft1, HEADLESS-2 shows the window ({shown} pixels)"
    );
    assert!(
        text("bad-gpu.txt").contains("no GPU soft7") && !text("bad-gpu.txt").contains("accepted"),
        "{}",
        text("bad-gpu.txt")
    );
    assert!(
        text("bad-output.txt").contains("no output HEADLESS-9")
            && !text("bad-output.txt").contains("accepted"),
        "{}",
        text("bad-output.txt")
    );
}
