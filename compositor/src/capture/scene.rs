//! What a capture draws ([`Scene`]): a rectangle of an output (the pointer drawn in when asked
//! for), one window alone, or the pointer's image alone; and the elements each is drawn from.
//! Made by the capture protocols from their sources, drawn and read back by the capture module.

use crate::shell::window::DesktopElement;
use smithay::backend::renderer::element::surface::WaylandSurfaceRenderElement;
use smithay::backend::renderer::element::utils::{Relocate, RelocateRenderElement};
use smithay::backend::renderer::element::Element;
use smithay::backend::renderer::Texture;
use smithay::backend::renderer::{ImportAll, ImportMem, Renderer};
use smithay::desktop::{Space, Window};
use smithay::input::pointer::CursorImageStatus;
use smithay::utils::{Physical, Point, Rectangle, Size, Transform};
use tandem::GpuId;

use super::{LastFrame, POINTER_KEY, WINDOWS_KEY};
use crate::input::cursor::{Cursor, CursorElement, Placement};
use crate::output_registry::OutputInfo;
use crate::protocols::input_method::InputPopupPlace;
use crate::protocols::session_lock::SessionLock;
use crate::render::BACKGROUND;
use crate::shell::x11::Xwayland;
use crate::state::State;

/// What a capture draws.
#[derive(Clone)]
pub enum Scene {
    /// A rectangle of an output (physical, output coordinates), with the pointer drawn in when
    /// `cursor` is set.
    Output {
        info: OutputInfo,
        region: Rectangle<i32, Physical>,
        cursor: bool,
    },
    /// A window alone at scale 1, the top-left of its bounding box (client-side shadows and
    /// subsurfaces included) at the buffer's origin, drawn by `render`.
    Window { window: Window, render: GpuId },
    /// The pointer's image alone at scale 1 as `status` shows it, its top-left at the buffer's
    /// origin, over transparency, drawn by `render` (the GPU of the scene whose pointer it is).
    Pointer {
        status: CursorImageStatus,
        size: Size<i32, Physical>,
        render: GpuId,
    },
}

impl Scene {
    /// A scene of `window`, drawn by the render GPU of the output it overlaps most (the first
    /// output's when it is on none); `None` when there is no output to draw with.
    pub fn of_window(state: &State, window: &Window) -> Option<Scene> {
        let bbox = state.space.element_bbox(window);
        let overlap = |info: &&OutputInfo| {
            let area = state.space.output_geometry(&info.output);
            match (bbox, area) {
                (Some(bbox), Some(area)) => bbox.intersection(area).map_or(0, |common| {
                    i64::from(common.size.w) * i64::from(common.size.h)
                }),
                _ => 0,
            }
        };
        let info = state
            .outputs
            .iter()
            .max_by_key(overlap)
            .filter(|info| overlap(info) > 0)
            .or_else(|| state.outputs.first())?;
        Some(Scene::Window {
            window: window.clone(),
            render: info.render,
        })
    }

    /// The pointer's image on its own, drawn by the GPU that draws `over`.
    pub fn pointer_of(state: &State, over: &Scene) -> Scene {
        let (size, _) = state.pointer_image.image_geometry(&state.cursor_status);
        Scene::Pointer {
            status: state.cursor_status.clone(),
            // A cursor surface without a buffer yet: one transparent pixel.
            size: if size.is_empty() { (1, 1).into() } else { size },
            render: over.render_gpu(),
        }
    }

    /// The size of a buffer it is drawn into.
    pub fn size(&self) -> Size<i32, Physical> {
        match self {
            Scene::Pointer { size, .. } => *size,
            Scene::Output { region, .. } => region.size,
            Scene::Window { window, .. } => {
                let size = window.bbox().size;
                (size.w, size.h).into()
            }
        }
    }

    /// The GPU that draws it.
    pub fn render_gpu(&self) -> GpuId {
        match self {
            Scene::Output { info, .. } => info.render,
            Scene::Window { render, .. } | Scene::Pointer { render, .. } => *render,
        }
    }

    /// The name its kept buffer and intermediates go by, and under which its copies are
    /// counted: the output's, or one for all windows.
    pub fn key(&self) -> String {
        match self {
            Scene::Output { info, .. } => info.output.name(),
            Scene::Window { .. } => WINDOWS_KEY.to_string(),
            Scene::Pointer { .. } => POINTER_KEY.to_string(),
        }
    }

