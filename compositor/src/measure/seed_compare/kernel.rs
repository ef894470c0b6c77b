//! What the kernel says about a process's buffers, read by `seed-compare` so that neither
//! library measures itself: live dma-bufs (debugfs `dma_buf/bufinfo`, every one in the
//! system), the dma-buf fds a process holds (`/proc/PID/fdinfo`), the memory DRM fdinfo reports
//! per device fd, resident memory by kind of mapping (`/proc/PID/smaps`), and dma-bufs created
//! (a kprobe on `dma_buf_export`, counted per process).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

const BUFINFO: &str = "/sys/kernel/debug/dma_buf/bufinfo";
const TRACING: &str = "/sys/kernel/tracing";
const KPROBE: &str = "tandem_seed_dmabuf_export";

/// Bytes and count of live dma-bufs.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct DmabufTotal {
    pub bytes: u64,
    pub count: u64,
}

/// Every dma-buf alive in the system, whoever holds it (an fd, a mapping or a GPU import).
pub fn system_dmabufs() -> Result<DmabufTotal, String> {
    let text = std::fs::read_to_string(BUFINFO).map_err(|e| {
        format!("{BUFINFO}: {e} (run as root with debugfs mounted on /sys/kernel/debug)")
    })?;
    let mut total = DmabufTotal::default();
    for line in text.lines() {
        // "size flags mode count exp_name ino name", the size in bytes as decimal digits.
        let mut fields = line.split_whitespace();
        let (Some(size), Some(_flags), Some(_mode), Some(_count), Some(_exporter)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            continue;
        };
        if let Ok(bytes) = size.parse::<u64>() {
            total.bytes += bytes;
            total.count += 1;
        }
    }
    Ok(total)
}

/// The dma-bufs this process holds fds to (each buffer once, by inode).
pub fn process_dmabufs() -> Result<DmabufTotal, String> {
    let mut seen = HashSet::new();
    let mut total = DmabufTotal::default();
    for (fd, target) in fds()? {
        if !target.starts_with("/dmabuf:") && !target.starts_with("anon_inode:dmabuf") {
            continue;
        }
        let Ok(info) = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
            continue;
        };
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if let (Some(ino), Some(size)) = (field("ino:"), field("size:")) {
            if seen.insert(ino) {
                total.bytes += size;
                total.count += 1;
            }
        }
    }
    Ok(total)
}

/// The memory keys (`drm-total-*`, `drm-memory-*`, `drm-resident-*`, `drm-shared-*`) DRM fdinfo reports on this process's
/// device fds, summed per key over distinct clients; empty when the driver reports none.
pub fn drm_fdinfo_memory() -> Result<BTreeMap<String, u64>, String> {
    let mut clients = HashSet::new();
    let mut keys = BTreeMap::new();
    for (fd, target) in fds()? {
        if !target.starts_with("/dev/dri/") {
            continue;
        }
        let Ok(info) = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
            continue;
        };
        let client = info
            .lines()
            .find_map(|l| l.strip_prefix("drm-client-id:"))
            .map(|v| v.trim().to_owned());
        if let Some(client) = client {
            if !clients.insert(client) {
                continue;
            }
        }
        for line in info.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let memory = ["drm-total-", "drm-memory-", "drm-resident-", "drm-shared-"]
                .iter()
                .any(|prefix| key.starts_with(prefix))
                && !key.starts_with("drm-total-cycles");
            if !memory {
                continue;
            }
            if let Some(bytes) = memory_bytes(value) {
                *keys.entry(key.to_owned()).or_insert(0) += bytes;
            }
        }
    }
    Ok(keys)
}

/// "123 KiB" and the like, as DRM fdinfo writes memory.
fn memory_bytes(value: &str) -> Option<u64> {
    let mut parts = value.split_whitespace();
    let number: u64 = parts.next()?.parse().ok()?;
    let unit = match parts.next() {
        None => 1,
        Some("KiB") => 1 << 10,
        Some("MiB") => 1 << 20,
        Some("GiB") => 1 << 30,
        Some(_) => return None,
    };
    Some(number * unit)
}

