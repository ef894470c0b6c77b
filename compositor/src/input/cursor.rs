//! The pointer's image on outputs the compositor scans out itself (the TTY backend) and in
//! captures that ask for it: the
//! client's cursor surface when the focused client set one, else the xcursor theme's image of
//! the shape it named (wp_cursor_shape_v1: `protocols::cursor_shape`; the arrow when it named
//! none), from `XCURSOR_THEME` at `XCURSOR_SIZE` (default theme at 24 px) times the output's
//! scale rounded up, so that it keeps its size and stays sharp on a HiDPI output. The arrow is a
//! built-in one when no theme is installed, and a shape the theme lacks is drawn as the arrow.
//! Nothing when the client hid the cursor. Named shapes are read from the theme the first time
//! they are shown.
//!
//! [`State`] owns one [`Cursor`] (`pointer_image`); the TTY backend asks it for each output's
//! elements every frame, captures for the frames they copy; the image is uploaded once per GPU
//! by smithay's memory buffer.

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::element::memory::{
    MemoryRenderBuffer, MemoryRenderBufferRenderElement,
};
use smithay::backend::renderer::element::surface::{
    render_elements_from_surface_tree, WaylandSurfaceRenderElement,
};
use smithay::backend::renderer::element::Kind;
use smithay::backend::renderer::{ImportAll, ImportMem, Renderer};
use smithay::desktop::utils::bbox_from_surface_tree;
use std::cell::RefCell;
use std::collections::HashMap;

use smithay::input::pointer::{CursorIcon, CursorImageStatus, CursorImageSurfaceData};
use smithay::output::Output;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Physical, Point, Size, Transform};
use smithay::wayland::compositor::with_states;

use crate::shell::client_geometry;
use crate::state::State;

smithay::backend::renderer::element::render_elements! {
    /// One piece of the pointer: the theme's image or the client's cursor surface tree.
    pub CursorElement<R> where R: ImportAll + ImportMem;
    Image=MemoryRenderBufferRenderElement<R>,
    Surface=WaylandSurfaceRenderElement<R>,
}

/// Where the pointer is on one output, and what it looks like.
pub struct Placement {
    status: CursorImageStatus,
    /// The pointer's position relative to the output's top-left corner.
    relative: Point<i32, Logical>,
    /// The output's scale: where the image goes in the output's pixels, and which image
    /// (the theme's at its size times the scale rounded up, drawn at the output's scale).
    scale: f64,
}

/// The pointer on `output`, if it is there.
pub fn placement(state: &State, output: &Output) -> Option<Placement> {
    let geometry = state.space.output_geometry(output)?;
    let pointer = state.pointer_location.to_i32_round();
    geometry.contains(pointer).then(|| Placement {
        scale: output.current_scale().fractional_scale(),
        status: state.cursor_status.clone(),
        relative: pointer - geometry.loc,
    })
}

/// One pointer image and its hotspot.
struct Image {
    buffer: MemoryRenderBuffer,
    /// The image's ABGR8888 pixels, to make `buffer` again without its textures.
    pixels: Vec<u8>,
    size: Size<i32, Physical>,
    /// In the image's pixels.
    hotspot: Point<i32, Logical>,
    /// The output scale it was made for: its pixels per logical pixel.
    factor: i32,
}

impl Image {
    fn new(
        pixels: Vec<u8>,
        size: Size<i32, Physical>,
        hotspot: Point<i32, Logical>,
        factor: i32,
    ) -> Image {
        Image {
            buffer: image_of(&pixels, size, factor),
            pixels,
            size,
            hotspot,
            factor,
        }
    }
}

/// Integer scales the pointer's images are made for (an output at 1.5 shows the scale-2 image).
const MAX_FACTOR: i32 = 4;

/// The image scale for an output at `scale`.
fn factor_for(scale: f64) -> i32 {
    (scale.ceil() as i32).clamp(1, MAX_FACTOR)
}

/// The pointer's images: the arrow, and the named shapes shown so far, each at the scales of
/// the outputs it was shown on.
pub struct Cursor {
    arrow: Image,
    /// Shapes clients named (the arrow too, at scales above 1) by image scale, read from the
    /// theme when first shown; None: the theme lacks it.
    named: RefCell<HashMap<(CursorIcon, i32), Option<Image>>>,
    /// The theme and size the arrow came from; None for the built-in arrow.
    theme: Option<(String, u32)>,
    /// Where the arrow came from, for the log.
    pub source: String,
}

