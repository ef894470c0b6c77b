//! Surface registration and the destruction hook.
//!
//! The compositor calls [`SurfaceTracker::new_surface`] from its `CompositorHandler::new_surface`.
//! That stores the surface's [`MultiTexture`] (with its owner: surface and client, for the
//! ledger) in the surface's `data_map` and registers a destruction hook that clears every GPU
//! entry of it. The hook runs when the client destroys the surface or disconnects, whatever
//! `WlSurface` handles the compositor still keeps.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::Resource;
use smithay::wayland::compositor::{add_destruction_hook, with_states};

use crate::ledger::Owner;
use crate::texture::{MultiTexture, TextureRegistry};

/// Registers surfaces with Tandem; cheap to clone. Made by
/// [`GpuManager::surface_tracker`](crate::GpuManager::surface_tracker).
#[derive(Clone)]
pub struct SurfaceTracker {
    destruction_hook_enabled: Arc<AtomicBool>,
    registry: TextureRegistry,
}

impl std::fmt::Debug for SurfaceTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SurfaceTracker").finish_non_exhaustive()
    }
}

impl SurfaceTracker {
    pub(crate) fn new(
        destruction_hook_enabled: Arc<AtomicBool>,
        registry: TextureRegistry,
    ) -> SurfaceTracker {
        SurfaceTracker {
            destruction_hook_enabled,
            registry,
        }
    }

    /// Call from `CompositorHandler::new_surface`, before the surface's first commit.
    pub fn new_surface<D: 'static>(&self, surface: &WlSurface) {
        let owner = Owner {
            surface: surface.id(),
            client: surface.client().map(|client| client.id()),
        };
        let texture = MultiTexture::new(Some(owner));
        self.registry.register(&texture);
        with_states(surface, |states| {
            states.data_map.insert_if_missing_threadsafe(|| texture);
        });
        if !self.destruction_hook_enabled.load(Ordering::Relaxed) {
            return;
        }
        add_destruction_hook(surface, |_: &mut D, surface| {
            let texture = with_states(surface, |states| {
                states.data_map.get::<MultiTexture>().cloned()
            });
            if let Some(texture) = texture {
                texture.surface_destroyed();
            }
        });
    }

    /// The MultiTexture of a registered surface.
    pub fn texture(surface: &WlSurface) -> Option<MultiTexture> {
        with_states(surface, |states| {
            states.data_map.get::<MultiTexture>().cloned()
        })
    }

    /// Test-only switch (feature `leak-test-switch`): surfaces registered from now on get no
    /// destruction hook, so that leak tests can prove they detect the leak the hook prevents.
    #[cfg(feature = "leak-test-switch")]
    #[doc(hidden)]
    pub fn disable_destruction_hook_for_leak_tests(&self) {
        self.destruction_hook_enabled
            .store(false, Ordering::Relaxed);
    }
}
