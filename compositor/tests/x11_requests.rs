//! What X11 windows ask of the window manager, through Xwayland on the headless compositor:
//! an X11 window moves, maximizes, goes fullscreen and is restored at its own request
//! (ConfigureRequest, _NET_WM_STATE), a maximized one is told it stays so when it asks for
//! another size, and one whose program answers a button press with
//! _NET_WM_MOVERESIZE follows the pointer while the button is down.

mod common;

use common::*;

/// Shell lines: `wait_x11_window` waits until `msg windows` lists an X11 window.
const WAIT_X11_WINDOW: &str = r#"
wait_x11_window() {
  i=0
  until tandem-compositor msg windows --json | grep -q '"shell": "x11"'; do
    i=$((i+1)); [ $i -gt 300 ] && break; sleep 0.1
  done
}
"#;

fn require_xwayland() {
    require("Xwayland", "xwayland");
}

/// `msg windows`' one window: where it is and its size.
fn placed(run: &Run, name: &str) -> (i64, i64, i64, i64) {
    let windows = run.json(name);
    let window = &windows["windows"][0];
    let number = |key: &str| window[key].as_i64().unwrap_or(-1);
    (number("x"), number("y"), number("width"), number("height"))
}

#[test]
fn an_x11_window_moves_maximizes_and_goes_fullscreen_at_its_own_request() {
    require_xwayland();
    require("xeyes", "x11-apps");
    require("xdotool", "xdotool");
    require("wmctrl", "wmctrl");
    require("xev", "x11-utils");
    let script = format!(
        r#"{WAIT_X11_WINDOW}
xeyes -geometry 200x150 & eyes=$!
wait_x11_window
sleep 1
wid=$(xdotool search --classname '^xeyes$' | head -n 1)
settle() {{ sleep 1; tandem-compositor msg windows --json > "$OUT/$1.json"; }}
settle placed
xdotool windowmove "$wid" 300 200
settle moved
wmctrl -i -r "$wid" -b add,maximized_vert,maximized_horz
settle maximized
xev -id "$wid" -event structure > "$OUT/xev.txt" 2>&1 & xev=$!
sleep 0.5
xdotool windowsize "$wid" 300 250
settle refused
kill $xev
wmctrl -i -r "$wid" -b remove,maximized_vert,maximized_horz
settle restored
wmctrl -i -r "$wid" -b add,fullscreen
settle fullscreen
wmctrl -i -r "$wid" -b toggle,fullscreen
settle windowed
kill $eyes
tandem-compositor msg quit
"#
    );
    let run = run_compositor(
        &[
            "--backend",
            "headless",
            "--gpus",
            "1",
            "--output",
            "1024x768",
        ],
        &script,
        &[],
    );
    let (_, _, width, height) = placed(&run, "placed.json");
    assert_eq!((width, height), (200, 150), "xeyes' own size");
    assert_eq!(
        placed(&run, "moved.json"),
        (300, 200, 200, 150),
        "moved where xdotool asked"
    );
    assert_eq!(
        placed(&run, "maximized.json"),
        (0, 0, 1024, 768),
        "maximized over the whole output (no bar)"
    );
    assert_eq!(
        placed(&run, "refused.json"),
        (0, 0, 1024, 768),
        "a maximized window stays so when its program asks for another size"
    );
    let xev = std::fs::read_to_string(run.path("xev.txt")).unwrap_or_default();
    assert!(
        xev.lines()
            .zip(xev.lines().skip(1))
            .any(|(event, geometry)| event.contains("ConfigureNotify event")
                && event.contains("synthetic YES")
                && geometry.contains("(0,0), width 1024, height 768")),
        "the program is told where its window stays (a synthetic ConfigureNotify):\n{xev}"
    );
    assert_eq!(
        placed(&run, "restored.json"),
        (300, 200, 200, 150),
        "restored where it was"
    );
    assert_eq!(
        placed(&run, "fullscreen.json"),
        (0, 0, 1024, 768),
        "fullscreen"
    );
    assert_eq!(
        placed(&run, "windowed.json"),
        (300, 200, 200, 150),
        "a toggle takes fullscreen away"
    );
}

#[test]
fn an_x11_window_that_asks_to_be_moved_on_a_button_press_follows_the_pointer() {
    require_xwayland();
    let script = format!(
        r#"{WAIT_X11_WINDOW}
tandem-test-client --x11 --drag-moves --size 200x150 --colour ff3070c0 > "$OUT/x11.txt" 2>&1 & window=$!
wait_x11_window
sleep 0.5
tandem-compositor msg windows --json > "$OUT/before.json"
tandem-test-client --pointer-drag 100,80,400,380 --size 1024x768
sleep 1
tandem-compositor msg windows --json > "$OUT/after.json"
kill $window
tandem-compositor msg quit
"#
    );
    let run = run_compositor(
        &[
            "--backend",
            "headless",
            "--gpus",
            "1",
            "--output",
            "1024x768",
        ],
        &script,
        &[],
    );
    let said = std::fs::read_to_string(run.path("x11.txt")).unwrap_or_default();
    assert!(
        said.contains("moveresize"),
        "the program saw the press and asked: {said}\nstderr:\n{}",
        run.stderr
    );
    let (x, y, width, height) = placed(&run, "before.json");
    assert!(
        (x..x + width).contains(&100) && (y..y + height).contains(&80),
        "the press lands in the window at ({x},{y}) {width}x{height}"
    );
    assert_eq!(
        placed(&run, "after.json"),
        (x + 300, y + 300, width, height),
        "moved with the pointer by (300, 300)\nstderr:\n{}",
        run.stderr
    );
}
