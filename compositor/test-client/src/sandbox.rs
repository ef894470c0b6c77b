//! A sandbox as a client (`tandem-test-client --sandbox SECONDS`): lists the globals it sees,
//! makes a wp_security_context_v1 listener (engine `org.tandem.test`, app id
//! `org.tandem.Sandboxed`, instance `1`) as Flatpak does for the program it runs, connects
//! through it, lists the globals that sandboxed connection sees, and holds it for SECONDS so
//! that `msg clients` can be read meanwhile. Prints `privileged: NAME...` and
//! `sandboxed: NAME...`, sorted, then `sandbox held`. With `--selection KIND:TEXT`, a sandboxed
//! client without a window tries to set that selection meanwhile (`selection`).

use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::wl_registry::WlRegistry;
use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols::wp::security_context::v1::client::{
    wp_security_context_manager_v1::WpSecurityContextManagerV1,
    wp_security_context_v1::WpSecurityContextV1,
};

/// The sandbox engine, app id and instance the listener is made with.
pub const ENGINE: &str = "org.tandem.test";
pub const APP_ID: &str = "org.tandem.Sandboxed";
pub const INSTANCE: &str = "1";

struct Lister;

impl Dispatch<WlRegistry, GlobalListContents> for Lister {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: wayland_client::protocol::wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

wayland_client::delegate_noop!(Lister: ignore WpSecurityContextManagerV1);
wayland_client::delegate_noop!(Lister: ignore WpSecurityContextV1);

/// The interface names `connection` is offered, sorted and without repeats.
fn interfaces(globals: &wayland_client::globals::GlobalList) -> Vec<String> {
    let mut names: Vec<String> = globals
        .contents()
        .clone_list()
        .into_iter()
        .map(|global| global.interface)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Runs the sandbox: see the module documentation. With `selection` (KIND:TEXT, as
/// `--selection` takes it), a second sandboxed connection, with no window and so no keyboard
/// focus, sets that selection while the sandbox is held.
pub fn run(hold: Duration, selection: Option<&str>) -> Result<(), String> {
    let connection = Connection::connect_to_env().map_err(|e| format!("connect: {e}"))?;
    let (globals, mut queue) =
        registry_queue_init::<Lister>(&connection).map_err(|e| format!("registry: {e}"))?;
    println!("privileged: {}", interfaces(&globals).join(" "));
    let qh = queue.handle();
    let manager: WpSecurityContextManagerV1 = globals
        .bind(&qh, 1..=1, ())
        .map_err(|_| "wp_security_context_manager_v1 is not offered".to_owned())?;

    let directory = std::env::temp_dir().join(format!("tandem-sandbox-{}", std::process::id()));
    std::fs::create_dir_all(&directory).map_err(|e| format!("{}: {e}", directory.display()))?;
    let path = directory.join("wayland");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    // The compositor stops listening once the write end closes: when this process exits.
    let (close_read, _close_write) = rustix::pipe::pipe().map_err(|e| format!("pipe: {e}"))?;
    let context = manager.create_listener(listener.as_fd(), close_read.as_fd(), &qh, ());
    context.set_sandbox_engine(ENGINE.to_owned());
    context.set_app_id(APP_ID.to_owned());
    context.set_instance_id(INSTANCE.to_owned());
    context.commit();
    queue
        .roundtrip(&mut Lister)
        .map_err(|e| format!("roundtrip: {e}"))?;

    let stream = UnixStream::connect(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let sandboxed = Connection::from_socket(stream).map_err(|e| format!("sandboxed: {e}"))?;
    let (sandboxed_globals, _sandboxed_queue) = registry_queue_init::<Lister>(&sandboxed)
        .map_err(|e| format!("sandboxed registry: {e}"))?;
    println!("sandboxed: {}", interfaces(&sandboxed_globals).join(" "));
    let mut setter = match selection {
        Some(selection) => {
            let (kind, text) = selection
                .split_once(':')
                .ok_or_else(|| format!("--selection {selection}: expected KIND:TEXT"))?;
            let stream =
                UnixStream::connect(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut client = crate::TestClient::new(stream);
            client.roundtrip()?;
            let source = client.set_selection(kind, text)?;
            Some((client, source))
        }
        None => None,
    };
    println!("sandbox held");
    let started = std::time::Instant::now();
    while started.elapsed() < hold {
        if let Some((client, _)) = setter.as_mut() {
            client.roundtrip()?;
        }
        std::thread::sleep(Duration::from_millis(50).min(hold));
    }
    let _ = std::fs::remove_dir_all(&directory);
    Ok(())
}
