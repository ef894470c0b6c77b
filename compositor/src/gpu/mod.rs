//! The compositor's GPU services on Tandem's `GpuManager`: the Wayland sockets (`sockets`),
//! each GPU's socket and linux-dmabuf global (`service`), parking GPUs nothing needs (`parking`),
//! which GPU draws each output (`render_choice`), and the VRAM report `msg vram` and the demo
//! print (`vram`).

pub mod parking;
pub mod render_choice;
pub mod service;
pub mod sockets;
pub mod vram;
