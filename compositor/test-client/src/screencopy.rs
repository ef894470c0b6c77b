//! A wlr-screencopy client (zwlr_screencopy_manager_v1): captures an output into an shm buffer
//! or a memfd dmabuf made through a chosen GPU's linux-dmabuf global, with or without damage,
//! and reads back what arrived. `tandem-test-client --capture` and the compositor's capture
//! tests use it; the hostile cases send buffers the frame did not offer.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_client::protocol::wl_output::{self, WlOutput};
use wayland_client::protocol::wl_shm;
use wayland_client::{Connection, Dispatch, Proxy, QueueHandle};
use wayland_protocols_wlr::screencopy::v1::client::zwlr_screencopy_frame_v1::{
    self, ZwlrScreencopyFrameV1,
};
use wayland_protocols_wlr::screencopy::v1::client::zwlr_screencopy_manager_v1::{
    self, ZwlrScreencopyManagerV1,
};

use crate::formats::XRGB8888;
use crate::{dmabuf_buffer, Globals, Pixels, TestClient};

/// What a frame object heard.
#[derive(Debug, Default)]
struct FrameState {
    /// format, width, height, stride
    shm: Option<(u32, u32, u32, u32)>,
    /// fourcc, width, height
    dmabuf: Option<(u32, u32, u32)>,
    buffer_done: bool,
    ready: bool,
    failed: bool,
    damage: Vec<(u32, u32, u32, u32)>,
}

/// The events of one frame, shared with its dispatch.
#[derive(Debug, Default, Clone)]
pub struct FrameEvents(Arc<Mutex<FrameState>>);

