//! Virtual outputs added and removed over IPC, a thousand times, with windows open: nothing
//! stays behind (ledger, wl_output globals, the compositor's memory).

mod common;

use common::*;

#[test]
fn a_thousand_output_reconnects_leave_nothing_behind() {
    let script = r#"
tandem-test-client --colour ffff0000 --size 100x80 & a=$!
WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --buffers dmabuf --colour ff00ff00 --size 100x80 & b=$!
i=0
until [ "$(tandem-compositor msg windows --json | grep -c app_id)" -ge 2 ]; do
  i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1
done
sleep 0.5
wayland-info | grep -c "'wl_output'" > "$OUT/globals-before.txt"
sample() {
  bytes=$(tandem-compositor msg vram --json | grep -o '"total_bytes": [0-9]*' | grep -o '[0-9]*$')
  rss=$(awk '/^VmRSS/ {print $2}' /proc/$PPID/status)
  echo "$1 $bytes $rss" >> "$OUT/churn.txt"
}
sample 0
cycle=0
while [ $cycle -lt ${CYCLES:-1000} ]; do
  name=$(tandem-compositor msg output-add --gpu soft1 --size 320x240 | sed 's/^added //')
  sleep 0.02
  tandem-compositor msg output-remove --output "$name" > /dev/null || echo "$name" >> "$OUT/not-removed.txt"
  cycle=$((cycle+1))
  [ $((cycle % 100)) = 0 ] && sample $cycle
done
wayland-info | grep -c "'wl_output'" > "$OUT/globals-after.txt"
tandem-compositor msg outputs --json > "$OUT/outputs-after.json"
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
    assert!(
        !run.path("not-removed.txt").exists(),
        "every added output could be removed"
    );
    let churn = std::fs::read_to_string(run.path("churn.txt")).expect("churn samples");
    let samples: Vec<(u64, u64, u64)> = churn
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace().map(|f| f.parse::<u64>().ok());
            Some((fields.next()??, fields.next()??, fields.next()??))
        })
        .collect();
    assert_eq!(samples.len(), 11, "a sample every 100 cycles: {churn}");
    println!("cycle ledger_bytes rss_kib\n{churn}");
    let ledger_at_start = samples[0].1;
    assert!(ledger_at_start > 0, "the windows hold GPU memory: {churn}");
    for (cycle, bytes, _) in &samples {
        assert_eq!(
            *bytes, ledger_at_start,
            "the ledger after {cycle} reconnects is what it was before any: {churn}"
        );
    }
    // RSS after the first 100 cycles (allocator warm-up) must not keep growing: at most 4 MiB
    // more over the next 900.
    let rss_growth = samples[10].2 as i64 - samples[1].2 as i64;
    assert!(
        rss_growth < 4096,
        "RSS grew by {rss_growth} KiB over 900 reconnects: {churn}"
    );
    let globals_before = std::fs::read_to_string(run.path("globals-before.txt")).expect("before");
    let globals_after = std::fs::read_to_string(run.path("globals-after.txt")).expect("after");
    assert_eq!(
        globals_before.trim(),
        "2",
        "two outputs, two wl_output globals"
    );
    assert_eq!(
        globals_after.trim(),
        globals_before.trim(),
        "removed outputs take their wl_output global with them"
    );
    let outputs = run.json("outputs-after.json");
    assert_eq!(
        outputs["outputs"].as_array().map(Vec::len),
        Some(2),
        "{outputs}"
    );
    assert_eq!(run.json("after.json")["total_bytes"].as_u64(), Some(0));
}

#[test]
fn output_requests_are_checked() {
    let script = r#"
tandem-compositor msg output-add --gpu soft9 > "$OUT/bad-gpu.txt" 2>&1; echo $? >> "$OUT/bad-gpu.txt"
tandem-compositor msg output-add --size 0x10 > "$OUT/bad-size.txt" 2>&1; echo $? >> "$OUT/bad-size.txt"
tandem-compositor msg output-remove --output NOPE-1 > "$OUT/bad-name.txt" 2>&1; echo $? >> "$OUT/bad-name.txt"
tandem-compositor msg outputs --json > "$OUT/outputs.json"
tandem-compositor msg quit
"#;
    let run = run_compositor(&two_gpus_mirrored(&[]), script, &[]);
    for (file, message) in [
        ("bad-gpu.txt", "no GPU soft9"),
        ("bad-size.txt", "out of range"),
        ("bad-name.txt", "no output NOPE-1"),
    ] {
        let text = std::fs::read_to_string(run.path(file)).expect(file);
        assert!(
            text.contains(message) && text.trim_end().ends_with('1'),
            "{file}: {text}"
        );
    }
    let outputs = run.json("outputs.json");
    assert_eq!(
        outputs["outputs"].as_array().map(Vec::len),
        Some(2),
        "{outputs}"
    );
}