/// Resident bytes of this process by kind of mapping: `drm` (GPU buffer objects mapped through
/// a /dev/dri node), `dmabuf` (mapped dma-bufs), `memfd`, `anonymous` (the heap and the GL
/// drivers' own memory) and `files`.
pub fn resident_by_mapping() -> Result<BTreeMap<String, u64>, String> {
    let text = std::fs::read_to_string("/proc/self/smaps")
        .map_err(|e| format!("/proc/self/smaps: {e}"))?;
    let mut kinds = BTreeMap::new();
    let mut kind = "anonymous";
    for line in text.lines() {
        if let Some(rss) = line.strip_prefix("Rss:") {
            if let Some(bytes) = memory_bytes(&rss.replace("kB", "KiB")) {
                *kinds.entry(kind.to_owned()).or_insert(0) += bytes;
            }
            continue;
        }
        let mut fields = line.split_whitespace();
        let Some(range) = fields.next() else {
            continue;
        };
        if !range.contains('-') || range.ends_with(':') {
            continue;
        }
        // A mapping's header: "start-end perms offset dev inode [path]".
        let path: String = fields.skip(4).collect::<Vec<_>>().join(" ");
        kind = match path.as_str() {
            p if p.starts_with("/dev/dri/") => "drm",
            p if p.contains("dmabuf") => "dmabuf",
            p if p.starts_with("/memfd:") => "memfd",
            "" => "anonymous",
            p if p.starts_with('[') => "anonymous",
            _ => "files",
        };
    }
    Ok(kinds)
}

fn fds() -> Result<Vec<(String, String)>, String> {
    let dir = std::fs::read_dir("/proc/self/fd").map_err(|e| format!("/proc/self/fd: {e}"))?;
    Ok(dir
        .flatten()
        .filter_map(|entry| {
            let target = std::fs::read_link(entry.path()).ok()?;
            Some((
                entry.file_name().to_string_lossy().into_owned(),
                target.to_string_lossy().into_owned(),
            ))
        })
        .collect())
}

/// Counts the dma-bufs a process creates: a kprobe on the kernel's `dma_buf_export`, whose
/// trace lines carry the creating thread's process id.
pub struct ExportCounter {
    tgid: u32,
}

impl ExportCounter {
    /// Installs (or reuses) the kprobe and turns it on, counting for this process.
    pub fn install() -> Result<ExportCounter, String> {
        let tracing = Path::new(TRACING);
        if !tracing.join("kprobe_events").exists() {
            return Err(format!(
                "{TRACING}/kprobe_events is missing: run as root with tracefs mounted on {TRACING} \
                 and a kernel built with CONFIG_KPROBE_EVENTS"
            ));
        }
        let enable = tracing.join(format!("events/kprobes/{KPROBE}/enable"));
        if !enable.exists() {
            write_append(
                &tracing.join("kprobe_events"),
                &format!("p:{KPROBE} dma_buf_export\n"),
            )?;
        }
        write(&tracing.join("options/record-tgid"), "1")?;
        write(&enable, "1")?;
        Ok(ExportCounter {
            tgid: std::process::id(),
        })
    }

    /// Forgets every export traced so far.
    pub fn reset(&self) -> Result<(), String> {
        write(&Path::new(TRACING).join("trace"), "")
    }

    /// dma-bufs this process created since the last reset.
    pub fn count(&self) -> Result<u64, String> {
        let path = Path::new(TRACING).join("trace");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let marker = format!("({:>7})", self.tgid);
        Ok(text
            .lines()
            .filter(|l| l.contains(KPROBE) && l.contains(&marker))
            .count() as u64)
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn write_append(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::memory_bytes;

    #[test]
    fn drm_fdinfo_memory_units_are_read_as_bytes() {
        assert_eq!(memory_bytes(" 12 KiB"), Some(12 << 10));
        assert_eq!(memory_bytes("3 MiB"), Some(3 << 20));
        assert_eq!(memory_bytes("7"), Some(7));
        assert_eq!(memory_bytes("7 furlongs"), None);
    }
}
