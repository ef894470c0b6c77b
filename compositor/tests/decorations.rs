//! Server-side title bars (xdg-decoration) on two software GPUs: a window that asks for them
//! gets a bar drawn above it on both GPUs' outputs, whose maximize button maximizes and
//! restores it, whose bar drags it and whose close button closes it, with the pointer; a
//! window that draws its own decorations gets none.

mod common;

use common::*;

const OUTPUTS: [&str; 4] = ["--output", "640x480@0", "--output", "640x480@1"];
/// The bar's colours (focused), the buttons', and the window's own.
const BAR: [u8; 3] = [56, 61, 77];
const CLOSE: [u8; 3] = [204, 64, 56];
const MAXIMIZE: [u8; 3] = [115, 128, 148];
const WINDOW: [u8; 3] = [64, 160, 64];

/// `msg windows`' first window: where it is and its size.
fn placed(run: &Run, name: &str) -> (i64, i64, i64, i64) {
    let windows = run.json(name);
    let window = &windows["windows"][0];
    let number = |key: &str| window[key].as_i64().unwrap_or(-1);
    (number("x"), number("y"), number("width"), number("height"))
}

#[test]
fn a_title_bar_is_drawn_on_both_gpus_and_its_buttons_and_drag_work() {
    let script = format!(
        r#"
tandem-test-client --decorations server --follow-size --size 200x150 --colour ff40a040 > "$OUT/client.txt" 2>&1 & client=$!
{CAPTURE_WHILE_SHOWN}
click() {{ tandem-test-client --pointer-drag "$1,$2,$1,$2" --size 640x480; sleep 0.5; }}
click 178 14
tandem-compositor msg windows --json > "$OUT/maximized.json"
click 602 14
tandem-compositor msg windows --json > "$OUT/restored.json"
tandem-test-client --pointer-drag 60,14,260,114 --size 640x480
sleep 0.5
tandem-compositor msg windows --json > "$OUT/dragged.json"
click 402 114
i=0; while kill -0 $client 2>/dev/null; do i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.1; done
tandem-compositor msg windows --json > "$OUT/closed.json"
kill $client 2>/dev/null
tandem-compositor msg quit
"#
    );
    let run = run_compositor(&two_gpus_mirrored(&OUTPUTS), &script, &[]);
    let client = std::fs::read_to_string(run.path("client.txt")).unwrap_or_default();
    assert!(
        client.contains("decoration server-side"),
        "the compositor configured server-side decorations: {client}\nstderr:\n{}",
        run.stderr
    );
    assert_eq!(
        placed(&run, "windows.json"),
        (16, 28, 200, 150),
        "placed low enough for its bar to be on the output"
    );
    for output in ["during-output-0.png", "during-output-1.png"] {
        let at = |x, y| pixel(&run.path(output), x, y);
        assert_eq!(at(100, 14), BAR, "{output}: the bar above the window");
        assert_eq!(at(202, 14), CLOSE, "{output}: the close button");
        assert_eq!(at(178, 14), MAXIMIZE, "{output}: the maximize button");
        assert_eq!(at(100, 100), WINDOW, "{output}: the window itself");
        assert_ne!(at(100, 2 + 180), BAR, "{output}: no bar below the window");
    }
    assert_eq!(
        placed(&run, "maximized.json"),
        (0, 28, 640, 452),
        "maximize fills the output below the bar"
    );
    assert_eq!(
        placed(&run, "restored.json"),
        (16, 28, 200, 150),
        "maximize again restores it"
    );
    assert_eq!(
        placed(&run, "dragged.json"),
        (216, 128, 200, 150),
        "dragging the bar moved the window by the drag"
    );
    let closed = run.json("closed.json");
    assert_eq!(
        closed["windows"].as_array().map(Vec::len),
        Some(0),
        "the close button closed the window: {closed}\n{client}"
    );
}

#[test]
fn a_window_that_draws_its_own_decorations_gets_no_bar() {
    let script = format!(
        r#"
tandem-test-client --decorations client --size 200x150 --colour ff40a040 > "$OUT/client.txt" 2>&1 & client=$!
{CAPTURE_WHILE_SHOWN}
kill $client
tandem-compositor msg quit
"#
    );
    let run = run_compositor(&two_gpus_mirrored(&OUTPUTS), &script, &[]);
    let client = std::fs::read_to_string(run.path("client.txt")).unwrap_or_default();
    assert!(client.contains("decoration client-side"), "{client}");
    assert_eq!(placed(&run, "windows.json"), (16, 16, 200, 150));
    for output in ["during-output-0.png", "during-output-1.png"] {
        assert_ne!(pixel(&run.path(output), 100, 8), BAR, "{output}: no bar");
        assert_eq!(pixel(&run.path(output), 100, 100), WINDOW, "{output}");
    }
}
