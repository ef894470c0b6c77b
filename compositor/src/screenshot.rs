//! PNG screenshots of rendered outputs.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// Writes tightly packed RGBA pixels as an opaque PNG. The file is written beside `path` and
/// renamed over it, so that a reader never sees a half-written screenshot.
pub fn write_png(path: &Path, width: u32, height: u32, rgba: &[u8]) -> Result<(), String> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    encode_png(&partial, width, height, rgba)?;
    std::fs::rename(&partial, path).map_err(|e| e.to_string())
}

fn encode_png(path: &Path, width: u32, height: u32, rgba: &[u8]) -> Result<(), String> {
    let file = File::create(path).map_err(|e| e.to_string())?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    let opaque: Vec<u8> = rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    writer
        .write_image_data(&opaque)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())
}
