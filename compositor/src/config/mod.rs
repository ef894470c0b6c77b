//! The configuration file, $XDG_CONFIG_HOME/tandem/config.toml: keyboard, key bindings, startup
//! programs, outputs and the idle timeout ([`Config`]), parsed with serde and toml; unknown keys are errors, and
//! every error names its line and column.
//!
//! `main` loads it at start (`tandem-compositor config` prints the default and checks files)
//! and starts its `startup` programs; [`apply`] puts it into effect (the keyboard's keymap and
//! repeat, the idle timeout, the outputs: those that come later get their section through [`apply_new_outputs`],
//! which backends call after each dispatch) and [`reload`] reads it again when it changes
//! ([`watch`]: its modification time, polled once a second) and on `msg reload`, keeping the
//! configuration before it when the file has an error. The key bindings are read by input.

pub mod bindings;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use smithay::input::keyboard::XkbConfig;
use smithay::output::{Mode, Output};
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::utils::Transform;

use crate::protocols::output_management::{self, HeadChanges};
use crate::state::State;
use bindings::Binding;

/// The documented default file (`tandem-compositor config --default`).
pub const DEFAULT: &str = include_str!("default.toml");

/// The configuration, as the file says it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub startup: Vec<String>,
    #[serde(default)]
    pub keyboard: KeyboardConfig,
    /// Key binding text to action text, as written; parsed into [`Config::parsed_bindings`].
    #[serde(default)]
    pub bindings: BTreeMap<String, String>,
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputConfig>,
    #[serde(default)]
    pub idle: IdleConfig,
    #[serde(default)]
    pub touchpad: TouchpadConfig,
    #[serde(default)]
    pub mouse: MouseConfig,
    #[serde(default)]
    pub gpus: GpusConfig,
    /// The bindings, parsed (filled by [`parse`]).
    #[serde(skip)]
    pub parsed_bindings: Vec<Binding>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyboardConfig {
    pub layout: String,
    pub variant: String,
    pub options: String,
    pub model: String,
    pub repeat_rate: i32,
    pub repeat_delay: i32,
}

impl Default for KeyboardConfig {
    fn default() -> KeyboardConfig {
        KeyboardConfig {
            layout: String::new(),
            variant: String::new(),
            options: String::new(),
            model: String::new(),
            repeat_rate: 25,
            repeat_delay: 200,
        }
    }
}

/// What happens when the seat is idle (no input) for a while.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdleConfig {
    /// Seconds without input before every screen goes off (0: never); input turns them on.
    pub screens_off_after: u64,
}

/// Touchpads, through libinput (TTY backend).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TouchpadConfig {
    /// A tap clicks.
    pub tap: bool,
    /// Scrolling moves the content with the fingers.
    pub natural_scroll: bool,
    /// Pointer acceleration, -1 (slowest) to 1 (fastest).
    pub accel_speed: f64,
    /// The touchpad ignores touches while keys are typed.
    pub disable_while_typing: bool,
}

impl Default for TouchpadConfig {
    fn default() -> TouchpadConfig {
        TouchpadConfig {
            tap: true,
            natural_scroll: false,
            accel_speed: 0.0,
            disable_while_typing: true,
        }
    }
}

/// Mice, trackballs and other pointers that are not touchpads, through libinput (TTY backend).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MouseConfig {
    pub natural_scroll: bool,
    /// Pointer acceleration, -1 (slowest) to 1 (fastest).
    pub accel_speed: f64,
}

/// The GPUs: when an idle one parks, and what one client may hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpusConfig {
    /// Seconds a GPU needed by nothing stays open before it parks (0: never parks).
    pub park_after: f64,
    /// The most GPU memory one client's windows may hold, in MiB (0: no limit).
    pub client_budget_mib: u64,
}

impl Default for GpusConfig {
    fn default() -> GpusConfig {
        GpusConfig {
            park_after: 10.0,
            client_budget_mib: 512,
        }
    }
}

