//! wlr-output-power-management as a client (`tandem-test-client --output-power NAME=on|off`):
//! finds the output by its wl_output name, sets its mode, and reports every `mode` and
//! `failed` event while it holds the power object (`--power-hold SECONDS`), so a test sees the
//! mode change it asked for and those made by anything else (idle, input, IPC).

use std::time::{Duration, Instant};

use wayland_client::protocol::wl_output::{self, WlOutput};
use wayland_client::{Connection, Dispatch, QueueHandle, WEnum};
use wayland_protocols_wlr::output_power_management::v1::client::{
    zwlr_output_power_manager_v1::ZwlrOutputPowerManagerV1,
    zwlr_output_power_v1::{self, Mode, ZwlrOutputPowerV1},
};

use crate::image_copy::Shared;
use crate::{Globals, TestClient};

/// What a power object said, in order: `Some(true)` on, `Some(false)` off, `None` failed.
pub type PowerEvents = Shared<Vec<Option<bool>>>;

/// An output's name as its wl_output (version 4) says it.
type OutputName = Shared<Option<String>>;

impl Dispatch<WlOutput, OutputName> for Globals {
    fn event(
        _: &mut Self,
        _: &WlOutput,
        event: wl_output::Event,
        name: &OutputName,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_output::Event::Name { name: told } = event {
            name.with(|name| *name = Some(told));
        }
    }
}

impl Dispatch<ZwlrOutputPowerManagerV1, ()> for Globals {
    fn event(
        _: &mut Self,
        _: &ZwlrOutputPowerManagerV1,
        _: <ZwlrOutputPowerManagerV1 as wayland_client::Proxy>::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ZwlrOutputPowerV1, PowerEvents> for Globals {
    fn event(
        _: &mut Self,
        _: &ZwlrOutputPowerV1,
        event: zwlr_output_power_v1::Event,
        events: &PowerEvents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let said = match event {
            zwlr_output_power_v1::Event::Mode {
                mode: WEnum::Value(Mode::On),
            } => Some(true),
            zwlr_output_power_v1::Event::Mode { .. } => Some(false),
            zwlr_output_power_v1::Event::Failed => None,
            _ => return,
        };
        events.with(|events| events.push(said));
    }
}

/// How an event reads in the client's output.
fn describe(event: Option<bool>) -> &'static str {
    match event {
        Some(true) => "mode on",
        Some(false) => "mode off",
        None => "failed",
    }
}

impl TestClient {
    /// Sets the power of the output named `name` (`on`), then prints every event of its power
    /// object for `hold`; fails when no such output or no power manager is offered.
    pub fn set_output_power(&mut self, name: &str, on: bool, hold: Duration) -> Result<(), String> {
        let qh = self.qh();
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        let (manager_name, _) = self
            .globals
            .output_power_global
            .ok_or("no zwlr_output_power_manager_v1")?;
        let manager: ZwlrOutputPowerManagerV1 = registry.bind(manager_name, 1, &qh, ());
        let outputs: Vec<(WlOutput, OutputName)> = self
            .globals
            .output_globals
            .clone()
            .into_iter()
            .filter(|(_, version)| *version >= 4)
            .map(|(global, _)| {
                let named = OutputName::default();
                (registry.bind(global, 4, &qh, named.clone()), named)
            })
            .collect();
        self.roundtrip()?;
        let output = outputs
            .iter()
            .find(|(_, named)| named.with(|n| n.as_deref() == Some(name)))
            .map(|(output, _)| output.clone())
            .ok_or_else(|| format!("no output named {name}"))?;
        let events = PowerEvents::default();
        let power = manager.get_output_power(&output, &qh, events.clone());
        self.roundtrip()?;
        let first = events.with(|events| events.first().copied());
        println!(
            "{}",
            first.map_or("no mode told".to_string(), |e| format!(
                "was {}",
                describe(e)
            ))
        );
        power.set_mode(if on { Mode::On } else { Mode::Off });
        self.roundtrip()?;
        let started = Instant::now();
        let mut printed = 1;
        loop {
            let said: Vec<Option<bool>> =
                events.with(|events| events[printed.min(events.len())..].to_vec());
            for event in &said {
                println!("{}", describe(*event));
            }
            printed += said.len();
            if started.elapsed() >= hold {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            self.roundtrip()?;
        }
        power.destroy();
        manager.destroy();
        self.roundtrip()
    }
}
