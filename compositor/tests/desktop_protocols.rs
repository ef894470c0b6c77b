//! The protocols desktops build on, through real clients: a sandbox's client sees none of the
//! privileged globals and `msg clients` names its sandbox (wp_security_context_v1);
//! `wl-paste --watch` sees every selection `wl-copy` sets without the keyboard focus
//! (data-control); `wtype` types into foot through a virtual keyboard; waybar's taskbar lists
//! windows (wlr-foreign-toplevel-management); a single-pixel buffer fills its window on both
//! GPUs' outputs; a cursor shape a window names is the pointer's image while the pointer is over
//! it, and the arrow comes back over the bare desktop (wp_cursor_shape_v1); a window's content
//! type and tearing hint show in `msg windows` (wp_content_type_v1, wp_tearing_control_v1).

mod common;

use common::*;

/// Globals only privileged clients may bind (docs/compositor.md, "Who may bind what").
const PRIVILEGED: &[&str] = &[
    "ext_data_control_manager_v1",
    "ext_foreign_toplevel_image_capture_source_manager_v1",
    "ext_foreign_toplevel_list_v1",
    "ext_image_copy_capture_manager_v1",
    "ext_output_image_capture_source_manager_v1",
    "ext_session_lock_manager_v1",
    "wp_security_context_manager_v1",
    "zwlr_data_control_manager_v1",
    "zwlr_foreign_toplevel_manager_v1",
    "zwlr_output_manager_v1",
    "zwlr_output_power_manager_v1",
    "zwlr_screencopy_manager_v1",
    "zwlr_virtual_pointer_manager_v1",
    "zwp_input_method_manager_v2",
    "zwp_virtual_keyboard_manager_v1",
];

