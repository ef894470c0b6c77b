//! IPC messages: one JSON request per connection, one JSON reply.
//!
//! The compositor answers them in `ipc::server`; `tandem-compositor msg` sends them
//! (`ipc::client`). The `vram` reply is the per-GPU and per-window account of the Tandem ledger.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "request")]
pub enum Request {
    Windows,
    Outputs,
    Gpus,
    Vram,
    Quit,
    /// Remove a GPU at run time: its outputs move to another GPU, everything it held is freed.
    GpuRemove {
        id: String,
    },
    /// Add a software GPU with its own socket.
    GpuAdd,
    /// Add a virtual output (headless backend) of `width`x`height`, drawn by GPU `gpu` (an id
    /// from `msg gpus`; the first GPU when absent).
    OutputAdd {
        width: i32,
        height: i32,
        gpu: Option<String>,
        /// The virtual monitor's serial number (the output's name when absent).
        #[serde(default)]
        serial: Option<String>,
    },
    /// Remove the virtual output `name` (headless backend).
    OutputRemove {
        name: String,
    },
    /// Draw `output` (the first when absent) again and write it to `path` as PNG.
    Screenshot {
        output: Option<String>,
        path: String,
    },
    /// Whether the session is locked, and whether idleness is inhibited.
    Session,
    /// The connected clients: process, GPU, and the sandbox each connected from.
    Clients,
    /// Read the configuration file again.
    Reload,
    /// Do what a key binding with `action` does.
    Action {
        action: String,
    },
    /// Draw `output` with the GPU `gpu` (an id from `msg gpus`).
    OutputRender {
        output: String,
        gpu: String,
    },
    /// Turn the screen of `output` (every output when absent) on or off.
    Power {
        on: bool,
        output: Option<String>,
    },
}

impl Request {
    /// Requests that only the backend can answer (it owns the outputs); the others are answered
    /// from the compositor's state.
    pub fn is_for_backend(&self) -> bool {
        matches!(
            self,
            Request::OutputAdd { .. } | Request::OutputRemove { .. } | Request::GpuRemove { .. }
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "reply")]
pub enum Reply {
    Windows(WindowsReply),
    Outputs(OutputsReply),
    Gpus(GpusReply),
    Vram(VramReport),
    Session(SessionReport),
    Clients(ClientsReply),
    GpuAdded {
        id: String,
        socket: String,
    },
    OutputAdded {
        name: String,
    },
    Screenshot {
        path: String,
        output: String,
        width: i32,
        height: i32,
    },
    Ok,
    Error {
        message: String,
    },
}

/// The connected clients, in the order they connected.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientsReply {
    pub clients: Vec<ClientReport>,
}

/// One client: its process, the GPU its socket serves, whether it is Xwayland, and the
/// security context it connected through (`None`: not sandboxed; it may bind every global).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientReport {
    pub pid: Option<i32>,
    pub gpu: String,
    pub xwayland: bool,
    pub sandbox: Option<SandboxReport>,
}

/// What a sandbox said of the program behind a security context.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxReport {
    pub engine: Option<String>,
    pub app_id: Option<String>,
    pub instance_id: Option<String>,
}

/// The session's state: locked (and whether a live locker holds the lock), idle inhibited.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionReport {
    pub locked: bool,
    /// A live locker holds the lock (false while locked after the locker went away).
    pub locker: bool,
    /// A live surface inhibits idleness.
    pub idle_inhibited: bool,
    /// The configuration file, and why its last load failed (the one before it is in effect).
    #[serde(default)]
    pub config: Option<String>,
    #[serde(default)]
    pub config_error: Option<String>,
}