impl Cursor {
    /// Lets go of the images' textures on every GPU (they are made again on the next frame
    /// that shows the pointer), so that a GPU whose screens are all off holds nothing of it.
    pub fn release_textures(&mut self) {
        let renew =
            |image: &mut Image| image.buffer = image_of(&image.pixels, image.size, image.factor);
        renew(&mut self.arrow);
        self.named.get_mut().values_mut().flatten().for_each(renew);
    }

    /// Calls `f` with the image of shape `icon` made for image scale `factor`: the theme's at
    /// its size times `factor` (the built-in arrow enlarged), or the arrow.
    fn with_image<T>(&self, icon: CursorIcon, factor: i32, f: impl FnOnce(&Image) -> T) -> T {
        if icon == CursorIcon::Default && factor == 1 {
            return f(&self.arrow);
        }
        let key = (icon, factor);
        if !self.named.borrow().contains_key(&key) {
            let image = match &self.theme {
                Some((theme, size)) => {
                    let names: Vec<&str> = match icon {
                        CursorIcon::Default => vec!["default", "left_ptr"],
                        _ => std::iter::once(icon.name())
                            .chain(icon.alt_names().iter().copied())
                            .collect(),
                    };
                    from_theme(theme, &names, size * factor as u32, factor).map(|(image, _)| image)
                }
                None if icon == CursorIcon::Default => Some(built_in(factor)),
                None => None,
            };
            if image.is_none() {
                tracing::debug!(
                    shape = icon.name(),
                    "the cursor theme has no such shape: drawing the arrow"
                );
            }
            self.named.borrow_mut().insert(key, image);
        }
        let found = matches!(self.named.borrow().get(&key), Some(Some(_)));
        if !found && icon != CursorIcon::Default {
            return self.with_image(CursorIcon::Default, factor, f);
        }
        match self.named.borrow().get(&key) {
            Some(Some(image)) => f(image),
            _ => f(&self.arrow),
        }
    }

    pub fn load() -> Cursor {
        let theme = std::env::var("XCURSOR_THEME").unwrap_or_else(|_| "default".into());
        let size = std::env::var("XCURSOR_SIZE")
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|s| (8..=256).contains(s))
            .unwrap_or(24);
        match from_theme(&theme, &["default", "left_ptr"], size, 1) {
            Some((arrow, source)) => Cursor {
                arrow,
                named: RefCell::default(),
                theme: Some((theme, size)),
                source,
            },
            None => {
                tracing::info!(%theme, "no xcursor theme found: using the built-in arrow");
                Cursor {
                    arrow: built_in(1),
                    named: RefCell::default(),
                    theme: None,
                    source: "built-in arrow".into(),
                }
            }
        }
    }

    /// The pointer's elements, topmost first; empty when it is elsewhere or hidden.
    pub fn elements<R>(&self, renderer: &mut R, place: Option<&Placement>) -> Vec<CursorElement<R>>
    where
        R: Renderer + ImportAll + ImportMem,
        R::TextureId: Send + Clone + 'static,
    {
        let Some(Placement {
            status,
            relative,
            scale,
        }) = place
        else {
            return Vec::new();
        };
        let (relative, scale) = (*relative, *scale);
        match status {
            CursorImageStatus::Hidden => Vec::new(),
            CursorImageStatus::Surface(surface) => {
                let at = (relative - surface_hotspot(surface))
                    .to_f64()
                    .to_physical(scale)
                    .to_i32_round();
                render_elements_from_surface_tree(renderer, surface, at, scale, 1.0, Kind::Cursor)
            }
            CursorImageStatus::Named(icon) => self.with_image(*icon, factor_for(scale), |image| {
                let hotspot = image.hotspot.to_f64().downscale(f64::from(image.factor));
                let at = (relative.to_f64() - hotspot).to_physical(scale);
                match MemoryRenderBufferRenderElement::from_buffer(
                    renderer,
                    at,
                    &image.buffer,
                    None,
                    None,
                    None,
                    Kind::Cursor,
                ) {
                    Ok(element) => vec![CursorElement::Image(element)],
                    Err(err) => {
                        tracing::warn!(%err, "the cursor image could not be uploaded");
                        Vec::new()
                    }
                }
            }),
        }
    }
}

