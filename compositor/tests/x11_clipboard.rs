//! The clipboard and primary selection between X11 and Wayland programs, with Debian's xclip
//! and wl-clipboard on the headless compositor: text copied on one side pastes on the other,
//! both ways and for both selections, and a 4 MB clipboard crosses both ways too (xclip sends
//! it to the compositor incrementally).

mod common;

use common::*;

#[test]
fn xclip_and_wl_paste_exchange_the_clipboard_and_the_primary_selection_both_ways() {
    require("Xwayland", "xwayland");
    require("xclip", "xclip");
    require("wl-paste", "wl-clipboard");
    let script = r#"
# Wayland to X11 (the first xclip starts Xwayland, which learns the selection then)
timeout 10 wl-copy "copied in wayland"
# An X11 program that asks at once may come before the window manager is up: ask until it is.
i=0; until [ "$(timeout 10 xclip -o -selection clipboard)" = "copied in wayland" ]; do i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.1; done
timeout 10 xclip -o -selection clipboard > "$OUT/x11_clipboard.txt"
timeout 10 wl-copy --primary "selected in wayland"
timeout 10 xclip -o -selection primary > "$OUT/x11_primary.txt"
# X11 to Wayland (xclip stays in the background to serve its selection)
printf 'copied in x11' | timeout 20 xclip -i -selection clipboard
printf 'selected in x11' | timeout 20 xclip -i -selection primary
sleep 1
timeout 10 wl-paste --no-newline > "$OUT/wayland_clipboard.txt"
timeout 10 wl-paste --primary --no-newline > "$OUT/wayland_primary.txt"
# 4 MB of text each way
head -c 3000000 /dev/urandom | base64 -w0 > "$OUT/big.txt"
timeout 20 xclip -i -selection clipboard < "$OUT/big.txt"
sleep 1
timeout 20 wl-paste --no-newline > "$OUT/big_from_x11.txt"
timeout 20 wl-copy < "$OUT/big.txt"
timeout 20 xclip -o -selection clipboard > "$OUT/big_from_wayland.txt"
pkill -x xclip
tandem-compositor msg quit
"#;
    let run = run_compositor(&["--backend", "headless", "--gpus", "1"], script, &[]);
    let read = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    let cases = [
        ("x11_clipboard.txt", "copied in wayland"),
        ("x11_primary.txt", "selected in wayland"),
        ("wayland_clipboard.txt", "copied in x11"),
        ("wayland_primary.txt", "selected in x11"),
    ];
    for (file, expected) in cases {
        assert_eq!(read(file), expected, "{file}\nstderr:\n{}", run.stderr);
    }
    let big = read("big.txt");
    assert_eq!(big.len(), 4_000_000, "the 4 MB sample");
    for file in ["big_from_x11.txt", "big_from_wayland.txt"] {
        let got = read(file);
        assert!(
            got == big,
            "{file}: {} bytes arrived of {}\nstderr:\n{}",
            got.len(),
            big.len(),
            run.stderr
        );
    }
}
