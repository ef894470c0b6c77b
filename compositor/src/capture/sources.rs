//! ext-image-capture-source-v1: what an ext-image-copy-capture session captures. An output
//! source names a wl_output (ext_output_image_capture_source_manager_v1), a toplevel source an
//! ext-foreign-toplevel-list handle (ext_foreign_toplevel_image_capture_source_manager_v1,
//! windows listed by `protocols::foreign_toplevel_list`).
//!
//! A source only names what it captures; [`Source::scene`] finds it when a session needs it,
//! and `None` there means it is gone (the session stops).

use smithay::desktop::Window;
use smithay::output::Output;
use smithay::reexports::wayland_protocols::ext::image_capture_source::v1::server::{
    ext_foreign_toplevel_image_capture_source_manager_v1::{
        self, ExtForeignToplevelImageCaptureSourceManagerV1,
    },
    ext_image_capture_source_v1::{self, ExtImageCaptureSourceV1},
    ext_output_image_capture_source_manager_v1::{self, ExtOutputImageCaptureSourceManagerV1},
};
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New,
};
use smithay::utils::{Logical, Physical, Point};
use smithay::wayland::foreign_toplevel_list::{ForeignToplevelHandle, ForeignToplevelWeakHandle};

use super::{output_area, Scene};
use crate::state::State;

/// What a source names.
#[derive(Clone)]
pub enum Source {
    Output(Output),
    Toplevel(ForeignToplevelWeakHandle),
    /// A wl_output or toplevel handle that was already gone when the source was made.
    Gone,
}

impl Source {
    /// What a capture of it draws now, with the pointer when `cursor` is set (outputs only);
    /// `None` when it is gone.
    pub fn scene(&self, state: &State, cursor: bool) -> Option<Scene> {
        match self {
            Source::Output(output) => {
                let info = state.outputs.get(output)?.clone();
                let region = output_area(&info);
                (!region.is_empty()).then_some(Scene::Output {
                    info,
                    region,
                    cursor,
                })
            }
            Source::Toplevel(handle) => {
                let window = window_of(state, &handle.upgrade()?)?;
                Scene::of_window(state, &window).filter(|scene| !scene.size().is_empty())
            }
            Source::Gone => None,
        }
    }
}

impl Source {
    /// Where `pointer` is on what it names, in physical pixels from its top-left corner (an
    /// output at its scale, a window at 1); `None` when the pointer is elsewhere or it is gone.
    pub fn pointer_position(
        &self,
        state: &State,
        pointer: Point<f64, Logical>,
    ) -> Option<Point<i32, Physical>> {
        let (area, scale) = match self {
            Source::Output(output) => (
                state.space.output_geometry(output)?,
                output.current_scale().fractional_scale(),
            ),
            Source::Toplevel(handle) => {
                let window = window_of(state, &handle.upgrade()?)?;
                (state.space.element_bbox(&window)?, 1.0)
            }
            Source::Gone => return None,
        };
        area.to_f64().contains(pointer).then(|| {
            (pointer - area.loc.to_f64())
                .to_physical(scale)
                .to_i32_round()
        })
    }
}

/// The window `handle` lists, while it is mapped.
fn window_of(state: &State, handle: &ForeignToplevelHandle) -> Option<Window> {
    if handle.is_closed() {
        return None;
    }
    state.toplevel_list.window_of(handle)
}

/// Creates both source managers' globals.
pub fn init(display: &DisplayHandle) {
    display.create_global::<State, ExtOutputImageCaptureSourceManagerV1, ()>(1, ());
    display.create_global::<State, ExtForeignToplevelImageCaptureSourceManagerV1, ()>(1, ());
}

impl GlobalDispatch<ExtOutputImageCaptureSourceManagerV1, ()> for State {
    fn can_view(client: Client, _global_data: &()) -> bool {
        crate::protocols::security_context::privileged(&client)
    }

    fn bind(
        _state: &mut State,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ExtOutputImageCaptureSourceManagerV1>,
        _data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<ExtOutputImageCaptureSourceManagerV1, ()> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        _manager: &ExtOutputImageCaptureSourceManagerV1,
        request: ext_output_image_capture_source_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        if let ext_output_image_capture_source_manager_v1::Request::CreateSource {
            source,
            output,
        } = request
        {
            let named = Output::from_resource(&output).map_or(Source::Gone, Source::Output);
            data_init.init(source, named);
        }
    }
}

impl GlobalDispatch<ExtForeignToplevelImageCaptureSourceManagerV1, ()> for State {
    fn can_view(client: Client, _global_data: &()) -> bool {
        crate::protocols::security_context::privileged(&client)
    }

    fn bind(
        _state: &mut State,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ExtForeignToplevelImageCaptureSourceManagerV1>,
        _data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        data_init.init(resource, ());
    }
}

impl Dispatch<ExtForeignToplevelImageCaptureSourceManagerV1, ()> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        _manager: &ExtForeignToplevelImageCaptureSourceManagerV1,
        request: ext_foreign_toplevel_image_capture_source_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        if let ext_foreign_toplevel_image_capture_source_manager_v1::Request::CreateSource {
            source,
            toplevel_handle,
        } = request
        {
            let named = ForeignToplevelHandle::from_resource(&toplevel_handle)
                .map_or(Source::Gone, |handle| Source::Toplevel(handle.downgrade()));
            data_init.init(source, named);
        }
    }
}

impl Dispatch<ExtImageCaptureSourceV1, Source> for State {
    fn request(
        _state: &mut State,
        _client: &Client,
        _source: &ExtImageCaptureSourceV1,
        _request: ext_image_capture_source_v1::Request,
        _data: &Source,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
    }
}