impl Cursor {
    /// The size of the pointer's image as `status` shows it (the client's cursor surface tree,
    /// or the theme's image, also for a hidden pointer, drawn empty) and its hotspot relative to
    /// the image's top-left corner.
    pub fn image_geometry(
        &self,
        status: &CursorImageStatus,
    ) -> (Size<i32, Physical>, Point<i32, Logical>) {
        match status {
            CursorImageStatus::Surface(surface) => {
                let bbox = bbox_from_surface_tree(surface, (0, 0));
                (
                    (bbox.size.w, bbox.size.h).into(),
                    surface_hotspot(surface) - bbox.loc,
                )
            }
            CursorImageStatus::Named(icon) => {
                self.with_image(*icon, 1, |image| (image.size, image.hotspot))
            }
            CursorImageStatus::Hidden => (self.arrow.size, self.arrow.hotspot),
        }
    }

    /// The pointer's image alone as `status` shows it, its top-left corner at the origin
    /// (what a cursor capture session copies).
    pub fn image_elements<R>(
        &self,
        renderer: &mut R,
        status: &CursorImageStatus,
    ) -> Vec<CursorElement<R>>
    where
        R: Renderer + ImportAll + ImportMem,
        R::TextureId: Send + Clone + 'static,
    {
        let (_, hotspot) = self.image_geometry(status);
        let placement = Placement {
            status: status.clone(),
            relative: hotspot,
            scale: 1.0,
        };
        self.elements(renderer, Some(&placement))
    }
}

/// The hotspot a client set for its cursor surface.
fn surface_hotspot(surface: &WlSurface) -> Point<i32, Logical> {
    let hotspot = with_states(surface, |states| {
        states
            .data_map
            .get::<CursorImageSurfaceData>()
            .and_then(|data| data.lock().ok().map(|d| d.hotspot))
            .unwrap_or_default()
    });
    client_geometry::point(hotspot)
}

/// The first of `names` that `theme` has, at the size nearest `size`, as the image for image
/// scale `factor`, and its file.
fn from_theme(theme: &str, names: &[&str], size: u32, factor: i32) -> Option<(Image, String)> {
    let theme_data = xcursor::CursorTheme::load(theme);
    let path = names.iter().find_map(|name| theme_data.load_icon(name))?;
    let bytes = std::fs::read(&path).ok()?;
    let images = xcursor::parser::parse_xcursor(&bytes)?;
    let image = images
        .iter()
        .min_by_key(|image| image.size.abs_diff(size))?;
    if image.pixels_rgba.len() != (image.width * image.height * 4) as usize {
        return None;
    }
    // RGBA bytes in memory are DRM's little-endian ABGR8888.
    let loaded = Image::new(
        image.pixels_rgba.clone(),
        (image.width as i32, image.height as i32).into(),
        (image.xhot as i32, image.yhot as i32).into(),
        factor,
    );
    Some((loaded, path.display().to_string()))
}

/// A 12x19 arrow, black outline on white, hotspot at its tip; each cell `factor` pixels square.
fn built_in(factor: i32) -> Image {
    const ARROW: [&str; 19] = [
        "X...........",
        "XX..........",
        "XoX.........",
        "XooX........",
        "XoooX.......",
        "XooooX......",
        "XoooooX.....",
        "XooooooX....",
        "XoooooooX...",
        "XooooooooX..",
        "XoooooooooX.",
        "XooooooXXXXX",
        "XoooXooX....",
        "XooX.XooX...",
        "XoX..XooX...",
        "XX....XooX..",
        "X.....XooX..",
        ".......XooX.",
        ".......XXX..",
    ];
    let repeat = factor as usize;
    let pixels: Vec<u8> = ARROW
        .iter()
        .flat_map(|row| std::iter::repeat_n(row, repeat))
        .flat_map(|row| {
            row.bytes()
                .flat_map(|cell| std::iter::repeat_n(cell, repeat))
        })
        .flat_map(|cell| match cell {
            b'X' => [0, 0, 0, 255],
            b'o' => [255, 255, 255, 255],
            _ => [0, 0, 0, 0],
        })
        .collect();
    Image::new(
        pixels,
        (12 * factor, 19 * factor).into(),
        (0, 0).into(),
        factor,
    )
}

fn image_of(pixels: &[u8], size: Size<i32, Physical>, factor: i32) -> MemoryRenderBuffer {
    MemoryRenderBuffer::from_slice(
        pixels,
        Fourcc::Abgr8888,
        (size.w, size.h),
        factor,
        Transform::Normal,
        None,
    )
}
