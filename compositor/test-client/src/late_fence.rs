//! Buffers whose rendering is not finished when they are committed: a udmabuf (a dma-buf over
//! the client's own memfd) carrying a write fence that signals only when the client says so.
//!
//! The fence is a vgem fence (the kernel's virtual GEM driver, module `vgem`, lets userspace
//! attach a fence to one of its buffers and signal it later), exported from the vgem buffer as a
//! sync_file and imported into the udmabuf as a write fence (`DMA_BUF_IOCTL_IMPORT_SYNC_FILE`):
//! until it signals, the udmabuf reads as busy, exactly like a buffer a GPU is still drawing. The
//! `tandem-test-client --buffers udmabuf --late-fence SECONDS` mode and the VM's fence scenario
//! use it; it needs a kernel with /dev/udmabuf and vgem loaded (no GPU).

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};

use rustix::ioctl::{ioctl, opcode, Ioctl, IoctlOutput, Opcode, Setter, Updater};

/// struct udmabuf_create (linux/udmabuf.h).
#[repr(C)]
struct UdmabufCreate {
    memfd: u32,
    flags: u32,
    offset: u64,
    size: u64,
}
const UDMABUF_FLAGS_CLOEXEC: u32 = 0x01;

/// struct drm_mode_create_dumb.
#[repr(C)]
#[derive(Default)]
struct CreateDumb {
    height: u32,
    width: u32,
    bpp: u32,
    flags: u32,
    handle: u32,
    pitch: u32,
    size: u64,
}

/// struct drm_prime_handle.
#[repr(C)]
#[derive(Default)]
struct PrimeHandle {
    handle: u32,
    flags: u32,
    fd: i32,
}

/// struct drm_vgem_fence_attach.
#[repr(C)]
#[derive(Default)]
struct VgemFenceAttach {
    handle: u32,
    flags: u32,
    out_fence: u32,
    pad: u32,
}

/// struct drm_vgem_fence_signal.
#[repr(C)]
struct VgemFenceSignal {
    fence: u32,
    flags: u32,
}

/// struct dma_buf_export_sync_file and dma_buf_import_sync_file.
#[repr(C)]
struct SyncFile {
    flags: u32,
    fd: i32,
}

const DRM: u8 = b'd';
const DMA_BUF: u8 = b'b';
/// DRM_COMMAND_BASE: driver ioctls start here.
const DRM_COMMAND_BASE: u8 = 0x40;
const VGEM_FENCE_WRITE: u32 = 0x1;
const DMA_BUF_SYNC_WRITE: u32 = 2;
const DRM_CLOEXEC_RDWR: u32 = 0o2_000_000 | 0o2;

/// A udmabuf over `memfd` (sealed against shrinking, `len` bytes, a multiple of the page size).
pub fn udmabuf(memfd: BorrowedFd<'_>, len: usize) -> Result<OwnedFd, String> {
    let device = File::options()
        .read(true)
        .write(true)
        .open("/dev/udmabuf")
        .map_err(|e| format!("/dev/udmabuf: {e} (a kernel with CONFIG_UDMABUF is needed)"))?;
    let create = NewUdmabuf(UdmabufCreate {
        memfd: std::os::fd::AsRawFd::as_raw_fd(&memfd) as u32,
        flags: UDMABUF_FLAGS_CLOEXEC,
        offset: 0,
        size: len as u64,
    });
    // SAFETY: see `NewUdmabuf`.
    unsafe { ioctl(device.as_fd(), create) }.map_err(|e| format!("UDMABUF_CREATE: {e}"))
}

/// UDMABUF_CREATE, whose answer is the new dma-buf's fd.
struct NewUdmabuf(UdmabufCreate);

// SAFETY: _IOW('u', 0x42, struct udmabuf_create) with a pointer to that struct, which the kernel
// only reads; a successful call returns a new fd that this process owns.
unsafe impl Ioctl for NewUdmabuf {
    type Output = OwnedFd;
    const IS_MUTATING: bool = false;

    fn opcode(&self) -> Opcode {
        opcode::write::<UdmabufCreate>(b'u', 0x42)
    }

    fn as_ptr(&mut self) -> *mut std::ffi::c_void {
        std::ptr::addr_of_mut!(self.0).cast()
    }

