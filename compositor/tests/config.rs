//! The configuration file through the real compositor: `config --default` prints a file that
//! checks, an error names its line and column; at start the file's startup programs run and its
//! output sections apply; `msg reload` of a broken file reports the error and keeps the
//! configuration before it; a change to the file is picked up on its own.

mod common;

use std::process::Command;

use common::*;

fn compositor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tandem-compositor"))
}

#[test]
fn config_default_checks_and_errors_name_line_and_column() {
    let dir = tempfile::tempdir().expect("temp dir");
    let default = compositor()
        .args(["config", "--default"])
        .output()
        .expect("runs");
    assert!(default.status.success());
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &default.stdout).expect("write");
    let checked = compositor()
        .args(["config", "--check"])
        .arg(&path)
        .output()
        .expect("runs");
    let out = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success() && out.contains(": ok"),
        "the default checks: {out}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        "startup = []\n[keyboard]\nlayout = \"us\"\nrepeat_delay = soon\n",
    )
    .expect("write");
    let checked = compositor()
        .args(["config", "--check"])
        .arg(&broken)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&checked.stderr);
    assert!(
        !checked.status.success() && err.contains("line 4") && err.contains("column"),
        "a broken file is refused with its line and column: {err}"
    );
}

#[test]
fn the_configuration_applies_at_start_and_reloads_when_it_changes() {
    let config_home = tempfile::tempdir().expect("temp dir");
    let dir = config_home.path().join("tandem");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("config.toml"),
        "startup = [\"tandem-test-client --size 120x90 --app-id started\"]\n\n\
         [outputs.HEADLESS-1]\nscale = 2\n",
    )
    .expect("write");
    let script = r#"
cfg="$XDG_CONFIG_HOME/tandem/config.toml"
i=0; until tandem-compositor msg windows --json | grep -q started; do
  i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
tandem-compositor msg windows --json > "$OUT/windows.json"
tandem-compositor msg outputs --json > "$OUT/start.json"
printf '[outputs.HEADLESS-1]\nscale = "big"\n' > "$cfg"
tandem-compositor msg reload > "$OUT/reload-bad.txt" 2>&1; echo "status $?" >> "$OUT/reload-bad.txt"
tandem-compositor msg outputs --json > "$OUT/after-bad.json"
tandem-compositor msg session > "$OUT/session-bad.txt"
printf '[keyboard]\nlayout = "no-such-layout"\n' > "$cfg"
tandem-compositor msg reload > "$OUT/reload-layout.txt" 2>&1
printf '[outputs.HEADLESS-1]\nscale = 1.5\n' > "$cfg"
i=0; until tandem-compositor msg outputs --json | grep -q '"scale": 1.5'; do
  i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.1; done
tandem-compositor msg outputs --json > "$OUT/after-change.json"
tandem-compositor msg quit
"#;
    let home = config_home.path().to_string_lossy().into_owned();
    let run = run_compositor(&ONE_GPU_640X480, script, &[("XDG_CONFIG_HOME", &home)]);
    let log = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    let scale = |name: &str| run.json(name)["outputs"][0]["scale"].as_f64();
    assert!(
        run.json("windows.json").to_string().contains("started"),
        "the startup program's window: {}\n{}",
        run.json("windows.json"),
        run.stderr
    );
    assert_eq!(
        scale("start.json"),
        Some(2.0),
        "the output section at start"
    );
    let bad = log("reload-bad.txt");
    assert!(
        bad.contains("line 2") && bad.contains("column") && bad.contains("status 1"),
        "msg reload of a broken file: {bad}"
    );
    assert_eq!(
        scale("after-bad.json"),
        Some(2.0),
        "the configuration before it is kept"
    );
    assert!(
        log("session-bad.txt").contains("configuration not loaded"),
        "msg session names the error: {}",
        log("session-bad.txt")
    );
    assert!(
        log("reload-layout.txt").contains("no-such-layout"),
        "a keyboard layout xkb cannot compile is refused: {}",
        log("reload-layout.txt")
    );
    assert_eq!(
        scale("after-change.json"),
        Some(1.5),
        "a change to the file is picked up on its own"
    );
}
