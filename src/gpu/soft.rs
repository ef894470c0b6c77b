//! Software GPUs: llvmpipe EGL contexts and a memfd allocator that hands out linear dmabufs.
//!
//! Each software GPU is its own EGL context on Mesa's software EGL device: its textures are
//! invisible to the other contexts, exactly like two physical GPUs. Mesa 24+ lets llvmpipe import
//! and render into memfd-backed linear dmabufs (what udmabuf hands out on a real system), so
//! every cross-GPU path runs for real. [`GpuManager::add_software_gpu`](crate::GpuManager) is the
//! caller of this module.

use std::os::fd::OwnedFd;

use rustix::fs::{MemfdFlags, SealFlags};
use smithay::backend::allocator::dmabuf::{Dmabuf, DmabufFlags};
use smithay::backend::allocator::{Fourcc, Modifier};
use smithay::backend::egl::{EGLDevice, EGLDisplay};

use super::DmabufAllocator;
use crate::error::TandemError;
use crate::texture::pixel_format::plane_layout;

/// Opens Mesa's software EGL device (llvmpipe).
pub fn software_egl_display() -> Result<EGLDisplay, TandemError> {
    let device = EGLDevice::enumerate()?
        .find(|device| device.is_software())
        .ok_or(TandemError::NoSoftwareDevice)?;
    // SAFETY: the device comes from EGL's own enumeration and outlives the display.
    let display = unsafe { EGLDisplay::new(device)? };
    Ok(display)
}

/// Allocates linear dmabufs backed by sealed memfds, in every format
/// [`plane_layout`](crate::texture::pixel_format::plane_layout) lays out (one memfd, planes
/// one after another).
#[derive(Debug, Default)]
pub struct MemfdAllocator;

impl MemfdAllocator {
    fn create(&self, width: u32, height: u32, fourcc: Fourcc) -> Result<Dmabuf, String> {
        let (planes, size) = plane_layout(fourcc, width, height)
            .ok_or("not a format Tandem lays out, or a size out of range")?;
        let fd: OwnedFd = rustix::fs::memfd_create(
            "tandem-dmabuf",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )
        .map_err(|e| e.to_string())?;
        rustix::fs::ftruncate(&fd, size).map_err(|e| e.to_string())?;
        rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)
            .map_err(|e| e.to_string())?;
        let mut builder = Dmabuf::builder(
            (width as i32, height as i32),
            fourcc,
            Modifier::Linear,
            DmabufFlags::empty(),
        );
        for (index, plane) in planes.iter().enumerate() {
            let fd = fd.try_clone().map_err(|e| e.to_string())?;
            builder.add_plane(fd, index as u32, plane.offset, plane.stride);
        }
        builder
            .build()
            .ok_or_else(|| "dmabuf builder refused the plane".into())
    }
}

/// Software GPUs read client buffers through the CPU, so they take only memory whose mapping
/// cannot fault: memfds sealed against shrinking, or udmabufs (dma-bufs over such memfds). A
/// client that truncates its buffer while llvmpipe reads it would otherwise crash the
/// compositor with SIGBUS, and a pipe or socket would not map at all.
pub fn check_client_memfd(dmabuf: &Dmabuf) -> Result<(), TandemError> {
    if dmabuf.handles().all(crate::texture::mapped::cannot_fault) {
        Ok(())
    } else {
        Err(TandemError::UnsealedMemfd)
    }
}

impl DmabufAllocator for MemfdAllocator {
    fn allocate(
        &mut self,
        width: u32,
        height: u32,
        fourcc: Fourcc,
        modifiers: &[Modifier],
    ) -> Result<Dmabuf, TandemError> {
        let error = |reason: String| TandemError::Allocation {
            width,
            height,
            fourcc,
            reason,
        };
        if !modifiers.contains(&Modifier::Linear) {
            return Err(error("memfd buffers are linear only".into()));
        }
        self.create(width, height, fourcc).map_err(error)
    }

    fn modifiers(&self, fourcc: Fourcc) -> Vec<Modifier> {
        match plane_layout(fourcc, 2, 2) {
            Some(_) => vec![Modifier::Linear],
            None => Vec::new(),
        }
    }
}
