//! Tandem: a multi-GPU texture layer for smithay compositors.
//!
//! Ownership in one breath: the compositor owns a [`GpuManager`], which owns every [`Gpu`]
//! (renderer + allocator), the [`Ledger`], the output intermediates and the remembered copy
//! failures. Each surface owns one [`MultiTexture`] in its `data_map`, registered by
//! [`SurfaceTracker::new_surface`] together with a destruction hook that clears it. A
//! [`MultiRenderer`] borrows the manager for one import or one frame and implements smithay's
//! renderer traits. [`GpuManager::cleanup`] frees deferred GL deletes on the GPUs that have any.
//! See docs/architecture.md for the diagram and the lifecycle.

#![warn(missing_docs)]

pub mod diagnostics;
mod error;
pub mod gpu;
mod gpu_id;
pub mod ledger;
pub mod renderer;
mod surface;
pub mod texture;

pub use smithay;

pub use self::error::TandemError;
pub use self::gpu::{
    CopyStats, Gpu, GpuId, GpuManager, Operation, OperationKind, PathFailure, Quirks, RenderAccess,
};
pub use self::ledger::{CompositorUsage, Ledger, LedgerSnapshot, MemoryKind, Usage};
pub use self::renderer::{
    FrameCopyPath, MemoryImage, MultiFrame, MultiFramebuffer, MultiRenderer, OutputFeed,
};
pub use self::surface::SurfaceTracker;
pub use self::texture::{ClientBufferReads, MultiTexture, PathKind};
