//! Idle GPU parking on software GPUs: a GPU with no output, no client and nothing in the
//! ledger gives up its context; a client on its socket wakes it, its window is drawn through it
//! and shown; once the client leaves, the GPU is parked again.

mod common;

use common::*;

#[test]
fn an_idle_gpu_is_parked_woken_by_a_client_of_its_socket_and_parked_again() {
    let script = r#"
parked() { tandem-compositor msg gpus --json | python3 -c '
import json, sys
sys.exit(0 if any(g["id"] == "soft1" and g["parked"] for g in json.load(sys.stdin)["gpus"]) else 1)'; }
wait_parked() {
  i=0
  until parked; do i=$((i+1)); [ $i -gt 100 ] && { echo "$1" >> "$OUT/failures.txt"; return; }; sleep 0.1; done
}
wait_parked "soft1 was never parked"
tandem-compositor msg gpus --json > "$OUT/gpus-parked.json"
tandem-compositor msg gpus > "$OUT/gpus-parked.txt"
WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --buffers dmabuf --colour ff00c0ff --size 200x120 & client=$!
i=0
until [ "$(tandem-compositor msg windows --json | grep -c app_id)" -ge 1 ]; do
  i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1
done
sleep 1.5
cp "$OUT/output-0.png" "$OUT/shown.png"
tandem-compositor msg windows --json > "$OUT/windows.json"
tandem-compositor msg gpus --json > "$OUT/gpus-woken.json"
tandem-compositor msg gpus > "$OUT/gpus-woken.txt"
tandem-compositor msg vram --json > "$OUT/vram-woken.json"
kill $client; wait
wait_parked "soft1 was not parked again after its client left"
tandem-compositor msg gpus --json > "$OUT/gpus-reparked.json"
tandem-compositor msg vram --json > "$OUT/vram-reparked.json"
tandem-compositor msg quit
"#;
    require("python3", "python3");
    // soft1 drives no output; it imports no other GPU's buffers, so its client's window reaches
    // soft0's output through a shadow slot that soft1 draws.
    let run = run_compositor(
        &[
            "--backend",
            "headless",
            "--gpus",
            "2",
            "--output",
            "480x320@0",
            "--no-foreign-dmabuf-imports",
            "--park-after",
            "1",
        ],
        script,
        &[],
    );
    if let Ok(failures) = std::fs::read_to_string(run.path("failures.txt")) {
        panic!("{failures}\n{}\n{}", run.stdout, run.stderr);
    }
    let gpu = |file: &str, id: &str| {
        run.json(file)["gpus"]
            .as_array()
            .expect("gpus")
            .iter()
            .find(|g| g["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {file}"))
    };
    let parked = gpu("gpus-parked.json", "soft1");
    assert_eq!(parked["parked"], true, "{parked}");
    assert_eq!(
        parked["renderer"], "",
        "a parked GPU has no renderer: {parked}"
    );
    assert_eq!(
        gpu("gpus-parked.json", "soft0")["parked"],
        false,
        "the GPU that draws the output stays awake"
    );
    println!(
        "{}",
        std::fs::read_to_string(run.path("gpus-parked.txt")).unwrap_or_default()
    );

    let woken = gpu("gpus-woken.json", "soft1");
    assert_eq!(
        woken["parked"], false,
        "a client of its socket woke it: {woken}"
    );
    let wake_ms = woken["last_wake_ms"].as_f64().expect("wake time recorded");
    println!("soft1 woke in {wake_ms:.1} ms");
    println!(
        "{}",
        std::fs::read_to_string(run.path("gpus-woken.txt")).unwrap_or_default()
    );
    let on_soft1 = |file: &str| {
        run.json(file)["gpus"]
            .as_array()
            .expect("gpus")
            .iter()
            .find(|g| g["id"] == "soft1")
            .map(|g| g["bytes"].as_u64().expect("bytes"))
            .unwrap_or(0)
    };
    assert!(
        on_soft1("vram-woken.json") > 0,
        "the woken GPU draws its client's shadow slot: {}",
        run.json("vram-woken.json")
    );

    let windows = run.json("windows.json");
    let window = &windows["windows"][0];
    let (x, y) = (
        window["x"].as_u64().expect("x") as u32,
        window["y"].as_u64().expect("y") as u32,
    );
    assert_eq!(
        pixel(&run.path("shown.png"), x + 100, y + 60),
        [0x00, 0xc0, 0xff],
        "the window of the woken GPU's client is on soft0's output"
    );

    assert_eq!(gpu("gpus-reparked.json", "soft1")["parked"], true);
    assert_eq!(on_soft1("vram-reparked.json"), 0, "nothing stays on it");
}

/// `[gpus] park_after` in the configuration file: 0 keeps soft1 open; after the file says 1 and
/// is reloaded, soft1 parks. `--park-after` on the command line wins over the file.
#[test]
fn the_configuration_file_says_when_an_idle_gpu_parks() {
    let config = tempfile::NamedTempFile::new().expect("config file");
    std::fs::write(config.path(), "[gpus]\npark_after = 0\n").expect("config");
    let script = r#"
parked() { tandem-compositor msg gpus --json | python3 -c '
import json, sys
sys.exit(0 if any(g["id"] == "soft1" and g["parked"] for g in json.load(sys.stdin)["gpus"]) else 1)'; }
sleep 2.5
parked && echo parked > "$OUT/with-0.txt" || echo open > "$OUT/with-0.txt"
printf '[gpus]\npark_after = 1\n' > "$CONFIG"
tandem-compositor msg reload > "$OUT/reload.txt" 2>&1
i=0; until parked; do i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.1; done
parked && echo parked > "$OUT/with-1.txt" || echo open > "$OUT/with-1.txt"
tandem-compositor msg quit
"#;
    let config_path = config.path().to_string_lossy().into_owned();
    let base = [
        "--backend",
        "headless",
        "--gpus",
        "2",
        "--output",
        "320x240@0",
        "--config",
        &config_path,
    ];
    let run = run_compositor(&base, script, &[("CONFIG", &config_path)]);
    let text = |run: &Run, name: &str| {
        std::fs::read_to_string(run.path(name))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    assert_eq!(text(&run, "with-0.txt"), "open", "park_after = 0: never");
    assert_eq!(
        text(&run, "with-1.txt"),
        "parked",
        "park_after = 1 after msg reload ({})",
        text(&run, "reload.txt")
    );

    std::fs::write(config.path(), "[gpus]\npark_after = 1\n").expect("config");
    let flag_wins = r#"
sleep 2.5
tandem-compositor msg gpus --json > "$OUT/gpus.json"
tandem-compositor msg quit
"#;
    let mut args = base.to_vec();
    args.extend(["--park-after", "0"]);
    let run = run_compositor(&args, flag_wins, &[]);
    let soft1_parked = run.json("gpus.json")["gpus"]
        .as_array()
        .and_then(|gpus| gpus.iter().find(|g| g["id"] == "soft1"))
        .map(|g| g["parked"].clone());
    assert_eq!(
        soft1_parked,
        Some(serde_json::Value::Bool(false)),
        "--park-after 0 wins over the file's 1"
    );
}