impl FrameEvents {
    fn with<R>(&self, f: impl FnOnce(&mut FrameState) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Dispatch<ZwlrScreencopyManagerV1, ()> for Globals {
    fn event(
        _: &mut Self,
        _: &ZwlrScreencopyManagerV1,
        _: zwlr_screencopy_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<WlOutput, ()> for Globals {
    fn event(
        _: &mut Self,
        _: &WlOutput,
        _: wl_output::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ZwlrScreencopyFrameV1, FrameEvents> for Globals {
    fn event(
        _: &mut Self,
        _: &ZwlrScreencopyFrameV1,
        event: zwlr_screencopy_frame_v1::Event,
        events: &FrameEvents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        events.with(|state| match event {
            zwlr_screencopy_frame_v1::Event::Buffer {
                format,
                width,
                height,
                stride,
            } => {
                let format = match format {
                    wayland_client::WEnum::Value(format) => format as u32,
                    wayland_client::WEnum::Unknown(raw) => raw,
                };
                state.shm = Some((format, width, height, stride));
            }
            zwlr_screencopy_frame_v1::Event::LinuxDmabuf {
                format,
                width,
                height,
            } => state.dmabuf = Some((format, width, height)),
            zwlr_screencopy_frame_v1::Event::BufferDone => state.buffer_done = true,
            zwlr_screencopy_frame_v1::Event::Ready { .. } => state.ready = true,
            zwlr_screencopy_frame_v1::Event::Failed => state.failed = true,
            zwlr_screencopy_frame_v1::Event::Damage {
                x,
                y,
                width,
                height,
            } => state.damage.push((x, y, width, height)),
            _ => {}
        });
    }
}

/// Where a capture is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureInto {
    /// An shm buffer of the offered XRGB8888 layout.
    Shm,
    /// A memfd dmabuf of the offered format, made through GPU `gpu`'s linux-dmabuf global.
    Dmabuf { gpu: usize },
}

/// A buffer captures are written into, kept to be used again.
pub struct CaptureBuffer {
    into: CaptureInto,
    pixels: Pixels,
    wl_buffer: WlBuffer,
}

impl CaptureBuffer {
    /// The captured pixels: XRGB8888 as it lies in memory (B, G, R, X), rows
    /// [`CaptureBuffer::stride`] bytes apart.
    pub fn bytes(&self) -> &[u8] {
        self.pixels.bytes()
    }

    /// Bytes from one row to the next (a dmabuf's rows may be padded).
    pub fn stride(&self) -> usize {
        self.pixels.stride as usize
    }

    /// Whether it was made `into` this at this size.
    pub fn matches(&self, into: CaptureInto, size: (i32, i32)) -> bool {
        self.into == into && (self.pixels.width, self.pixels.height) == size
    }

    /// The buffer, as sent in `copy`.
    pub fn wl_buffer(&self) -> &WlBuffer {
        &self.wl_buffer
    }
}

impl Drop for CaptureBuffer {
    fn drop(&mut self) {
        self.wl_buffer.destroy();
    }
}

/// What one capture brought.
#[derive(Debug)]
pub struct Captured {
    pub width: u32,
    pub height: u32,
    /// The rectangles `copy_with_damage` reported (none for `copy`).
    pub damage: Vec<(u32, u32, u32, u32)>,
}

impl TestClient {
    /// The outputs the compositor announced, in order.
    pub fn outputs(&self) -> usize {
        self.globals.output_globals.len()
    }

    /// Captures output `output` (whole, or the logical rectangle `region`; the pointer drawn in
    /// when `cursor`) into `buffer`, made
    /// now as `into` says when `None` or no longer the offered size; waits for `ready` (10 s).
    /// `Err` names what went wrong: the frame `failed`, or a protocol error.
    pub fn capture(
        &mut self,
        output: usize,
        region: Option<(i32, i32, i32, i32)>,
        into: CaptureInto,
        with_damage: bool,
        cursor: bool,
        buffer: &mut Option<CaptureBuffer>,
    ) -> Result<Captured, String> {
        let frame = self.capture_frame(output, region, cursor)?;
        let (events, frame) = frame;
        let (format, width, height) = match into {
            CaptureInto::Shm => {
                let (format, w, h, _) = events.with(|s| s.shm).ok_or("no shm buffer offered")?;
                (format, w, h)
            }
            CaptureInto::Dmabuf { .. } => {
                let (fourcc, w, h) = events.with(|s| s.dmabuf).ok_or("no dmabuf offered")?;
                (fourcc, w, h)
            }
        };
        let fits = buffer.as_ref().is_some_and(|b| {
            b.into == into && (b.pixels.width, b.pixels.height) == (width as i32, height as i32)
        });
        if !fits {
            *buffer = Some(self.capture_buffer(into, format, (width as i32, height as i32))?);
        }
        let Some(target) = buffer.as_ref() else {
            return Err("no buffer".into());
        };
        if with_damage {
            frame.copy_with_damage(&target.wl_buffer);
        } else {
            frame.copy(&target.wl_buffer);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let outcome = loop {
            self.roundtrip()?;
            let (ready, failed) = events.with(|s| (s.ready, s.failed));
            if ready || failed {
                break if ready {
                    Ok(())
                } else {
                    Err("failed".to_string())
                };
            }
            if Instant::now() >= deadline {
                break Err("no ready within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        frame.destroy();
        outcome?;
        Ok(Captured {
            width,
            height,
            damage: events.with(|s| std::mem::take(&mut s.damage)),
        })
    }

    /// A frame of `output` (the pointer drawn in when `cursor`) whose buffer events have
    /// arrived.
    pub fn capture_frame(
        &mut self,
        output: usize,
        region: Option<(i32, i32, i32, i32)>,
        cursor: bool,
    ) -> Result<(FrameEvents, ZwlrScreencopyFrameV1), String> {
        let qh = self.qh();
        let manager = self
            .globals
            .screencopy
            .clone()
            .ok_or("no zwlr_screencopy_manager_v1")?;
        let (name, version) = *self
            .globals
            .output_globals
            .get(output)
            .ok_or_else(|| format!("no output {output}"))?;
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        let wl_output: WlOutput = registry.bind(name, version.min(3), &qh, ());
        let events = FrameEvents::default();
        let frame = match region {
            None => manager.capture_output(i32::from(cursor), &wl_output, &qh, events.clone()),
            Some((x, y, w, h)) => manager.capture_output_region(
                i32::from(cursor),
                &wl_output,
                x,
                y,
                w,
                h,
                &qh,
                events.clone(),
            ),
        };
        // The frame names its output when it is made; the client needs the object no more.
        if wl_output.version() >= 3 {
            wl_output.release();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.roundtrip()?;
            let (done, failed, shm) = events.with(|s| (s.buffer_done, s.failed, s.shm.is_some()));
            if failed {
                frame.destroy();
                return Err("failed".into());
            }
            if done || (shm && frame.version() < 3) {
                return Ok((events, frame));
            }
            if Instant::now() >= deadline {
                return Err("no buffer_done within 10 s".into());
            }
        }
    }

    /// A buffer of `size` in `format` (a wl_shm format or a fourcc, as offered) for captures.
    pub fn capture_buffer(
        &mut self,
        into: CaptureInto,
        format: u32,
        size: (i32, i32),
    ) -> Result<CaptureBuffer, String> {
        let qh = self.qh();
        let (pixels, wl_buffer) = match into {
            CaptureInto::Shm => {
                let pixels = Pixels::new(size.0, size.1);
                let shm = self.globals.shm.as_ref().ok_or("no wl_shm")?;
                let pool = shm.create_pool(pixels.fd(), pixels.len() as i32, &qh, ());
                let format = wl_shm::Format::try_from(format)
                    .map_err(|_| format!("offered shm format {format:#x}"))?;
                let buffer = pool.create_buffer(0, size.0, size.1, size.0 * 4, format, &qh, ());
                pool.destroy();
                (pixels, buffer)
            }
            CaptureInto::Dmabuf { gpu } => {
                let fourcc = if format == 0 { XRGB8888 } else { format };
                let pixels = Pixels::with_format(fourcc, size.0, size.1)
                    .ok_or_else(|| format!("no layout for {fourcc:#x}"))?;
                let global = self
                    .globals
                    .dmabufs
                    .get(gpu)
                    .ok_or_else(|| format!("no linux-dmabuf global for GPU {gpu}"))?;
                let buffer = dmabuf_buffer(
                    global,
                    &qh,
                    pixels.buffer_fd(),
                    fourcc,
                    pixels.planes(),
                    size,
                );
                (pixels, buffer)
            }
        };
        Ok(CaptureBuffer {
            into,
            pixels,
            wl_buffer,
        })
    }
}
