//! An idle GPU's context is never made current, counted from outside Tandem: the scenario runs
//! under gdb, which counts every `eglMakeCurrent` call (the entry point of libEGL.so.1 that
//! smithay's renderers call) by the context it makes current, whoever calls it. The scenario
//! reports each GPU's context and the span to count through `idle_contexts_mark`, a function
//! that gdb also stops at (gdb prints only while the scenario is stopped, so its lines stay
//! whole).
//!
//! `a_context_made_current_by_anything_is_seen` runs the same scenario with one extra
//! `with_context` on the idle GPU, to show the count sees it.

mod common;

use std::collections::HashMap;
use std::process::Command;

use common::*;
use tandem::GpuId;

/// Set in the scenario's process: `idle` or `woken`.
const SCENARIO: &str = "TANDEM_IDLE_CONTEXTS_SCENARIO";

const GPU_CONTEXT: u64 = 0;
const COUNT_FROM: u64 = 1;
const COUNT_TO: u64 = 2;
const SCENARIO_DONE: u64 = 3;

/// Where the scenario tells gdb what it is doing: `what` is one of the constants above, `value`
/// a GPU's index and context handle packed as `index << 56 | handle`, or 0.
#[no_mangle]
#[inline(never)]
pub extern "C" fn idle_contexts_mark(what: u64, value: u64) {
    std::hint::black_box((what, value));
}

fn context_of(server: &mut Server, gpu: GpuId) -> u64 {
    server
        .state
        .gpus
        .gpu(gpu)
        .expect("gpu")
        .renderer()
        .egl_context()
        .get_context_handle() as u64
}

/// Three GPUs: GPU 0 draws a window and frees it, GPU 1 drew one empty frame before the span,
/// GPU 2 never drew; within the span, cleanup runs 50 times. With `wake_idle`, GPU 2's context
/// is made current once within the span.
fn scenario(wake_idle: bool) {
    let (mut server, mut client) = setup(3);
    let [gpu0, gpu1, gpu2] = [0, 1, 2].map(|i| server.gpu(i));
    let mut out0 = server.output(gpu0, (64, 64));
    let mut out1 = server.output(gpu1, (64, 64));
    server.render(&mut out0, &[], 0).expect("frame");
    server.render(&mut out1, &[], 0).expect("frame");
    server.state.gpus.cleanup().expect("settle");
    server.state.gpus.cleanup().expect("settle");
    for (index, gpu) in [gpu0, gpu1, gpu2].into_iter().enumerate() {
        let handle = context_of(&mut server, gpu);
        assert!(handle < 1 << 56, "a context handle above 2^56");
        idle_contexts_mark(GPU_CONTEXT, (index as u64) << 56 | handle);
    }

    idle_contexts_mark(COUNT_FROM, 0);
    let mut window = client.shm_window((32, 32));
    window.pixels().fill((0, 0, 32, 32), RED);
    window.commit(None);
    roundtrip(&mut server, &mut client);
    let surface = server.state.surfaces[0].clone();
    let pixels = server
        .render(&mut out0, &[(&surface, (0, 0))], 0)
        .expect("frame");
    assert_eq!(pixel(&pixels, 64, 1, 1), rgba(RED));
    window.destroy();
    roundtrip(&mut server, &mut client);
    for _ in 0..50 {
        server.state.gpus.cleanup().expect("cleanup");
    }
    if wake_idle {
        server
            .state
            .gpus
            .gpu(gpu2)
            .expect("gpu2")
            .renderer()
            .with_context(|_| ())
            .expect("made current");
    }
    idle_contexts_mark(COUNT_TO, 0);
    idle_contexts_mark(SCENARIO_DONE, 0);
}

/// The scenario itself: does nothing unless the test below started this process under gdb.
#[test]
fn idle_contexts_scenario() {
    match std::env::var(SCENARIO).as_deref() {
        Ok("idle") => scenario(false),
        Ok("woken") => scenario(true),
        _ => {}
    }
}

/// Runs the scenario under gdb; returns, per GPU index, the `eglMakeCurrent` calls that made its
/// context current within the span.
fn make_current_counts(which: &str) -> [usize; 3] {
    let gdb = Command::new("gdb").arg("--version").output();
    assert!(
        gdb.is_ok_and(|out| out.status.success()),
        "gdb is needed to count eglMakeCurrent calls: install the gdb package (just deps does)"
    );
    let script = std::env::temp_dir().join(format!("idle-contexts-{}.gdb", std::process::id()));
    std::fs::write(
        &script,
        "set pagination off\n\
         set confirm off\n\
         set print thread-events off\n\
         set print inferior-events off\n\
         set breakpoint pending on\n\
         break idle_contexts_mark\n\
         commands\nsilent\nprintf \"mark %lu %lu\\n\", $rdi, $rsi\ncontinue\nend\n\
         break eglMakeCurrent\n\
         commands\nsilent\nprintf \"make-current %lu\\n\", $rcx\ncontinue\nend\n\
         run\n",
    )
    .expect("gdb script");
    let test_binary = std::env::current_exe().expect("test binary");
    let output = Command::new("gdb")
        .args(["-q", "-batch", "-nx", "-x"])
        .arg(&script)
        .arg("--args")
        .arg(&test_binary)
        .args([
            "--exact",
            "idle_contexts_scenario",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SCENARIO, which)
        .output()
        .expect("gdb runs");
    let _ = std::fs::remove_file(&script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout
            .lines()
            .any(|line| line == format!("mark {SCENARIO_DONE} 0")),
        "the scenario did not finish under gdb:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut gpu_of_context = HashMap::new();
    let mut counting = false;
    let mut counts = [0; 3];
    for line in stdout.lines() {
        let words: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|word| word.parse().ok())
            .collect();
        match (line.split_whitespace().next(), words.as_slice()) {
            (Some("mark"), [GPU_CONTEXT, value]) => {
                gpu_of_context.insert(value & ((1 << 56) - 1), (value >> 56) as usize);
            }
            (Some("mark"), [COUNT_FROM, _]) => counting = true,
            (Some("mark"), [COUNT_TO, _]) => counting = false,
            (Some("make-current"), [context]) if counting => {
                if let Some(index) = gpu_of_context.get(context) {
                    counts[*index] += 1;
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        gpu_of_context.len(),
        3,
        "gdb saw the three contexts:\n{stdout}"
    );
    counts
}

#[test]
fn an_idle_gpus_context_is_never_made_current() {
    let counts = make_current_counts("idle");
    assert!(counts[0] > 0, "GPU 0 drew and freed a window: {counts:?}");
    assert_eq!(
        counts[1..],
        [0, 0],
        "make-current calls on GPU 1 (idle since its one frame) and GPU 2 (never used)"
    );
}

#[test]
fn a_context_made_current_by_anything_is_seen() {
    let counts = make_current_counts("woken");
    assert!(counts[2] >= 1, "GPU 2 was made current once: {counts:?}");
}