/// The globals after `label: ` on a line of `text`.
fn globals_after(text: &str, label: &str) -> Vec<String> {
    text.lines()
        .find_map(|line| line.strip_prefix(label))
        .map(|rest| rest.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

#[test]
fn a_sandboxed_client_sees_no_privileged_global_and_msg_clients_names_its_sandbox() {
    let script = r#"
tandem-test-client --sandbox 3 > "$OUT/sandbox.txt" 2>&1 & sandbox=$!
i=0; until grep -q 'sandbox held' "$OUT/sandbox.txt"; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
tandem-compositor msg clients --json > "$OUT/clients.json"
tandem-compositor msg clients > "$OUT/clients.txt"
wait $sandbox
tandem-compositor msg quit
"#;
    let run = run_compositor(&["--backend", "headless", "--gpus", "1"], script, &[]);
    let text = std::fs::read_to_string(run.path("sandbox.txt")).unwrap_or_default();
    let privileged = globals_after(&text, "privileged: ");
    let sandboxed = globals_after(&text, "sandboxed: ");
    for global in PRIVILEGED {
        assert!(
            privileged.iter().any(|g| g == global),
            "a privileged client sees {global}: {text}"
        );
        assert!(
            !sandboxed.iter().any(|g| g == global),
            "a sandboxed client does not see {global}: {text}"
        );
    }
    for global in [
        "wl_compositor",
        "xdg_wm_base",
        "wl_seat",
        "zwp_linux_dmabuf_v1",
    ] {
        assert!(
            sandboxed.iter().any(|g| g == global),
            "a sandboxed client still sees {global}: {text}"
        );
    }
    let clients = run.json("clients.json");
    let list = clients["clients"].as_array().cloned().unwrap_or_default();
    let in_sandbox: Vec<_> = list.iter().filter(|c| !c["sandbox"].is_null()).collect();
    assert_eq!(in_sandbox.len(), 1, "one sandboxed client: {clients}");
    let sandbox = &in_sandbox[0]["sandbox"];
    assert_eq!(sandbox["engine"], "org.tandem.test", "{clients}");
    assert_eq!(sandbox["app_id"], "org.tandem.Sandboxed", "{clients}");
    assert_eq!(sandbox["instance_id"], "1", "{clients}");
    assert!(
        list.iter().any(|c| c["sandbox"].is_null()),
        "the sandbox itself is listed as privileged: {clients}"
    );
    let table = std::fs::read_to_string(run.path("clients.txt")).unwrap_or_default();
    assert!(
        table.contains("org.tandem.test app org.tandem.Sandboxed instance 1"),
        "{table}"
    );
}

#[test]
fn wl_paste_watch_sees_every_selection_wl_copy_sets_while_another_window_has_the_focus() {
    require("wl-paste", "wl-clipboard");
    let script = r#"
tandem-test-client --app-id focused --size 120x90 & window=$!
i=0; until tandem-compositor msg windows --json | grep -q '"focused": true'; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
wl-paste --watch sh -c 'cat >> "$OUT/watched.txt"; echo >> "$OUT/watched.txt"' & watch=$!
sleep 0.5
for word in one two three; do
  timeout 10 wl-copy "$word"
  i=0; until grep -qx "$word" "$OUT/watched.txt" 2>/dev/null; do i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.1; done
done
timeout 10 wl-paste --no-newline > "$OUT/pasted.txt"
tandem-compositor msg windows --json > "$OUT/windows.json"
kill $watch $window
tandem-compositor msg quit
"#;
    let run = run_compositor(&["--backend", "headless", "--gpus", "1"], script, &[]);
    let watched = std::fs::read_to_string(run.path("watched.txt")).unwrap_or_default();
    let lines: Vec<&str> = watched.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines,
        ["one", "two", "three"],
        "wl-paste --watch saw each selection once, in order\nstderr:\n{}",
        run.stderr
    );
    let pasted = std::fs::read_to_string(run.path("pasted.txt")).unwrap_or_default();
    assert_eq!(pasted, "three", "wl-paste reads the last selection");
    let windows = run.json("windows.json");
    let apps: Vec<&str> = windows["windows"]
        .as_array()
        .map(|all| all.iter().filter_map(|w| w["app_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        apps,
        ["focused"],
        "wl-copy set the selection through data-control, without a window of its own"
    );
}

#[test]
fn wtype_types_into_foot_through_a_virtual_keyboard() {
    require("wtype", "wtype");
    require("foot", "foot");
    let script = r#"
foot --app-id typed -- sh -c 'read -r line; printf %s "$line" > "$OUT/typed.txt"' & foot=$!
i=0; until tandem-compositor msg windows --json | grep -q '"focused": true'; do i=$((i+1)); [ $i -gt 150 ] && break; sleep 0.1; done
sleep 1
wtype 'Tandem types 42'
wtype -k Return
i=0; until [ -s "$OUT/typed.txt" ]; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
kill $foot 2>/dev/null
tandem-compositor msg quit
"#;
    let run = run_compositor(&["--backend", "headless", "--gpus", "1"], script, &[]);
    let typed = std::fs::read_to_string(run.path("typed.txt")).unwrap_or_default();
    assert_eq!(
        typed, "Tandem types 42",
        "what wtype typed reached the focused terminal\nstderr:\n{}",
        run.stderr
    );
}

/// Pixels of the top `rows` rows of a screenshot that are not the bar's background (#202020).
fn bar_foreground(path: &std::path::Path, rows: u32) -> usize {
    let (pixels, width) = read_png(path);
    pixels
        .chunks_exact(4)
        .take((width * rows) as usize)
        .filter(|p| p[..3].iter().any(|c| c.abs_diff(0x20) > 6))
        .count()
}

/// Taskbar buttons (#505050) crossed by row `y`, above their labels: runs of button pixels.
fn taskbar_buttons(path: &std::path::Path, y: u32) -> usize {
    let (pixels, width) = read_png(path);
    let start = (y * width * 4) as usize;
    let row = &pixels[start..start + (width * 4) as usize];
    let mut runs = 0;
    let mut inside = false;
    for pixel in row.chunks_exact(4) {
        let button = pixel[..3].iter().all(|c| c.abs_diff(0x50) <= 4);
        if button && !inside {
            runs += 1;
        }
        inside = button;
    }
    runs
}

#[test]
fn waybar_lists_xdg_and_x11_windows_in_its_taskbar_and_drops_them_when_they_close() {
    require("waybar", "waybar");
    require("xeyes", "x11-apps");
    require("Xwayland", "xwayland");
    let script = r##"
cat > "$OUT/waybar.json" <<'CONFIG'
{ "layer": "top", "position": "top", "height": 32, "modules-left": ["wlr/taskbar"],
  "wlr/taskbar": { "format": "{title}", "on-click": "activate" } }
CONFIG
cat > "$OUT/waybar.css" <<'STYLE'
* { font-family: sans-serif; font-size: 14px; min-height: 0; }
window#waybar { background: #202020; color: #ffffff; }
#taskbar button { color: #ffffff; background: #505050; padding: 0 8px; margin: 2px; border: none; }
STYLE
count() { tandem-compositor msg windows --json | grep -c '"app_id"'; }
wait_windows() { i=0; until [ "$(count)" -eq "$1" ]; do i=$((i+1)); [ $i -gt 150 ] && break; sleep 0.1; done; }
waybar -c "$OUT/waybar.json" -s "$OUT/waybar.css" > "$OUT/waybar.log" 2>&1 & bar=$!
sleep 4
tandem-compositor msg screenshot "$OUT/empty.png"
tandem-test-client --app-id listed --windows 2 --size 160x120 & windows=$!
xeyes -geometry 200x150 & eyes=$!
wait_windows 3
sleep 2
tandem-compositor msg screenshot "$OUT/listed.png"
kill $windows $eyes
wait_windows 0
sleep 2
tandem-compositor msg screenshot "$OUT/closed.png"
kill $bar
tandem-compositor msg quit
"##;
    let run = run_compositor(
        &[
            "--backend",
            "headless",
            "--gpus",
            "1",
            "--output",
            "1280x800",
        ],
        script,
        &[],
    );
    let waybar_log = std::fs::read_to_string(run.path("waybar.log")).unwrap_or_default();
    let empty = bar_foreground(&run.path("empty.png"), 32);
    let listed = bar_foreground(&run.path("listed.png"), 32);
    let closed = bar_foreground(&run.path("closed.png"), 32);
    let buttons: Vec<usize> = ["empty.png", "listed.png", "closed.png"]
        .iter()
        .map(|name| taskbar_buttons(&run.path(name), 6))
        .collect();
    assert_eq!(
        buttons,
        [0, 3, 0],
        "taskbar buttons before, while and after two xdg windows and xeyes are open\nwaybar: \
         {waybar_log}"
    );
    assert!(
        listed > empty + 3 * 400,
        "three taskbar buttons (two xdg windows, xeyes) drawn in the bar: {empty} -> {listed} \
         pixels\nwaybar: {waybar_log}"
    );
    assert!(
        closed <= empty + 50,
        "the buttons go with the windows: {empty} -> {listed} -> {closed} pixels"
    );
}

#[test]
fn a_single_pixel_buffer_fills_its_window_on_both_gpus_outputs() {
    let script = format!(
        r#"
tandem-test-client --single-pixel 30 --size 200x150 --colour ffff8000 > "$OUT/client.txt" 2>&1 & client=$!
{CAPTURE_WHILE_SHOWN}
kill $client
tandem-compositor msg quit
"#
    );
    let run = run_compositor(&two_gpus_mirrored(&[]), &script, &[]);
    let client = std::fs::read_to_string(run.path("client.txt")).unwrap_or_default();
    assert!(client.contains("single pixel 200x150"), "{client}");
    for output in ["during-output-0.png", "during-output-1.png"] {
        for (x, y) in [(20, 20), (116, 91), (210, 160)] {
            assert_eq!(
                pixel(&run.path(output), x, y),
                [255, 128, 0],
                "{output} at ({x}, {y}): the window's one pixel, stretched to 200x150 at \
                 (16, 16)\n{client}"
            );
        }
        assert_ne!(
            pixel(&run.path(output), 220, 170),
            [255, 128, 0],
            "{output}: nothing beyond the viewport's size"
        );
    }
}

/// The pointer image a `--capture-pointer` capture saw: hotspot, opaque pixels, all pixels.
fn pointer_image(run: &Run, name: &str) -> Vec<u32> {
    let text = std::fs::read_to_string(run.path(name)).unwrap_or_default();
    let line = text
        .lines()
        .find(|line| line.starts_with("pointer:"))
        .unwrap_or_else(|| panic!("{name}: {text}\nstderr:\n{}", run.stderr));
    // "pointer: entered 1, left 0, position Some((x, y)), hotspot Some((x, y)), opaque pixels
    // N of M"
    let numbers: Vec<u32> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    numbers.get(4..).map(<[u32]>::to_vec).unwrap_or_default()
}

#[test]
fn a_named_cursor_shape_is_the_pointer_over_its_window_and_the_arrow_elsewhere() {
    let script = r#"
tandem-test-client --cursor-shape text --size 300x200 --colour ff2060a0 --hold 30 > "$OUT/shape.txt" 2>&1 & window=$!
i=0; until tandem-compositor msg windows --json | grep -q '"focused": true'; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
capture() { tandem-test-client --capture 1 --capture-pointer > "$OUT/$1.txt" 2>&1; }
capture desktop
tandem-test-client --pointer-to 166,116 --size 1024x768
i=0; until grep -q "shape text set" "$OUT/shape.txt"; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
sleep 0.3
capture window
tandem-test-client --pointer-to 700,500 --size 1024x768
sleep 0.3
capture desktop-again
kill $window
tandem-compositor msg quit
"#;
    let run = run_compositor(
        &[
            "--backend",
            "headless",
            "--gpus",
            "1",
            "--output",
            "1024x768",
        ],
        script,
        &[],
    );
    let shape = std::fs::read_to_string(run.path("shape.txt")).unwrap_or_default();
    assert!(
        shape.contains("shape text set"),
        "the window saw the pointer enter: {shape}\nstderr:\n{}",
        run.stderr
    );
    let desktop = pointer_image(&run, "desktop.txt");
    let window = pointer_image(&run, "window.txt");
    let again = pointer_image(&run, "desktop-again.txt");
    assert_eq!(desktop.len(), 4, "hotspot x, y, opaque, total: {desktop:?}");
    assert_ne!(
        window, desktop,
        "over the window the pointer is the theme's text beam, not the arrow"
    );
    assert!(
        window.len() == 4 && window[2] > 0,
        "the beam has pixels: {window:?}"
    );
    assert_eq!(again, desktop, "the arrow is back over the bare desktop");
}

#[test]
fn a_windows_content_type_and_tearing_hint_show_in_msg_windows() {
    let script = r#"
tandem-test-client --app-id game --content-type game --tearing async --size 120x90 & game=$!
tandem-test-client --app-id plain --size 120x90 & plain=$!
i=0; until [ "$(tandem-compositor msg windows --json | grep -c app_id)" -eq 2 ]; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
sleep 0.5
tandem-compositor msg windows --json > "$OUT/windows.json"
kill $game $plain
tandem-compositor msg quit
"#;
    let run = run_compositor(&["--backend", "headless", "--gpus", "1"], script, &[]);
    let windows = run.json("windows.json");
    let hints = |app_id: &str| {
        windows["windows"]
            .as_array()
            .and_then(|all| all.iter().find(|w| w["app_id"] == app_id))
            .map(|w| (w["content_type"].clone(), w["presentation"].clone()))
            .unwrap_or_else(|| panic!("{app_id} not listed: {windows}\nstderr:\n{}", run.stderr))
    };
    assert_eq!(hints("game"), ("game".into(), "async".into()), "{windows}");
    assert_eq!(hints("plain"), ("none".into(), "vsync".into()), "{windows}");
}
