//! Selections set by clients without the keyboard focus, and GTK's primary selection, through
//! real clients: a privileged client with no window sets the clipboard (wl_data_device) and
//! the primary selection (zwp_primary_selection), `wl-paste` reads them, and the client is told
//! `cancelled` when `wl-copy` takes them; a sandboxed client with no window cannot; a
//! gtk_primary_selection source is read by `wl-paste --primary`, and the focused window's gtk
//! device is offered, and reads, every primary selection.

mod common;

use common::*;

fn lines_of(run: &Run, name: &str) -> Vec<String> {
    std::fs::read_to_string(run.path(name))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_privileged_client_without_the_focus_sets_the_selections_a_sandboxed_one_does_not() {
    require("wl-paste", "wl-clipboard");
    let script = r#"
tandem-test-client --app-id focused --size 120x90 & window=$!
i=0; until tandem-compositor msg windows --json | grep -q '"focused": true'; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
tandem-test-client --windows 0 --selection clipboard:from-background > "$OUT/clipboard.txt" 2>&1 & clipboard=$!
tandem-test-client --windows 0 --selection primary:primary-from-background > "$OUT/primary.txt" 2>&1 & primary=$!
i=0; until grep -q 'selection: set' "$OUT/clipboard.txt" && grep -q 'selection: set' "$OUT/primary.txt"; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
timeout 10 wl-paste --no-newline > "$OUT/pasted-clipboard.txt"
timeout 10 wl-paste --primary --no-newline > "$OUT/pasted-primary.txt"
tandem-test-client --sandbox 3 --selection clipboard:from-sandbox > "$OUT/sandbox.txt" 2>&1 & sandbox=$!
i=0; until grep -q 'sandbox held' "$OUT/sandbox.txt"; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
sleep 0.5
timeout 10 wl-paste --no-newline > "$OUT/pasted-after-sandbox.txt"
timeout 10 wl-copy taken
timeout 10 wl-copy --primary taken-primary
i=0; until grep -q 'selection: cancelled' "$OUT/clipboard.txt" && grep -q 'selection: cancelled' "$OUT/primary.txt"; do i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.1; done
timeout 10 wl-paste --no-newline > "$OUT/pasted-last.txt"
wait $sandbox
kill $clipboard $primary $window
tandem-compositor msg quit
"#;
    let run = run_compositor(&["--backend", "headless", "--gpus", "1"], script, &[]);
    let read = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    let context = format!(
        "clipboard client: {:?}\nprimary client: {:?}\nsandbox: {:?}\nstderr:\n{}",
        lines_of(&run, "clipboard.txt"),
        lines_of(&run, "primary.txt"),
        lines_of(&run, "sandbox.txt"),
        run.stderr
    );
    assert_eq!(
        read("pasted-clipboard.txt"),
        "from-background",
        "the clipboard a client without a window set is pasted\n{context}"
    );
    assert_eq!(
        read("pasted-primary.txt"),
        "primary-from-background",
        "the primary selection a client without a window set is pasted\n{context}"
    );
    assert!(
        lines_of(&run, "sandbox.txt")
            .iter()
            .any(|l| l == "selection: set clipboard"),
        "the sandboxed client asked for the clipboard\n{context}"
    );
    assert_eq!(
        read("pasted-after-sandbox.txt"),
        "from-background",
        "a sandboxed client without the focus does not take the clipboard\n{context}"
    );
    for name in ["clipboard.txt", "primary.txt"] {
        let lines = lines_of(&run, name);
        assert!(
            lines
                .iter()
                .any(|l| l == "selection: sent text/plain;charset=utf-8"),
            "{name}: the held source was asked for its text\n{context}"
        );
        assert!(
            lines.iter().any(|l| l == "selection: cancelled"),
            "{name}: the held source is cancelled when wl-copy takes its selection\n{context}"
        );
    }
    assert_eq!(read("pasted-last.txt"), "taken", "{context}");
}

#[test]
fn gtk_primary_selection_sources_are_read_everywhere_and_the_focused_gtk_device_reads_every_selection(
) {
    require("wl-paste", "wl-clipboard");
    let script = r#"
tandem-test-client --app-id focused --size 120x90 --gtk-paste > "$OUT/focused.txt" 2>&1 & window=$!
i=0; until tandem-compositor msg windows --json | grep -q '"focused": true'; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
timeout 10 wl-copy --primary from-wl-copy
i=0; until grep -q 'gtk paste: from-wl-copy' "$OUT/focused.txt"; do i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.1; done
tandem-test-client --windows 0 --selection gtk:from-gtk > "$OUT/gtk.txt" 2>&1 & gtk=$!
i=0; until grep -q 'selection: set' "$OUT/gtk.txt"; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
timeout 10 wl-paste --primary --no-newline > "$OUT/pasted.txt"
i=0; until grep -q 'gtk paste: from-gtk' "$OUT/focused.txt"; do i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.1; done
tandem-test-client --sandbox 2 --selection gtk:from-sandbox > "$OUT/sandbox.txt" 2>&1
timeout 10 wl-paste --primary --no-newline > "$OUT/pasted-after-sandbox.txt"
kill $gtk
i=0; while timeout 10 wl-paste --primary --list-types 2>/dev/null | grep -q text/plain; do i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.1; done
timeout 10 wl-paste --primary --list-types > "$OUT/types-after-exit.txt" 2>&1
kill $window
tandem-compositor msg quit
"#;
    let run = run_compositor(&["--backend", "headless", "--gpus", "1"], script, &[]);
    let read = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    let focused = lines_of(&run, "focused.txt");
    let context = format!(
        "focused gtk client: {focused:?}\ngtk source: {:?}\nsandbox: {:?}\nstderr:\n{}",
        lines_of(&run, "gtk.txt"),
        lines_of(&run, "sandbox.txt"),
        run.stderr
    );
    assert!(
        focused.iter().any(|l| l == "gtk paste: from-wl-copy"),
        "the focused window's gtk device reads the primary selection wl-copy set\n{context}"
    );
    assert!(
        focused
            .iter()
            .any(|l| l == "gtk offer: text/plain;charset=utf-8"),
        "the gtk offer names the type\n{context}"
    );
    assert_eq!(
        read("pasted.txt"),
        "from-gtk",
        "wl-paste reads a gtk_primary_selection source\n{context}"
    );
    assert!(
        focused.iter().any(|l| l == "gtk paste: from-gtk"),
        "the focused window's gtk device reads another client's gtk source\n{context}"
    );
    assert_eq!(
        read("pasted-after-sandbox.txt"),
        "from-gtk",
        "a sandboxed gtk client without the focus does not take the primary selection\n{context}"
    );
    assert!(
        !read("types-after-exit.txt").contains("text/plain"),
        "the primary selection goes with the gtk source's client: {:?}\n{context}",
        read("types-after-exit.txt")
    );
}
