//! Explicit sync from the client's side: a DRM timeline syncobj made on a render node, exported
//! for the compositor's wp_linux_drm_syncobj_manager_v1. The client signals acquire points from
//! the CPU (at once, or late, as a GPU still drawing would) and reads release points before it
//! writes a buffer again ([`crate::protocols::explicit_sync`]).

use std::fs::File;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

/// One timeline syncobj on a DRM device, destroyed with it.
pub struct Timeline {
    device: File,
    handle: u32,
}

impl Timeline {
    /// A new timeline (point 0 signalled) on the DRM node at `node`.
    pub fn create(node: &Path) -> Result<Timeline, String> {
        let device = File::options()
            .read(true)
            .write(true)
            .open(node)
            .map_err(|e| format!("{}: {e}", node.display()))?;
        let created = drm_ffi::syncobj::create(device.as_fd(), false)
            .map_err(|e| format!("DRM_IOCTL_SYNCOBJ_CREATE on {}: {e}", node.display()))?;
        Ok(Timeline {
            device,
            handle: created.handle,
        })
    }

    /// The syncobj as a file descriptor, for `wp_linux_drm_syncobj_manager_v1.import_timeline`.
    pub fn export(&self) -> Result<OwnedFd, String> {
        let exported = drm_ffi::syncobj::handle_to_fd(self.device.as_fd(), self.handle, false)
            .map_err(|e| format!("DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD: {e}"))?;
        // SAFETY: the kernel just made this descriptor for us; nobody else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(exported.fd) })
    }

    /// Signals `point` from the CPU.
    pub fn signal(&self, point: u64) -> Result<(), String> {
        drm_ffi::syncobj::timeline_signal(self.device.as_fd(), &[self.handle], &[point])
            .map(|_| ())
            .map_err(|e| format!("DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL {point}: {e}"))
    }

    /// The last point signalled.
    pub fn signalled(&self) -> Result<u64, String> {
        let mut points = [0u64];
        drm_ffi::syncobj::query(self.device.as_fd(), &[self.handle], &mut points, false)
            .map_err(|e| format!("DRM_IOCTL_SYNCOBJ_QUERY: {e}"))?;
        Ok(points[0])
    }

    /// Waits until `point` is signalled, polling every millisecond; false after `timeout`.
    pub fn wait(&self, point: u64, timeout: Duration) -> Result<bool, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.signalled()? >= point {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Timeline {
    fn drop(&mut self) {
        let _ = drm_ffi::syncobj::destroy(self.device.as_fd(), self.handle);
    }
}
