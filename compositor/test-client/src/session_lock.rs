//! ext-session-lock-v1 as a locker: locks the session with a surface of one colour on every
//! output, holds the lock, then unlocks (`tandem-test-client --lock SECONDS`; the compositor's
//! session tests use it to take over a lock whose locker died, to unlock, and to try unlocking
//! with a lock that was refused); and an idle inhibitor on a window (`--inhibit-idle`).

use std::time::{Duration, Instant};

use wayland_client::protocol::wl_output::WlOutput;
use wayland_client::{delegate_noop, Connection, Dispatch, Proxy, QueueHandle};
use wayland_protocols::ext::session_lock::v1::client::{
    ext_session_lock_manager_v1::ExtSessionLockManagerV1,
    ext_session_lock_surface_v1::{self, ExtSessionLockSurfaceV1},
    ext_session_lock_v1::{self, ExtSessionLockV1},
};

use wayland_protocols::wp::idle_inhibit::zv1::client::{
    zwp_idle_inhibit_manager_v1::ZwpIdleInhibitManagerV1, zwp_idle_inhibitor_v1::ZwpIdleInhibitorV1,
};

use crate::image_copy::Shared;
use crate::{Globals, TestClient, Window};

/// What the lock object said.
#[derive(Debug, Default)]
pub struct LockEvents {
    locked: bool,
    finished: bool,
}

/// The configures a lock surface received, newest last: (serial, width, height).
pub type SurfaceConfigures = Shared<Vec<(u32, u32, u32)>>;

/// A lock asked for, its surfaces, and the outputs bound for them.
pub struct SessionLock {
    lock: ExtSessionLockV1,
    events: Shared<LockEvents>,
    surfaces: Vec<(ExtSessionLockSurfaceV1, Window, WlOutput, SurfaceConfigures)>,
    colour: u32,
}

/// How a lock request ended.
#[derive(Debug, PartialEq, Eq)]
pub enum LockAnswer {
    Locked,
    /// `finished`: the compositor refused the lock.
    Finished,
}

impl TestClient {
    /// Asks to lock the session, a lock surface filled with `colour` on every output, and waits
    /// (10 s) for `locked` or `finished`.
    pub fn lock_session(&mut self, colour: u32) -> Result<(SessionLock, LockAnswer), String> {
        let qh = self.qh();
        let manager: ExtSessionLockManagerV1 = {
            let (name, version) = self
                .globals
                .session_lock_global
                .ok_or("no ext_session_lock_manager_v1")?;
            let registry = self.globals.registry.clone().ok_or("no registry")?;
            registry.bind(name, version.min(1), &qh, ())
        };
        let events = Shared::<LockEvents>::default();
        let lock = manager.lock(&qh, events.clone());
        manager.destroy();
        let mut session = SessionLock {
            lock,
            events,
            surfaces: Vec::new(),
            colour,
        };
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        for (name, version) in self.globals.output_globals.clone() {
            let output: WlOutput = registry.bind(name, version.min(3), &qh, ());
            let window = self.shm_window((1, 1));
            let configures = SurfaceConfigures::default();
            let surface =
                session
                    .lock
                    .get_lock_surface(&window.surface, &output, &qh, configures.clone());
            session.surfaces.push((surface, window, output, configures));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.roundtrip()?;
            session.draw_configured(self);
            let (locked, finished) = session.events.with(|e| (e.locked, e.finished));
            if locked {
                return Ok((session, LockAnswer::Locked));
            }
            if finished {
                return Ok((session, LockAnswer::Finished));
            }
            if Instant::now() >= deadline {
                return Err("neither locked nor finished within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl SessionLock {
    /// Answers the configures that came: each surface acks its newest and commits a buffer of
    /// that size in the lock's colour.
    pub fn draw_configured(&mut self, client: &TestClient) {
        for (surface, window, _, configures) in &mut self.surfaces {
            let Some((serial, w, h)) = configures.with(std::mem::take).pop() else {
                continue;
            };
            surface.ack_configure(serial);
            let size = (w.max(1) as i32, h.max(1) as i32);
            window.set_buffer(client, size);
            window.pixels().fill((0, 0, size.0, size.1), self.colour);
            window.commit(None);
        }
    }

    /// Holds the lock for `hold`, answering configures meanwhile.
    pub fn hold(&mut self, client: &mut TestClient, hold: Duration) -> Result<(), String> {
        let until = Instant::now() + hold;
        while Instant::now() < until {
            client.roundtrip()?;
            self.draw_configured(client);
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Unlocks the session (`unlock_and_destroy`) and waits for the compositor's answer.
    pub fn unlock(self, client: &mut TestClient) -> Result<(), String> {
        for (surface, window, output, _) in self.surfaces {
            surface.destroy();
            window.destroy();
            if output.version() >= 3 {
                output.release();
            }
        }
        self.lock.unlock_and_destroy();
        client.roundtrip()
    }
}

delegate_noop!(Globals: ExtSessionLockManagerV1);

impl Dispatch<ExtSessionLockV1, Shared<LockEvents>> for Globals {
    fn event(
        _: &mut Self,
        _: &ExtSessionLockV1,
        event: ext_session_lock_v1::Event,
        events: &Shared<LockEvents>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        events.with(|e| match event {
            ext_session_lock_v1::Event::Locked => e.locked = true,
            ext_session_lock_v1::Event::Finished => e.finished = true,
            _ => {}
        });
    }
}

impl Dispatch<ExtSessionLockSurfaceV1, SurfaceConfigures> for Globals {
    fn event(
        _: &mut Self,
        _: &ExtSessionLockSurfaceV1,
        event: ext_session_lock_surface_v1::Event,
        configures: &SurfaceConfigures,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let ext_session_lock_surface_v1::Event::Configure {
            serial,
            width,
            height,
        } = event
        {
            configures.with(|list| list.push((serial, width, height)));
        }
    }
}

impl TestClient {
    /// Inhibits idleness while `surface` lives (zwp_idle_inhibit_manager_v1), as a video player
    /// does.
    pub fn inhibit_idle(
        &mut self,
        surface: &wayland_client::protocol::wl_surface::WlSurface,
    ) -> Result<ZwpIdleInhibitorV1, String> {
        let qh = self.qh();
        let (name, version) = self
            .globals
            .idle_inhibit_global
            .ok_or("no zwp_idle_inhibit_manager_v1")?;
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        let manager: ZwpIdleInhibitManagerV1 = registry.bind(name, version.min(1), &qh, ());
        let inhibitor = manager.create_inhibitor(surface, &qh, ());
        manager.destroy();
        Ok(inhibitor)
    }
}

delegate_noop!(Globals: ZwpIdleInhibitManagerV1);
delegate_noop!(Globals: ZwpIdleInhibitorV1);