/// What the command line set of `[gpus]`: it wins over the file.
#[derive(Debug, Clone, Copy, Default)]
pub struct GpuFlags {
    pub park_after: Option<f64>,
    pub client_budget_mib: Option<u64>,
}

/// The longest idle timeout accepted: a week.
const MAX_IDLE_SECONDS: u64 = 7 * 24 * 3600;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    pub mode: Option<String>,
    pub position: Option<[i32; 2]>,
    pub scale: Option<f64>,
    pub transform: Option<String>,
    pub enabled: Option<bool>,
    /// The GPU that draws the output (an id from `msg gpus`: renderD128, card1, soft0).
    pub render_gpu: Option<String>,
    /// Offered to clients for leasing (wp_drm_lease_device_v1: VR runtimes) instead of being
    /// part of the desktop; named by connector (`Virtual-2`, `DP-1`). Connectors the kernel
    /// marks non-desktop are leased without it; `false` puts such a connector on the desktop.
    pub lease: Option<bool>,
}

impl Default for Config {
    fn default() -> Config {
        parse(DEFAULT, Path::new("(default)")).unwrap_or_else(|err| {
            // The default is checked by a unit test; this cannot happen in a release.
            tracing::error!(%err, "the built-in default configuration does not parse");
            Config {
                startup: Vec::new(),
                keyboard: KeyboardConfig::default(),
                bindings: BTreeMap::new(),
                outputs: BTreeMap::new(),
                idle: IdleConfig::default(),
                touchpad: TouchpadConfig::default(),
                mouse: MouseConfig::default(),
                gpus: GpusConfig::default(),
                parsed_bindings: Vec::new(),
            }
        })
    }
}

/// Where the file is: $XDG_CONFIG_HOME/tandem/config.toml, else ~/.config/tandem/config.toml.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".config")))?;
    Some(base.join("tandem").join("config.toml"))
}

/// Parses `text` (from `path`, for messages): every error with its line and column.
pub fn parse(text: &str, path: &Path) -> Result<Config, String> {
    let mut config: Config = toml::from_str(text)
        .map_err(|err| format!("{}: {}", path.display(), err.to_string().trim_end()))?;
    config.parsed_bindings = config
        .bindings
        .iter()
        .map(|(keys, action)| {
            Binding::parse(keys, action)
                .map_err(|why| format!("{}: line {}: {why}", path.display(), line_of(text, keys)))
        })
        .collect::<Result<_, _>>()?;
    if config.idle.screens_off_after > MAX_IDLE_SECONDS {
        return Err(format!(
            "{}: line {}: idle.screens_off_after: {} seconds is more than a week",
            path.display(),
            line_of(text, "screens_off_after"),
            config.idle.screens_off_after
        ));
    }
    let at =
        |key: &str, why: String| format!("{}: line {}: {why}", path.display(), line_of(text, key));
    for (key, speed) in [
        ("touchpad.accel_speed", config.touchpad.accel_speed),
        ("mouse.accel_speed", config.mouse.accel_speed),
    ] {
        if !(-1.0..=1.0).contains(&speed) {
            return Err(at(
                "accel_speed",
                format!("{key}: {speed} is not within -1 and 1"),
            ));
        }
    }
    let park_after = config.gpus.park_after;
    if !(0.0..=86_400.0).contains(&park_after) {
        return Err(at(
            "park_after",
            format!("gpus.park_after: {park_after} seconds is not within 0 and 86400"),
        ));
    }
    for (name, output) in &config.outputs {
        output_changes(output).map_err(|why| {
            format!(
                "{}: line {}: outputs.{name}: {why}",
                path.display(),
                line_of(text, name)
            )
        })?;
    }
    Ok(config)
}

/// The line (from 1) where `needle` first appears in `text`, or 1.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .map_or(1, |index| index + 1)
}

/// Reads and parses the file at `path`; a missing file is the default configuration.
pub fn load(path: &Path) -> Result<Config, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(err) => Err(format!("{}: {err}", path.display())),
    }
}

