//! 200 windows opened and closed on two GPUs while the compositor keeps every WlSurface handle:
//! the ledger and the GL names return to zero. RSS returns to within 1 MiB once the compositor
//! lets go of its handles (each retained handle keeps the compositor's own surface state, which
//! is not Tandem's to free).
//!
//! This file holds a single test so that no other test shares the process while RSS is sampled.

mod common;

use common::*;
use tandem::diagnostics::rss_bytes;

const WINDOWS: usize = 200;

#[test]
fn two_hundred_windows_leave_nothing_behind() {
    tandem::diagnostics::use_exact_heap();
    let (mut server, mut client) = setup(2);
    let (gpu0, gpu1) = (server.gpu(0), server.gpu(1));
    let mut outputs = [
        server.output(gpu0, (256, 256)),
        server.output(gpu1, (256, 256)),
    ];
    // Warm-up: shader caches, pools and the like settle before the baseline is taken.
    cycle_windows(&mut server, &mut client, &mut outputs, AT_ONCE * 2);
    let baseline = gl_names(&mut server);
    server.state.surfaces.clear();
    let rss_before = settled_rss();

    let peak = cycle_windows(&mut server, &mut client, &mut outputs, WINDOWS);
    let window_bytes = (CYCLE_WINDOW_SIZE.0 * CYCLE_WINDOW_SIZE.1 * 4) as u64;
    assert_eq!(
        peak,
        AT_ONCE as u64 * 2 * window_bytes,
        "ledger counted every open window"
    );

    assert!(
        server.state.surfaces.len() >= WINDOWS,
        "the compositor retained every handle"
    );
    assert_released(&mut server, &baseline);
    server.state.surfaces.clear();

    server.state.gpus.cleanup().expect("cleanup");
    assert_eq!(server.state.gpus.live_multitextures(), 0);
    let rss_after = settled_rss();
    let grown = rss_after as i64 - rss_before as i64;
    println!(
        "200 windows: ledger peak {peak} B, retained 0 B; RSS before {rss_before} B, after \
         {rss_after} B, difference {grown} B; GL names {baseline:?}"
    );
    assert!(
        grown.unsigned_abs() <= 1 << 20,
        "RSS moved by {grown} bytes (> 1 MiB)"
    );
}

/// RSS once llvmpipe's worker threads have let go of their per-frame memory: the smallest of a few
/// samples taken 20 ms apart.
fn settled_rss() -> u64 {
    (0..5)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            rss_bytes().expect("RSS readable")
        })
        .min()
        .expect("five samples")
}