    /// Whether `frame` shows this scene as it is: the whole of its output, untransformed, with
    /// no pointer to draw in.
    pub(super) fn shown_by(&self, state: &State, frame: &LastFrame<'_>) -> bool {
        let Scene::Output {
            info,
            region,
            cursor,
        } = self
        else {
            return false;
        };
        let size = smithay::backend::allocator::Buffer::size(frame.buffer);
        *region == output_area(info)
            && (size.w, size.h) == (region.size.w, region.size.h)
            && info.output.current_transform() == Transform::Normal
            && !(*cursor && crate::input::cursor::placement(state, &info.output).is_some())
    }

    pub(crate) fn scale(&self) -> f64 {
        match self {
            Scene::Output { info, .. } => info.output.current_scale().fractional_scale(),
            Scene::Window { .. } | Scene::Pointer { .. } => 1.0,
        }
    }

    /// Whether its pixels have an alpha of their own (the pointer's image), which buffers
    /// with alpha keep; other scenes are opaque.
    pub fn has_alpha(&self) -> bool {
        matches!(self, Scene::Pointer { .. })
    }

    /// What is drawn where nothing of the scene is.
    pub(super) fn background(&self) -> [f32; 4] {
        if self.has_alpha() {
            [0.0; 4]
        } else {
            BACKGROUND
        }
    }
}

smithay::backend::renderer::element::render_elements! {
    /// What a capture shows: the pointer (when asked for) over the windows and layers.
    pub CaptureElement<R> where R: ImportAll + ImportMem;
    Cursor=RelocateRenderElement<CursorElement<R>>,
    Surface=RelocateRenderElement<WaylandSurfaceRenderElement<R>>,
    Desktop=RelocateRenderElement<DesktopElement<R>>,
}

/// What a scene's elements are made from, borrowed beside the renderer.
pub(super) struct SceneSources<'a> {
    pub(super) space: &'a Space<Window>,
    pub(super) xwayland: Option<&'a Xwayland>,
    pub(super) lock: &'a SessionLock,
    pub(super) input_popups: Vec<InputPopupPlace>,
    pub(super) pointer_image: &'a Cursor,
    /// Where the pointer is on the scene's output, when it is drawn in.
    pub(super) pointer: Option<Placement>,
}

impl SceneSources<'_> {
    /// `scene`'s elements, topmost first, relative to the buffer's origin.
    pub(super) fn elements<R>(&self, scene: &Scene, renderer: &mut R) -> Vec<CaptureElement<R>>
    where
        R: Renderer + ImportAll + ImportMem,
        R::TextureId: Send + Clone + Texture + 'static,
    {
        match scene {
            Scene::Output { info, region, .. } => {
                let offset = Point::from((-region.loc.x, -region.loc.y));
                let mut elements: Vec<CaptureElement<R>> = self
                    .pointer_image
                    .elements(renderer, self.pointer.as_ref())
                    .into_iter()
                    .map(|element| CaptureElement::Cursor(moved(element, offset)))
                    .collect();
                elements.extend(
                    crate::shell::window::render_elements(
                        self.space,
                        self.xwayland,
                        self.lock,
                        &self.input_popups,
                        renderer,
                        &info.output,
                    )
                    .into_iter()
                    .map(|element| CaptureElement::Desktop(moved(element, offset))),
                );
                elements
            }
            // While the session is locked no window is shown, captured alone included.
            Scene::Window { .. } if self.lock.is_locked() => Vec::new(),
            Scene::Window { window, .. } => {
                let bbox = window.bbox();
                let origin = Point::from((-bbox.loc.x, -bbox.loc.y));
                crate::shell::window::window_elements(self.xwayland, window, renderer, origin, 1.0)
                    .into_iter()
                    .map(|element| CaptureElement::Surface(moved(element, Point::default())))
                    .collect()
            }
            Scene::Pointer { status, .. } => self
                .pointer_image
                .image_elements(renderer, status)
                .into_iter()
                .map(|element| CaptureElement::Cursor(moved(element, Point::default())))
                .collect(),
        }
    }
}

/// `element` drawn `offset` away from where it would be.
fn moved<E: Element>(element: E, offset: Point<i32, Physical>) -> RelocateRenderElement<E> {
    RelocateRenderElement::from_element(element, offset, Relocate::Relative)
}

/// The whole of `info`'s output, in physical pixels (empty when it has no mode).
pub fn output_area(info: &OutputInfo) -> Rectangle<i32, Physical> {
    info.output
        .current_mode()
        .map(|mode| Rectangle::from_size(mode.size))
        .unwrap_or_default()
}