/// What an output's section asks of it, as wlr-output-management changes (`None`: off).
fn output_changes(output: &OutputConfig) -> Result<Option<HeadChanges>, String> {
    if output.enabled == Some(false) {
        return Ok(None);
    }
    let mode = output.mode.as_deref().map(parse_mode).transpose()?;
    let transform = output
        .transform
        .as_deref()
        .map(parse_transform)
        .transpose()?;
    if let Some(scale) = output.scale {
        if !(scale > 0.0 && scale <= 8.0) {
            return Err(format!("scale {scale} is not above 0 and at most 8"));
        }
    }
    Ok(Some(HeadChanges {
        mode,
        position: output.position.map(|[x, y]| (x, y)),
        transform,
        scale: output.scale,
    }))
}

/// "WxH" or "WxH@HZ".
fn parse_mode(text: &str) -> Result<Mode, String> {
    let bad = || format!("mode {text:?}: expected WIDTHxHEIGHT or WIDTHxHEIGHT@HZ");
    let (size, hz) = match text.split_once('@') {
        Some((size, hz)) => (size, Some(hz.parse::<f64>().map_err(|_| bad())?)),
        None => (text, None),
    };
    let (w, h) = size.split_once('x').ok_or_else(bad)?;
    let (w, h) = (
        w.parse::<i32>().map_err(|_| bad())?,
        h.parse::<i32>().map_err(|_| bad())?,
    );
    if !(1..=16384).contains(&w) || !(1..=16384).contains(&h) {
        return Err(bad());
    }
    let refresh = hz
        .filter(|hz| *hz > 0.0 && *hz < 1000.0)
        .map_or(60_000, |hz| (hz * 1000.0).round() as i32);
    Ok(Mode {
        size: (w, h).into(),
        refresh,
    })
}

fn parse_transform(text: &str) -> Result<Transform, String> {
    Ok(match text {
        "normal" => Transform::Normal,
        "90" => Transform::_90,
        "180" => Transform::_180,
        "270" => Transform::_270,
        "flipped" => Transform::Flipped,
        "flipped-90" => Transform::Flipped90,
        "flipped-180" => Transform::Flipped180,
        "flipped-270" => Transform::Flipped270,
        other => return Err(format!("transform {other:?}: expected normal, 90, 180, 270, flipped, flipped-90, flipped-180 or flipped-270")),
    })
}

/// Puts `config` into effect: the keyboard's keymap and repeat, and the outputs it names that
/// exist (an output added later gets its section when it comes: [`apply_outputs`]).
pub fn apply(state: &mut State, config: Config) -> Result<(), String> {
    // Checked first: a file that cannot be applied changes nothing.
    output_management::check(state, &configured_outputs(state, &config)?)?;
    if let Some(keyboard) = state.seat.get_keyboard() {
        let keys = &config.keyboard;
        let xkb = XkbConfig {
            rules: "",
            model: &keys.model,
            layout: &keys.layout,
            variant: &keys.variant,
            options: (!keys.options.is_empty()).then(|| keys.options.clone()),
        };
        keyboard
            .set_xkb_config(state, xkb)
            .map_err(|err| format!("keyboard layout {:?}: {err:?}", keys.layout))?;
        keyboard.change_repeat_info(
            keys.repeat_rate.clamp(1, 1000),
            keys.repeat_delay.clamp(1, 10_000),
        );
    }
    let screens_off_after = Duration::from_secs(config.idle.screens_off_after);
    state.config = config;
    crate::screens::configure(state, Some(screens_off_after));
    apply_gpus(state);
    crate::input::devices::configure_all(state);
    crate::backend::tty::lease::config_changed(state);
    state.config_generation += 1;
    apply_new_outputs(state);
    Ok(())
}

