//! Running the compositor binary with a script as its client, and reading what it left behind.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn require(program: &str, package: &str) {
    let found = program.starts_with('/') && Path::new(program).is_file()
        || std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|dir| dir.join(program).is_file())
        });
    assert!(
        found,
        "{program} is not installed: run `just deps` (Debian package {package})"
    );
}

pub struct Run {
    pub dir: tempfile::TempDir,
    pub runtime: tempfile::TempDir,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn json(&self, name: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| {
            panic!(
                "{name}: {e}\nstdout:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        });
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}: {text}"))
    }
}

/// Headless compositor arguments: one software GPU and one 640x480 output.
pub const ONE_GPU_640X480: [&str; 6] = [
    "--backend",
    "headless",
    "--gpus",
    "1",
    "--output",
    "640x480",
];

/// Headless compositor arguments: two software GPUs with mirrored outputs, then `extra`.
pub fn two_gpus_mirrored<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--backend", "headless", "--gpus", "2", "--layout", "mirror"];
    args.extend_from_slice(extra);
    args
}

/// Runs `tandem-compositor ARGS -- sh -c SCRIPT`. The script finds `tandem-compositor` and
/// `tandem-test-client` on PATH and writes into `$OUT`; it must end with `msg quit`.
pub fn run_compositor(args: &[&str], script: &str, envs: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(
        runtime.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_tandem-compositor"));
    let bin_dir = bin.parent().expect("bin dir").to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let output = Command::new(&bin)
        .args(args)
        .args(["--exit-after", "60", "--screenshot-dir"])
        .arg(dir.path())
        .args(["--", "sh", "-c", script])
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env("OUT", dir.path())
        .env("PATH", path)
        .env("RUST_LOG", "warn")
        // The user's own configuration file does not change what a test sees.
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .envs(envs.iter().copied())
        .output()
        .expect("compositor runs");
    let run = Run {
        dir,
        runtime,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        output.status.success(),
        "compositor failed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    run
}

/// Shell lines that wait until a window is mapped and drawn into a screenshot, then save the
/// screenshots and the VRAM report as during-*.
pub const CAPTURE_WHILE_SHOWN: &str = r#"
i=0
until tandem-compositor msg windows --json | grep -q app_id; do
  i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1
done
sleep 1.5
for f in "$OUT"/output-*.png; do cp "$f" "$OUT/during-$(basename "$f")"; done
tandem-compositor msg vram --json > "$OUT/during.json"
tandem-compositor msg windows --json > "$OUT/windows.json"
"#;

/// Shell function `wait_released`: waits up to 5 s for the ledger to hold no bytes (Xwayland
/// destroys a closed window's wl_surface a second after the window goes).
macro_rules! wait_released_function {
    () => {
        r#"
wait_released() {
  i=0
  until tandem-compositor msg vram --json | tr -d ' \n' | grep -q '"total_bytes":0[,}]'; do
    i=$((i+1)); [ $i -gt 50 ] && break; sleep 0.1
  done
}
"#
    };
}

/// Defines `wait_released` (see `wait_released_function`).
pub const WAIT_RELEASED: &str = wait_released_function!();

/// Shell lines that wait for the ledger to reach zero, save the VRAM report as after.json,
/// then quit.
pub const CAPTURE_AFTER_AND_QUIT: &str = concat!(
    wait_released_function!(),
    r#"
wait_released
tandem-compositor msg vram --json > "$OUT/after.json"
tandem-compositor msg quit
"#
);

/// Decoded RGBA pixels of a PNG (any colour type) and its width.
pub fn read_png(path: &Path) -> (Vec<u8>, u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut decoder = png::Decoder::new(file);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("png header");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("png data");
    pixels.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => pixels,
        png::ColorType::Rgb => pixels
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        png::ColorType::GrayscaleAlpha => pixels
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        _ => pixels.iter().flat_map(|g| [*g, *g, *g, 255]).collect(),
    };
    (rgba, info.width)
}

/// Pixels that differ from the compositor's background.
pub fn foreground_pixels(path: &Path) -> usize {
    let (pixels, _) = read_png(path);
    let background = [26u8, 26, 36];
    pixels
        .chunks_exact(4)
        .filter(|p| {
            p[..3]
                .iter()
                .zip(background)
                .any(|(a, b)| a.abs_diff(b) > 2)
        })
        .count()
}

pub fn pixel(path: &Path, x: u32, y: u32) -> [u8; 3] {
    let (pixels, width) = read_png(path);
    let offset = ((y * width + x) * 4) as usize;
    [pixels[offset], pixels[offset + 1], pixels[offset + 2]]
}

/// Runs `client` on a mirrored two-GPU layout and checks screenshot, report and release;
/// returns the run for further checks.
pub fn shows_and_releases(client: &str, package: &str) -> Run {
    require(client.split_whitespace().next().expect("program"), package);
    let script = format!(
        "{client} & pid=$!\n{CAPTURE_WHILE_SHOWN}\nkill $pid; wait $pid\n{CAPTURE_AFTER_AND_QUIT}"
    );
    let run = run_compositor(
        &two_gpus_mirrored(&["--output", "640x480@0", "--output", "640x480@1"]),
        &script,
        &[("LIBGL_ALWAYS_SOFTWARE", "1")],
    );
    let windows = run.json("windows.json");
    assert!(
        !windows["windows"].as_array().expect("windows").is_empty(),
        "{client} mapped no window: {windows}\n{}",
        run.stderr
    );
    for output in ["during-output-0.png", "during-output-1.png"] {
        let drawn = foreground_pixels(&run.path(output));
        assert!(
            drawn > 10_000,
            "{client}: {output} shows only {drawn} client pixels"
        );
    }
    let during = run.json("during.json");
    assert!(
        during["total_bytes"].as_u64().expect("total_bytes") > 0,
        "{during}"
    );
    for gpu in during["gpus"].as_array().expect("gpus") {
        assert!(
            gpu["bytes"].as_u64().expect("bytes") > 0,
            "{client}: nothing on {gpu}"
        );
    }
    let window = &during["windows"][0];
    assert!(
        window["bytes"].as_u64().expect("bytes") > 0 && window["pid"].as_i64().is_some(),
        "{window}"
    );
    let after = run.json("after.json");
    assert_eq!(
        after["total_bytes"].as_u64(),
        Some(0),
        "{client} left bytes behind: {after}"
    );
    run
}

/// The pixels of a binary PPM (`tandem-test-client --capture-out`): RGB, and the width.
pub fn read_ppm(path: &std::path::Path) -> (Vec<u8>, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        let start = at;
        while !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..at]).into_owned());
        at += 1;
    }
    let width: u32 = fields[1].parse().expect("PPM width");
    (bytes[at..].to_vec(), width)
}