    unsafe fn output_from_ptr(
        fd: IoctlOutput,
        _: *mut std::ffi::c_void,
    ) -> rustix::io::Result<OwnedFd> {
        // SAFETY: the fd the kernel just created.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// A fence on a vgem buffer, attached to a client's dma-buf as its write fence until
/// [`LateFence::signal`].
pub struct LateFence {
    vgem: File,
    fence: u32,
}

impl LateFence {
    /// Attaches a new unsignalled write fence to `dmabuf`.
    pub fn attach(dmabuf: BorrowedFd<'_>) -> Result<LateFence, String> {
        let vgem = open_vgem()?;
        let mut dumb = CreateDumb {
            width: 4,
            height: 4,
            bpp: 32,
            ..CreateDumb::default()
        };
        // SAFETY: DRM_IOCTL_MODE_CREATE_DUMB takes and fills a struct drm_mode_create_dumb.
        unsafe {
            ioctl(
                vgem.as_fd(),
                Updater::<{ opcode::read_write::<CreateDumb>(DRM, 0xb2) }, CreateDumb>::new(
                    &mut dumb,
                ),
            )
        }
        .map_err(|e| format!("vgem dumb buffer: {e}"))?;
        let mut attach = VgemFenceAttach {
            handle: dumb.handle,
            flags: VGEM_FENCE_WRITE,
            ..VgemFenceAttach::default()
        };
        // SAFETY: DRM_IOCTL_VGEM_FENCE_ATTACH takes and fills a struct drm_vgem_fence_attach.
        unsafe {
            ioctl(
                vgem.as_fd(),
                Updater::<
                    { opcode::read_write::<VgemFenceAttach>(DRM, DRM_COMMAND_BASE + 1) },
                    VgemFenceAttach,
                >::new(&mut attach),
            )
        }
        .map_err(|e| format!("vgem fence: {e}"))?;
        let mut prime = PrimeHandle {
            handle: dumb.handle,
            flags: DRM_CLOEXEC_RDWR,
            fd: -1,
        };
        // SAFETY: DRM_IOCTL_PRIME_HANDLE_TO_FD takes and fills a struct drm_prime_handle.
        unsafe {
            ioctl(
                vgem.as_fd(),
                Updater::<{ opcode::read_write::<PrimeHandle>(DRM, 0x2d) }, PrimeHandle>::new(
                    &mut prime,
                ),
            )
        }
        .map_err(|e| format!("vgem buffer export: {e}"))?;
        // SAFETY: the ioctl returned a new fd that nothing else owns.
        let vgem_dmabuf = unsafe { OwnedFd::from_raw_fd(prime.fd) };
        let mut export = SyncFile {
            flags: DMA_BUF_SYNC_WRITE,
            fd: -1,
        };
        // SAFETY: DMA_BUF_IOCTL_EXPORT_SYNC_FILE takes and fills a struct
        // dma_buf_export_sync_file.
        unsafe {
            ioctl(
                vgem_dmabuf.as_fd(),
                Updater::<{ opcode::read_write::<SyncFile>(DMA_BUF, 2) }, SyncFile>::new(
                    &mut export,
                ),
            )
        }
        .map_err(|e| format!("exporting the fence as a sync_file: {e}"))?;
        // SAFETY: as above.
        let sync_file = unsafe { OwnedFd::from_raw_fd(export.fd) };
        let import = SyncFile {
            flags: DMA_BUF_SYNC_WRITE,
            fd: std::os::fd::AsRawFd::as_raw_fd(&sync_file),
        };
        // SAFETY: DMA_BUF_IOCTL_IMPORT_SYNC_FILE reads a struct dma_buf_import_sync_file.
        unsafe {
            ioctl(
                dmabuf,
                Setter::<{ opcode::write::<SyncFile>(DMA_BUF, 3) }, SyncFile>::new(import),
            )
        }
        .map_err(|e| format!("importing the fence into the buffer: {e}"))?;
        Ok(LateFence {
            vgem,
            fence: attach.out_fence,
        })
    }

    /// Signals the fence: the buffer reads as ready from now on.
    pub fn signal(self) -> Result<(), String> {
        let signal = VgemFenceSignal {
            fence: self.fence,
            flags: 0,
        };
        // SAFETY: DRM_IOCTL_VGEM_FENCE_SIGNAL reads a struct drm_vgem_fence_signal.
        unsafe {
            ioctl(
                self.vgem.as_fd(),
                Setter::<
                    { opcode::write::<VgemFenceSignal>(DRM, DRM_COMMAND_BASE + 2) },
                    VgemFenceSignal,
                >::new(signal),
            )
        }
        .map_err(|e| format!("signalling the vgem fence: {e}"))
    }
}

/// The vgem device's primary node (vgem has no render node).
fn open_vgem() -> Result<File, String> {
    let cards = std::fs::read_dir("/sys/class/drm").map_err(|e| format!("/sys/class/drm: {e}"))?;
    for card in cards.flatten() {
        let name = card.file_name().to_string_lossy().into_owned();
        if !name.starts_with("card") || name.contains('-') {
            continue;
        }
        let device = std::fs::read_link(card.path().join("device")).unwrap_or_default();
        if device.file_name().is_some_and(|n| n == "vgem") {
            return File::options()
                .read(true)
                .write(true)
                .open(format!("/dev/dri/{name}"))
                .map_err(|e| format!("/dev/dri/{name}: {e}"));
        }
    }
    Err("no vgem device: load the vgem module (modprobe vgem)".into())
}