/// One output: where it is, which GPUs draw and show it, and how many frames changed its
/// content (frames queued to the display; every frame on headless outputs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutputReport {
    pub name: String,
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
    pub refresh_mhz: i32,
    pub render_gpu: String,
    pub target_gpu: String,
    pub frames: u64,
    /// From the first change the last frame shows (a commit, the pointer moving) to that frame
    /// being queued for display, in milliseconds (TTY outputs).
    pub last_latency_ms: Option<f64>,
    /// Screen captures of this output served.
    #[serde(default)]
    pub captured_frames: u64,
    /// Of those, the captures copied from the output's frame as drawn (not drawn again).
    #[serde(default)]
    pub captured_from_frame: u64,
    /// Bytes those captures wrote into clients' buffers.
    #[serde(default)]
    pub captured_bytes: u64,
    /// Its scale (logical pixels are this many physical ones).
    #[serde(default)]
    pub scale: f64,
    /// Whether it is on (an output turned off through wlr-output-management is not).
    #[serde(default)]
    pub enabled: bool,
    /// Whether its screen is on (`msg power`, wlr-output-power-management, the idle timeout):
    /// an output whose screen is off keeps its place but shows nothing and holds no buffer.
    #[serde(default)]
    pub powered: bool,
    /// The monitor on it: make, model and serial (from its EDID on the TTY).
    #[serde(default)]
    pub make: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub serial: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutputsReply {
    pub outputs: Vec<OutputReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowInfo {
    /// "xdg", "x11", or "x11-menu" (an X11 override-redirect window).
    #[serde(default)]
    pub shell: String,
    /// The xdg app_id, or an X11 window's class.
    pub app_id: String,
    pub title: String,
    pub pid: Option<i32>,
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
    /// It has the keyboard.
    #[serde(default)]
    pub focused: bool,
    /// What its client says it shows: "none", "photo", "video" or "game" (wp_content_type_v1).
    #[serde(default)]
    pub content_type: String,
    /// How its client wants it presented: "vsync" or "async" (wp_tearing_control_v1).
    #[serde(default)]
    pub presentation: String,
    /// The title of the window it is a dialog of (xdg_toplevel.set_parent, xdg-foreign).
    #[serde(default)]
    pub parent: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowsReply {
    pub windows: Vec<WindowInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GpuInfo {
    pub id: String,
    pub kind: String,
    pub socket: Option<String>,
    pub outputs: Vec<String>,
    pub imports_foreign_dmabufs: bool,
    pub exports_dmabufs: bool,
    /// GL_RENDERER, as the driver names itself.
    #[serde(default)]
    pub renderer: String,
    /// The device node its renderer draws through: `render node`, `primary node` (display-only
    /// devices) or `software`.
    #[serde(default)]
    pub draws_through: String,
    /// How each output this GPU scans out gets its frames.
    #[serde(default)]
    pub feeds: Vec<FeedInfo>,
    /// Parked: idle, with no EGL context and no device fd open (`--park-after`).
    #[serde(default)]
    pub parked: bool,
    /// How long its last wake from parking took, in milliseconds.
    #[serde(default)]
    pub last_wake_ms: Option<f64>,
    /// Why the GPU is lost (its context failed; nothing is drawn through it), if it is.
    #[serde(default)]
    pub lost: Option<String>,
    /// Copy paths to this GPU that failed and are held off for a while, one line each.
    #[serde(default)]
    pub path_failures: Vec<String>,
    /// What each copy path to this GPU has cost (fixed and per MiB), one line each.
    #[serde(default)]
    pub copy_costs: Vec<String>,
    /// The dmabuf formats its clients are offered (carried to every GPU when probed), as
    /// `FOURCC:modifier`.
    #[serde(default)]
    pub offered_formats: Vec<String>,
    /// Formats the GPU lists that its clients are not offered, with why, one line each.
    #[serde(default)]
    pub refused_formats: Vec<String>,
    /// Which client dmabufs the CPU copy path reads through their mapping.
    #[serde(default)]
    pub mapped_reads: String,
}

/// How one output gets its frames, and why that way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedInfo {
    pub output: String,
    /// `drawn here`, `dmabuf from GPU` or `CPU copy from GPU` (`pending from GPU` before the
    /// first frame).
    pub how: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GpusReply {
    pub gpus: Vec<GpuInfo>,
    /// How clients synchronise with the GPUs: explicit sync offered or not, and buffer
    /// releases held for frames that sampled them.
    #[serde(default)]
    pub sync: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    pub bytes: u64,
    pub objects: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GpuVram {
    pub id: String,
    pub bytes: u64,
    pub objects: u64,
    /// By kind: native_texture, shadow_buffer, cpu_staging, output_intermediate,
    /// pinned_client_buffer, compositor_buffer.
    pub kinds: BTreeMap<String, Amount>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WindowVram {
    /// "xdg", "x11", or "x11-menu".
    #[serde(default)]
    pub shell: String,
    /// The xdg app_id, or an X11 window's class.
    pub app_id: String,
    pub title: String,
    pub pid: Option<i32>,
    pub bytes: u64,
    /// Bytes per GPU id.
    pub gpus: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VramReport {
    pub gpus: Vec<GpuVram>,
    pub windows: Vec<WindowVram>,
    pub total_bytes: u64,
    /// What clients hold: their surfaces, mapped or not, and their screen-capture buffers; the
    /// rest of `total_bytes` is the compositor's own (the pointer image, output intermediates,
    /// swapchains).
    #[serde(default)]
    pub client_bytes: u64,
    /// The compositor's own objects by GPU and purpose (swapchains, the pointer image).
    #[serde(default)]
    pub compositor: Vec<CompositorVram>,
    /// What each client connected now holds, by kind (surfaces and screen captures).
    #[serde(default)]
    pub clients: Vec<ClientVram>,
}

/// What one client holds, by kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientVram {
    pub pid: Option<i32>,
    pub bytes: u64,
    /// Kinds it holds something of (`capture_buffer`: its screen-capture buffers).
    pub kinds: BTreeMap<String, Amount>,
}

/// What the compositor holds for itself for one purpose on one GPU.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompositorVram {
    pub gpu: String,
    pub purpose: String,
    pub bytes: u64,
    pub objects: u64,
}
