//! Protocol handlers that are not a shell, one file per protocol: wl_compositor, wl_shm and
//! the commit path (`compositor`), linux-dmabuf (`dmabuf`), the seat, outputs, selections,
//! viewporter and presentation (`seat`), what clients' buffers wait for before a commit applies
//! (`buffer_readiness`) and when they go back to their clients (`buffer_release`), explicit sync
//! (`explicit_sync`), the window list (`foreign_toplevel_list`), focus handed over by clients
//! (`activation`: xdg-activation), fractional scale
//! (`fractional_scale`), primary selection, pointer
//! constraints and relative pointer, the session lock (`session_lock`), idle notification and
//! inhibition (`idle`), output configuration (`output_management`), screens off and on
//! (`output_power`), and the guards that answer malformed requests before smithay sees them
//! (`request_guards`). Each
//! implements smithay's handler trait on `State` (state.rs holds the state they change).

pub mod activation;
pub mod buffer_readiness;
pub mod buffer_release;
pub mod compositor;
pub mod dmabuf;
pub mod explicit_sync;
pub mod foreign_toplevel_list;
pub mod fractional_scale;
pub mod idle;
pub mod output_management;
pub mod output_power;
pub mod pointer_constraints;
pub mod primary_selection;
pub mod request_guards;
pub mod seat;
pub mod session_lock;