/// Puts `[gpus]` into effect, where the command line did not set it: the idle time before a GPU
/// parks (read by `gpu::parking` on its next check) and the client budget.
pub fn apply_gpus(state: &mut State) {
    let flags = state.gpu_flags;
    let park_after = flags.park_after.unwrap_or(state.config.gpus.park_after);
    state.park_after = (park_after > 0.0).then(|| Duration::from_secs_f64(park_after));
    let mib = flags
        .client_budget_mib
        .unwrap_or(state.config.gpus.client_budget_mib);
    state
        .gpus
        .set_client_budget((mib > 0).then(|| mib.saturating_mul(1 << 20)));
}

/// The outputs there are now that `config` has a section for (by output name, or by monitor:
/// "make model serial"), with what it asks of them.
fn configured_outputs(
    state: &State,
    config: &Config,
) -> Result<Vec<(Output, Option<HeadChanges>)>, String> {
    let mut changes = Vec::new();
    for (name, section) in &config.outputs {
        if let Some(info) = state.outputs.by_name_or_monitor(name) {
            changes.push((info.output.clone(), output_changes(section)?));
        }
    }
    Ok(changes)
}

/// The configuration load an output was last given its section by.
struct ConfigApplied(AtomicU64);

/// Marks an output whose monitor's remembered settings were looked up (once, when it came).
struct MonitorRecalled;

/// Applies the configuration's sections to outputs it was not applied to yet (every output
/// after a reload; an output that just came). A monitor seen before this session, on any
/// connector, gets its last settings back instead of its section when it comes. Backends call
/// it after each dispatch.
pub fn apply_new_outputs(state: &mut State) {
    let generation = state.config_generation;
    let applied = |output: &Output| {
        output
            .user_data()
            .get::<ConfigApplied>()
            .map(|applied| applied.0.load(Ordering::Relaxed))
    };
    let new: Vec<Output> = state
        .outputs
        .iter()
        .map(|info| info.output.clone())
        .filter(|output| applied(output) != Some(generation))
        .collect();
    for output in new {
        let data = output.user_data();
        data.insert_if_missing_threadsafe(|| ConfigApplied(AtomicU64::new(generation)));
        if let Some(applied) = data.get::<ConfigApplied>() {
            applied.0.store(generation, Ordering::Relaxed);
        }
        let arrived = data.get::<MonitorRecalled>().is_none();
        data.insert_if_missing_threadsafe(|| MonitorRecalled);
        let Some(monitor) = state.outputs.get(&output).map(|info| info.monitor.clone()) else {
            continue;
        };
        let section = [output.name(), monitor.description()]
            .iter()
            .find_map(|key| state.config.outputs.get(key))
            .cloned();
        let remembered = arrived
            .then(|| state.monitor_settings.recall(&monitor).cloned())
            .flatten();
        let changes = match (remembered, &section) {
            (Some(remembered), _) => {
                tracing::info!(output = %output.name(), monitor = %monitor.description(),
                    "monitor seen before: its last settings applied");
                Some(remembered)
            }
            (None, Some(section)) => match output_changes(section) {
                Ok(changes) => changes,
                Err(err) => {
                    tracing::warn!(output = %output.name(), %err, "output section not applied");
                    continue;
                }
            },
            (None, None) => continue,
        };
        let changes = vec![(output.clone(), changes)];
        match output_management::check(state, &changes) {
            Ok(()) => {
                output_management::apply_changes(state, &output, changes[0].1.as_ref());
                state.request_redraw();
            }
            Err(err) => tracing::warn!(output = %output.name(), %err, "output section not applied"),
        }
        if let Some(gpu) = section.and_then(|section| section.render_gpu) {
            if let Err(err) = crate::gpu::render_choice::set_render_gpu(state, &output, &gpu) {
                tracing::warn!(output = %output.name(), %err, "render_gpu not applied");
            }
        }
    }
}

/// Reads the file again and applies it; on an error the configuration before it is kept.
pub fn reload(state: &mut State) -> Result<(), String> {
    let Some(path) = state.config_path.clone() else {
        return Err("no configuration file (neither XDG_CONFIG_HOME nor HOME is set)".into());
    };
    let result = load(&path).and_then(|config| apply(state, config));
    match &result {
        Ok(()) => tracing::info!(path = %path.display(), "configuration loaded"),
        Err(err) => tracing::warn!(%err, "configuration not loaded: the one before it is kept"),
    }
    state.config_error = result.as_ref().err().cloned();
    result
}

