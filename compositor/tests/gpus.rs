//! Removing a software GPU at run time over IPC while windows are shown through it, and adding
//! one back.

mod common;

use common::*;

#[test]
fn gpu_remove_and_add_over_ipc() {
    let script = r#"
tandem-test-client --colour ffff0000 --size 100x80 & a=$!
WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --buffers dmabuf --colour ff00ff00 --size 100x80 & b=$!
i=0
until [ "$(tandem-compositor msg windows --json | grep -c app_id)" -ge 2 ]; do
  i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1
done
sleep 0.5
tandem-compositor msg vram --json > "$OUT/before.json"
tandem-compositor msg gpu-remove --gpu soft1 > "$OUT/remove.txt"
sleep 1.5
cp "$OUT/output-1.png" "$OUT/after-remove.png"
tandem-compositor msg vram --json > "$OUT/after-remove.json"
if WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --frames 1 --quit-after-frames 2> "$OUT/refused.txt"; then
  echo served > "$OUT/removed-socket.txt"
else
  echo refused > "$OUT/removed-socket.txt"
fi
tandem-compositor msg gpu-add > "$OUT/add.txt"
WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu2 tandem-test-client --buffers dmabuf --frames 3 --quit-after-frames \
  && echo ok > "$OUT/new-gpu-client.txt"
kill $a $b; wait
sleep 0.5
tandem-compositor msg vram --json > "$OUT/after.json"
tandem-compositor msg quit
"#;
    let run = run_compositor(
        &two_gpus_mirrored(&["--output", "320x240@0", "--output", "320x240@1"]),
        script,
        &[],
    );
    let before = run.json("before.json");
    assert_eq!(before["gpus"].as_array().map(Vec::len), Some(2), "{before}");
    assert!(
        before["gpus"][1]["bytes"].as_u64().unwrap_or(0) > 0,
        "soft1 held textures: {before}"
    );
    let removed = run.json("after-remove.json");
    let gpus: Vec<&str> = removed["gpus"]
        .as_array()
        .expect("gpus")
        .iter()
        .filter_map(|g| g["id"].as_str())
        .collect();
    assert_eq!(gpus, vec!["soft0"], "{removed}");
    assert_eq!(
        removed["windows"].as_array().map(Vec::len),
        Some(2),
        "windows kept: {removed}"
    );
    // The output that soft1 drove is drawn by soft0 now, with both windows on it.
    let (pixels, _) = read_png(&run.path("after-remove.png"));
    let count = |rgb: [u8; 3]| pixels.chunks_exact(4).filter(|p| p[..3] == rgb).count();
    // Windows of 100x80 cascade with a 32 px step: the lower one is whole, the other at least
    // partly visible.
    assert!(count([0, 255, 0]) > 2000, "the dmabuf window is shown");
    assert!(count([255, 0, 0]) > 2000, "the shm window is shown");
    let removed_socket = std::fs::read_to_string(run.path("removed-socket.txt")).expect("probe");
    assert_eq!(
        removed_socket.trim(),
        "refused",
        "the removed GPU's socket no longer takes clients"
    );
    let added = std::fs::read_to_string(run.path("add.txt")).expect("add reply");
    assert!(
        added.contains("added soft2, socket tandem-0-gpu2"),
        "{added}"
    );
    assert!(
        run.path("new-gpu-client.txt").is_file(),
        "a client on the new GPU's socket is served"
    );
    assert_eq!(run.json("after.json")["total_bytes"].as_u64(), Some(0));
}

#[test]
fn a_gpu_added_at_run_time_gets_the_command_lines_quirks() {
    let script = r#"
tandem-compositor msg gpu-add > "$OUT/add.txt"
tandem-compositor msg gpus --json > "$OUT/gpus.json"
tandem-compositor msg quit
"#;
    let run = run_compositor(
        &two_gpus_mirrored(&["--no-foreign-dmabuf-imports"]),
        script,
        &[],
    );
    let gpus = run.json("gpus.json");
    let listed = gpus["gpus"].as_array().expect("gpus");
    assert_eq!(listed.len(), 3, "{gpus}");
    for gpu in listed {
        assert_eq!(
            gpu["imports_foreign_dmabufs"], false,
            "every GPU, soft2 too, keeps --no-foreign-dmabuf-imports: {gpus}"
        );
    }
}

/// After the primary GPU goes, the main socket hands new clients the GPU that took its place:
/// a dmabuf client of the main socket finds that GPU's linux-dmabuf global and is shown.
#[test]
fn the_main_socket_follows_its_gpu_when_the_primary_goes() {
    let script = r#"
tandem-compositor msg gpu-remove --gpu soft0 > "$OUT/remove.txt" 2>&1
tandem-test-client --buffers dmabuf --frames 2 --quit-after-frames 2> "$OUT/client.txt" \
  && echo served > "$OUT/main-socket.txt"
tandem-compositor msg vram --json > "$OUT/after.json"
tandem-compositor msg quit
"#;
    let run = run_compositor(&two_gpus_mirrored(&[]), script, &[]);
    let client = std::fs::read_to_string(run.path("client.txt")).unwrap_or_default();
    assert!(
        run.path("main-socket.txt").is_file(),
        "a dmabuf client of the main socket after soft0 went: {client}\n{}",
        run.stderr
    );
    assert_eq!(run.json("after.json")["total_bytes"].as_u64(), Some(0));
}
