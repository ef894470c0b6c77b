//! Dialogs: a window another program names as its parent through xdg-foreign v2 (as a portal's
//! file chooser does), or a client's own window named with xdg_toplevel.set_parent, is centred
//! over its parent when it shows, `msg windows` names the parent, and a click that raises the
//! parent leaves the dialog above it.

mod common;

use common::*;

const OUTPUT: [&str; 2] = ["--output", "1024x768@0"];

/// The window of `app_id` in `msg windows`' list `name`: its index in the stack (bottom
/// first), its rectangle, and its parent's title.
fn window(run: &Run, name: &str, app_id: &str) -> (usize, (i64, i64, i64, i64), Option<String>) {
    let windows = run.json(name);
    let list = windows["windows"].as_array().cloned().unwrap_or_default();
    let (index, window) = list
        .iter()
        .enumerate()
        .find(|(_, w)| w["app_id"] == app_id)
        .unwrap_or_else(|| panic!("{name}: no window {app_id}: {windows}"));
    let number = |key: &str| window[key].as_i64().unwrap_or(-1);
    let rectangle = (number("x"), number("y"), number("width"), number("height"));
    let parent = window["parent"].as_str().map(str::to_owned);
    (index, rectangle, parent)
}

fn centre((x, y, w, h): (i64, i64, i64, i64)) -> (i64, i64) {
    (x + w / 2, y + h / 2)
}

#[test]
fn a_dialog_named_through_xdg_foreign_or_set_parent_is_centred_over_its_parent_and_stays_above_it()
{
    let script = r#"
# Waits until the window of app id $1 has the keyboard: it showed its first buffer, and a dialog
# was placed just before.
wait_focused() { i=0; until [ "$(tandem-compositor msg windows --json | awk -F'"' '/"app_id"/ {app=$4} /"focused": true/ {print app}')" = "$1" ]; do i=$((i+1)); [ $i -gt 200 ] && break; sleep 0.1; done; sleep 0.3; }
tandem-test-client --app-id main --size 400x300 --export-first > "$OUT/main.txt" 2>&1 & main=$!
i=0; until grep -q '^exported ' "$OUT/main.txt"; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
handle=$(sed -n 's/^exported //p' "$OUT/main.txt")
tandem-test-client --app-id chooser --size 120x80 --parent-handle "$handle" > "$OUT/chooser.txt" 2>&1 & chooser=$!
wait_focused chooser
tandem-compositor msg windows --json > "$OUT/foreign.json"
tandem-test-client --pointer-drag 30,30,30,30 --size 1024x768
sleep 0.5
tandem-compositor msg windows --json > "$OUT/clicked.json"
tandem-test-client --app-id own --windows 2 --size 200x150 --dialog > "$OUT/own.txt" 2>&1 & own=$!
wait_focused own
tandem-compositor msg windows --json > "$OUT/own.json"
kill $main $chooser $own
tandem-compositor msg quit
"#;
    let run = run_compositor(
        &["--backend", "headless", "--gpus", "1", OUTPUT[0], OUTPUT[1]],
        script,
        &[],
    );
    let context = format!(
        "main: {}\nchooser: {}\nstderr:\n{}",
        std::fs::read_to_string(run.path("main.txt")).unwrap_or_default(),
        std::fs::read_to_string(run.path("chooser.txt")).unwrap_or_default(),
        run.stderr
    );

    let (_, main, main_parent) = window(&run, "foreign.json", "main");
    let (_, chooser, chooser_parent) = window(&run, "foreign.json", "chooser");
    assert_eq!(main_parent, None, "{context}");
    assert_eq!(
        chooser_parent.as_deref(),
        Some("window 0"),
        "msg windows names the imported parent\n{context}"
    );
    assert_eq!((chooser.2, chooser.3), (120, 80), "{context}");
    assert_eq!(
        centre(chooser),
        centre(main),
        "the dialog of another program's window is centred over it: {chooser:?} over {main:?}\n{context}"
    );

    let (main_index, _, _) = window(&run, "clicked.json", "main");
    let (chooser_index, _, _) = window(&run, "clicked.json", "chooser");
    let clicked = run.json("clicked.json");
    let main_focused = clicked["windows"][main_index]["focused"] == true;
    assert!(
        main_focused,
        "the click raised and focused the parent: {clicked}\n{context}"
    );
    assert!(
        chooser_index > main_index,
        "the dialog stays above its raised parent: {clicked}\n{context}"
    );

    let windows = run.json("own.json");
    let own: Vec<(i64, i64, i64, i64, Option<String>)> = windows["windows"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|w| w["app_id"] == "own")
                .map(|w| {
                    let n = |key: &str| w[key].as_i64().unwrap_or(-1);
                    (
                        n("x"),
                        n("y"),
                        n("width"),
                        n("height"),
                        w["parent"].as_str().map(str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(own.len(), 2, "{windows}\n{context}");
    let (first, second) = (&own[0], &own[1]);
    assert_eq!(first.4, None, "{windows}");
    assert_eq!(second.4.as_deref(), Some("window 0"), "{windows}");
    assert_eq!(
        (second.0, second.1),
        (first.0, first.1),
        "a same-sized dialog of the client's own window lies exactly over it, not cascaded: {windows}"
    );
}
