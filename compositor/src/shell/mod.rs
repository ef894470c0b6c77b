//! Shells: xdg-shell's handler (`xdg`), xdg windows (`window`: placement and focus;
//! `toplevel_states`: maximized, fullscreen and their restore; `minimize`: windows out of the
//! space until a taskbar brings them back; `interactive`: move and resize
//! grabs; `decorations`: server-side title bars; `dialog`: windows that name a parent), popups
//! (`popup_placement`, `popup_grab`), subsurface positions, the bounds every client-given
//! position or size is clamped to (`client_geometry`), layer surfaces (`layer`: surfaces,
//! layout, keyboard), and X11 windows through Xwayland (`x11`: the X11 window manager).

pub mod client_geometry;
pub mod decorations;
pub mod dialog;
pub mod interactive;
pub mod layer;
pub mod minimize;
pub mod popup_grab;
pub mod popup_placement;
pub mod subsurface_position;
pub mod toplevel_states;
pub mod window;
pub mod x11;
pub mod xdg;
