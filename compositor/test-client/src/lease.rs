//! A DRM lease as a client (`tandem-test-client --lease SECONDS`), as a VR runtime takes its
//! headset: binds every wp_drm_lease_device_v1, asks for the first connector offered, and with
//! the lease's fd lights that connector itself in --colour (a dumb buffer, a framebuffer and a
//! modeset on the leased CRTC), holds it SECONDS, then drops the lease. Prints one line per step:
//! "lease: offered NAME", "lease: granted", "lease: showing RRGGBB on NAME at WxH",
//! "lease: refused", "lease: ended".

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use drm::buffer::DrmFourcc;
use drm::control::{Device as ControlDevice, Mode};
use wayland_client::{event_created_child, Connection, Dispatch, QueueHandle};
use wayland_protocols::wp::drm_lease::v1::client::{
    wp_drm_lease_connector_v1::{self, WpDrmLeaseConnectorV1},
    wp_drm_lease_device_v1::{self, WpDrmLeaseDeviceV1},
    wp_drm_lease_request_v1::WpDrmLeaseRequestV1,
    wp_drm_lease_v1::{self, WpDrmLeaseV1},
};

use crate::image_copy::Shared;
use crate::{Globals, TestClient};

/// The connectors the devices offered, each with its name once told.
#[derive(Default)]
struct Offers {
    connectors: Vec<(WpDrmLeaseDeviceV1, WpDrmLeaseConnectorV1, String)>,
}

/// What became of the lease.
#[derive(Default)]
struct Granted {
    fd: Option<OwnedFd>,
    finished: bool,
}

/// The lease's fd as a DRM device.
struct Card(OwnedFd);

impl AsFd for Card {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl drm::Device for Card {}
impl ControlDevice for Card {}

impl Dispatch<WpDrmLeaseDeviceV1, Shared<Offers>> for Globals {
    fn event(
        _: &mut Self,
        device: &WpDrmLeaseDeviceV1,
        event: wp_drm_lease_device_v1::Event,
        offers: &Shared<Offers>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wp_drm_lease_device_v1::Event::Connector { id } = event {
            offers.with(|offers| offers.connectors.push((device.clone(), id, String::new())));
        }
    }

    event_created_child!(Globals, WpDrmLeaseDeviceV1, [
        wp_drm_lease_device_v1::EVT_CONNECTOR_OPCODE => (WpDrmLeaseConnectorV1, ()),
    ]);
}

impl Dispatch<WpDrmLeaseConnectorV1, ()> for Globals {
    fn event(
        state: &mut Self,
        connector: &WpDrmLeaseConnectorV1,
        event: wp_drm_lease_connector_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wp_drm_lease_connector_v1::Event::Name { name } = event {
            state.lease_connector_names.push((connector.clone(), name));
        }
    }
}

impl Dispatch<WpDrmLeaseV1, Shared<Granted>> for Globals {
    fn event(
        _: &mut Self,
        _: &WpDrmLeaseV1,
        event: wp_drm_lease_v1::Event,
        granted: &Shared<Granted>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        granted.with(|granted| match event {
            wp_drm_lease_v1::Event::LeaseFd { leased_fd } => granted.fd = Some(leased_fd),
            wp_drm_lease_v1::Event::Finished => granted.finished = true,
            _ => {}
        });
    }
}

wayland_client::delegate_noop!(Globals: ignore WpDrmLeaseRequestV1);

/// Lights the leased connector in `colour` (ARGB); returns its name's mode size.
fn light(card: &Card, colour: u32) -> Result<(u16, u16), String> {
    let resources = card
        .resource_handles()
        .map_err(|e| format!("the lease's resources: {e}"))?;
    let connector = *resources
        .connectors()
        .first()
        .ok_or("no connector leased")?;
    let crtc = *resources.crtcs().first().ok_or("no CRTC leased")?;
    let info = card
        .get_connector(connector, false)
        .map_err(|e| format!("the leased connector: {e}"))?;
    let mode: Mode = *info
        .modes()
        .first()
        .ok_or("the leased connector has no mode")?;
    let (w, h) = mode.size();
    let mut buffer = card
        .create_dumb_buffer((w.into(), h.into()), DrmFourcc::Xrgb8888, 32)
        .map_err(|e| format!("a dumb buffer: {e}"))?;
    {
        let mut map = card
            .map_dumb_buffer(&mut buffer)
            .map_err(|e| format!("mapping the dumb buffer: {e}"))?;
        for pixel in map.as_mut().chunks_exact_mut(4) {
            pixel.copy_from_slice(&colour.to_le_bytes());
        }
    }
    let framebuffer = card
        .add_framebuffer(&buffer, 24, 32)
        .map_err(|e| format!("a framebuffer: {e}"))?;
    card.set_crtc(crtc, Some(framebuffer), (0, 0), &[connector], Some(mode))
        .map_err(|e| format!("the modeset on the leased CRTC: {e}"))?;
    Ok((w, h))
}

impl TestClient {
    /// Leases the first connector any lease device offers, lights it in `colour` and holds it
    /// for `hold`. Fails when no device offers a connector or the lease is refused.
    pub fn lease(&mut self, colour: u32, hold: Duration) -> Result<(), String> {
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        if self.globals.lease_device_globals.is_empty() {
            return Err("wp_drm_lease_device_v1 is not offered".into());
        }
        let qh = self.qh();
        let offers = Shared::<Offers>::default();
        for (name, _) in self.globals.lease_device_globals.clone() {
            let _: WpDrmLeaseDeviceV1 = registry.bind(name, 1, &qh, offers.clone());
        }
        self.roundtrip()?;
        self.roundtrip()?;
        let names = std::mem::take(&mut self.globals.lease_connector_names);
        offers.with(|offers| {
            for (_, connector, name) in &mut offers.connectors {
                if let Some((_, told)) = names.iter().find(|(c, _)| c == connector) {
                    *name = told.clone();
                }
            }
        });
        let chosen = offers.with(|offers| {
            for (_, _, name) in &offers.connectors {
                println!("lease: offered {name}");
            }
            offers.connectors.first().cloned()
        });
        let (device, connector, name) = chosen.ok_or("no connector is offered for leasing")?;
        let request = device.create_lease_request(&qh, ());
        request.request_connector(&connector);
        let granted = Shared::<Granted>::default();
        let _lease = request.submit(&qh, granted.clone());
        let started = Instant::now();
        let fd = loop {
            self.roundtrip()?;
            if let Some(fd) = granted.with(|granted| granted.fd.take()) {
                break fd;
            }
            if granted.with(|granted| granted.finished) {
                println!("lease: refused");
                return Err(format!("the lease of {name} was refused"));
            }
            if started.elapsed() > Duration::from_secs(10) {
                return Err("no answer to the lease request in 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        println!("lease: granted");
        let card = Card(fd);
        let (w, h) = light(&card, colour)?;
        println!(
            "lease: showing {:06x} on {name} at {w}x{h}",
            colour & 0xff_ffff
        );
        let started = Instant::now();
        while started.elapsed() < hold {
            self.roundtrip()?;
            if granted.with(|granted| granted.finished) {
                println!("lease: revoked");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        println!("lease: ended");
        Ok(())
    }
}
