//! IPC over a Unix socket in XDG_RUNTIME_DIR: `server` answers inside the compositor's event
//! loop (each connection read and written without blocking it by `connection`), `client` is what
//! `tandem-compositor msg` uses, `messages` is the JSON both speak.

pub mod client;
mod connection;
pub mod messages;
pub mod server;