/// Reloads the file whenever its modification time changes (polled once a second).
pub fn watch(state: &mut State) {
    let Some(path) = state.config_path.clone() else {
        return;
    };
    let mut seen = modified(&path);
    let watched = state.display_loop_handle().insert_source(
        Timer::from_duration(Duration::from_secs(1)),
        move |_, _, state| {
            let now = modified(&path);
            if now != seen {
                seen = now;
                let _ = reload(state);
            }
            TimeoutAction::ToDuration(Duration::from_secs(1))
        },
    );
    if let Err(err) = watched {
        tracing::warn!(%err, "the configuration file is not watched");
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_parses_and_binds_what_it_documents() {
        let config = parse(DEFAULT, Path::new("default")).expect("the default parses");
        assert_eq!(config.parsed_bindings.len(), config.bindings.len());
        assert!(config.bindings.contains_key("Super+Return"));
    }

    #[test]
    fn errors_name_their_line_and_column() {
        let err = parse(
            "startup = []\n[keyboard]\nrepeat_rate = \"fast\"\n",
            Path::new("c.toml"),
        )
        .expect_err("a string is no rate");
        assert!(err.contains("line 3") && err.contains("column"), "{err}");
        let err = parse("[keyboard]\nlayuot = \"de\"\n", Path::new("c.toml")).expect_err("typo");
        assert!(err.contains("line 2") && err.contains("layuot"), "{err}");
        let err = parse(
            "[bindings]\n\"Super+Nosuchkey\" = \"close\"\n",
            Path::new("c.toml"),
        )
        .expect_err("no such key");
        assert!(err.contains("line 2") && err.contains("Nosuchkey"), "{err}");
        let err = parse("[outputs.X]\nmode = \"big\"\n", Path::new("c.toml")).expect_err("mode");
        assert!(err.contains("line 1") && err.contains("mode"), "{err}");
    }

    #[test]
    fn input_and_gpu_sections_are_read_and_checked() {
        let config = parse(
            "[touchpad]\ntap = false\nnatural_scroll = true\n[mouse]\naccel_speed = -0.5\n\
             [gpus]\npark_after = 0\nclient_budget_mib = 64\n",
            Path::new("c.toml"),
        )
        .expect("parses");
        assert!(!config.touchpad.tap && config.touchpad.natural_scroll);
        assert!(
            config.touchpad.disable_while_typing,
            "left out: the default"
        );
        assert_eq!(config.mouse.accel_speed, -0.5);
        assert_eq!(
            (config.gpus.park_after, config.gpus.client_budget_mib),
            (0.0, 64)
        );
        let err = parse("[mouse]\naccel_speed = 3\n", Path::new("c.toml")).expect_err("speed");
        assert!(
            err.contains("line 2") && err.contains("mouse.accel_speed"),
            "{err}"
        );
        let err = parse("[gpus]\npark_after = -1\n", Path::new("c.toml")).expect_err("negative");
        assert!(
            err.contains("line 2") && err.contains("park_after"),
            "{err}"
        );
        let err = parse("[touchpad]\ntapp = true\n", Path::new("c.toml")).expect_err("typo");
        assert!(err.contains("tapp"), "{err}");
    }

    #[test]
    fn modes_and_transforms_parse() {
        assert_eq!(parse_mode("1920x1080@59.94").map(|m| m.refresh), Ok(59_940));
        assert_eq!(
            parse_mode("800x600").map(|m| (m.size.w, m.refresh)),
            Ok((800, 60_000))
        );
        assert!(parse_mode("0x600").is_err() && parse_mode("axb").is_err());
        assert_eq!(parse_transform("flipped-90"), Ok(Transform::Flipped90));
        assert!(parse_transform("sideways").is_err());
    }
}
