//! 500 windows from 50 clients at once (all inside both outputs), over 10 cycles: the ledger
//! accounts for every window
//! while they are open, returns to zero when they close, and the compositor's RSS does not grow
//! from cycle to cycle.

mod common;

use common::*;

const CYCLES: usize = 10;
const CLIENTS: usize = 50;
const WINDOWS_PER_CLIENT: usize = 10;

#[test]
fn five_hundred_windows_from_fifty_clients_over_ten_cycles() {
    let script = format!(
        r#"
cycle=0
while [ $cycle -lt {CYCLES} ]; do
  pids=""
  c=0
  while [ $c -lt {CLIENTS} ]; do
    tandem-test-client --windows {WINDOWS_PER_CLIENT} --size 32x32 & pids="$pids $!"
    c=$((c+1))
  done
  i=0
  until [ "$(tandem-compositor msg windows --json | grep -c app_id)" -ge {total} ]; do
    i=$((i+1)); [ $i -gt 300 ] && break; sleep 0.1
  done
  sleep 0.3
  tandem-compositor msg vram --json > "$OUT/open-$cycle.json"
  kill $pids; wait $pids 2>/dev/null
  i=0
  until [ "$(tandem-compositor msg windows --json | grep -c app_id)" -eq 0 ]; do
    i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1
  done
  sleep 0.3
  tandem-compositor msg vram --json > "$OUT/closed-$cycle.json"
  grep VmRSS /proc/$PPID/status | awk '{{print $2}}' > "$OUT/rss-$cycle.txt"
  cycle=$((cycle+1))
done
tandem-compositor msg quit
"#,
        total = CLIENTS * WINDOWS_PER_CLIENT
    );
    let run = run_compositor(
        &two_gpus_mirrored(&["--output", "640x480@0", "--output", "640x480@1"]),
        &script,
        // llvmpipe's worker threads keep scene memory that comes and goes with load.
        &[("LP_NUM_THREADS", "0")],
    );
    let window_bytes = 32 * 32 * 4;
    let mut rss = Vec::new();
    for cycle in 0..CYCLES {
        let open = run.json(&format!("open-{cycle}.json"));
        let windows = open["windows"].as_array().map(Vec::len).unwrap_or(0);
        assert_eq!(
            windows,
            CLIENTS * WINDOWS_PER_CLIENT,
            "cycle {cycle}: all windows mapped"
        );
        assert_eq!(
            open["total_bytes"].as_u64(),
            Some((CLIENTS * WINDOWS_PER_CLIENT * 2 * window_bytes) as u64),
            "cycle {cycle}: one texture per window per GPU"
        );
        let closed = run.json(&format!("closed-{cycle}.json"));
        assert_eq!(
            closed["total_bytes"].as_u64(),
            Some(0),
            "cycle {cycle}: {closed}"
        );
        let kib: u64 = std::fs::read_to_string(run.path(&format!("rss-{cycle}.txt")))
            .expect("rss")
            .trim()
            .parse()
            .expect("VmRSS in KiB");
        rss.push(kib);
    }
    // After the first cycle has warmed caches, the floor of RSS stays flat (within 4 MiB: the
    // allocator keeps a grown heap, a step of 2.4 MiB has been seen once, then flat) while
    // 4000 more windows come and go; single samples may catch a frame's transient memory, so the
    // floor of the last three cycles is compared with that of cycles 1-3. A leaked texture per
    // window would add 4 MB per cycle.
    let settled = *rss[1..4].iter().min().expect("samples");
    let last = *rss[CYCLES - 3..].iter().min().expect("samples");
    println!("compositor RSS after each cycle (KiB): {rss:?}");
    assert!(
        last <= settled + 4096,
        "RSS grew from {settled} KiB to {last} KiB: {rss:?}"
    );
}