/// For runs whose RSS is checked: glibc's malloc raises its mmap threshold after large blocks
/// are freed and keeps later ones in its heap, where RSS creeps up with fragmentation; with the
/// threshold fixed, RSS shows what the compositor holds (docs/reliability.md, the soak).
pub const FIXED_MMAP_THRESHOLD: (&str, &str) = ("MALLOC_MMAP_THRESHOLD_", "65536");

/// The compositor's resident memory as `grep Rss /proc/PID/status` wrote it into a file, in
/// KiB. `file` is the binaries' pages read in as code runs for the first time (bounded by their
/// size); what a leak grows is `anon` (heap) or `shmem` (client buffers and their mappings).
#[derive(Debug, Clone, Copy)]
pub struct Rss {
    pub anon: u64,
    pub file: u64,
    pub shmem: u64,
}

impl Rss {
    pub fn read(run: &Run, name: &str) -> Rss {
        let text = std::fs::read_to_string(run.path(name)).unwrap_or_default();
        let field = |key: &str| -> u64 {
            text.lines()
                .find(|line| line.starts_with(key))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
                .unwrap_or_else(|| panic!("{name} has no {key}: {text:?}"))
        };
        Rss {
            anon: field("RssAnon:"),
            file: field("RssFile:"),
            shmem: field("RssShmem:"),
        }
    }

    /// What a leak would grow, in KiB.
    pub fn held(&self) -> u64 {
        self.anon + self.shmem
    }
}
