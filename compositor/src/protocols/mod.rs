//! Protocol handlers that are not a shell, one file per protocol: wl_compositor, wl_shm and
//! the commit path (`compositor`), linux-dmabuf (`dmabuf`), the seat, outputs, selections,
//! viewporter and presentation (`seat`), what clients' buffers wait for before a commit applies
//! (`buffer_readiness`) and when they go back to their clients (`buffer_release`), explicit sync
//! (`explicit_sync`), the window lists (`foreign_toplevel_list`, and `foreign_toplevel_management` for taskbars), focus handed over by clients
//! (`activation`: xdg-activation), windows that take the key bindings (`shortcuts_inhibit`:
//! keyboard-shortcuts-inhibit), windows named as another program's parent (`xdg_foreign`:
//! xdg-foreign v2), fractional scale
//! (`fractional_scale`), primary selection, who holds each selection and where a paste reads it
//! (`selection`: selections set without the focus, `selection::unfocused`; GTK's forerunner of
//! primary selection, `selection::gtk`), pointer
//! constraints and relative pointer, the session lock (`session_lock`), idle notification and
//! inhibition (`idle`), output configuration (`output_management`), screens off and on
//! (`output_power`), clipboard managers (`data_control`: wlr and ext data-control), sandboxes and
//! the privileged globals they do not see (`security_context`), text fields (`text_input`) and
//! the input method that types into them (`input_method`, its keyboard grab `input_method_grab`), one-colour buffers (`single_pixel_buffer`), named pointer shapes (`cursor_shape`), content types and tearing hints (`presentation_hints`), input from clients (`virtual_input`:
//! virtual keyboard and virtual pointer; `keymap_guard` checks a virtual keyboard's keymap), and the guards that answer malformed requests before smithay sees them
//! (`request_guards`, and `xdg_rules` for xdg-shell's rules smithay does not keep). Each
//! implements smithay's handler trait on `State` (state.rs holds the state they change).

pub mod activation;
pub mod buffer_readiness;
pub mod buffer_release;
pub mod compositor;
pub mod cursor_shape;
pub mod data_control;
pub mod dmabuf;
pub mod explicit_sync;
pub mod foreign_toplevel_list;
pub mod foreign_toplevel_management;
pub mod fractional_scale;
pub mod idle;
pub mod input_method;
pub mod input_method_grab;
pub mod keymap_guard;
pub mod output_management;
pub mod output_power;
pub mod pointer_constraints;
pub mod presentation_hints;
pub mod primary_selection;
pub mod request_guards;
pub mod seat;
pub mod security_context;
pub mod selection;
pub mod session_lock;
pub mod shortcuts_inhibit;
pub mod single_pixel_buffer;
pub mod text_input;
pub mod virtual_input;
pub mod xdg_foreign;
pub mod xdg_rules;
