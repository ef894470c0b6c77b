//! Selections as a client. `tandem-test-client --selection KIND:TEXT` sets the clipboard
//! (wl_data_device), the primary selection (zwp_primary_selection) or GTK's primary selection
//! (gtk_primary_selection) to TEXT, offered as `text/plain;charset=utf-8`, once its windows are
//! up (with `--windows 0`, without the keyboard focus); `--gtk-paste` reads every primary
//! selection its gtk_primary_selection device is offered. Prints "selection: set KIND",
//! "selection: sent MIME", "selection: cancelled" and "gtk paste: TEXT" lines, which tests
//! read.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use wayland_client::protocol::wl_data_device::{self, WlDataDevice};
use wayland_client::protocol::wl_data_device_manager::WlDataDeviceManager;
use wayland_client::protocol::wl_data_offer::WlDataOffer;
use wayland_client::protocol::wl_data_source::{self, WlDataSource};
use wayland_client::{event_created_child, Connection, Dispatch, QueueHandle};
use wayland_protocols::wp::primary_selection::zv1::client::{
    zwp_primary_selection_device_manager_v1::ZwpPrimarySelectionDeviceManagerV1,
    zwp_primary_selection_device_v1::{self, ZwpPrimarySelectionDeviceV1},
    zwp_primary_selection_offer_v1::ZwpPrimarySelectionOfferV1,
    zwp_primary_selection_source_v1::{self, ZwpPrimarySelectionSourceV1},
};
use wayland_protocols_misc::gtk_primary_selection::client::{
    gtk_primary_selection_device::{self, GtkPrimarySelectionDevice},
    gtk_primary_selection_device_manager::GtkPrimarySelectionDeviceManager,
    gtk_primary_selection_offer::{self, GtkPrimarySelectionOffer},
    gtk_primary_selection_source::{self, GtkPrimarySelectionSource},
};

use crate::{Globals, TestClient};

/// The one type every selection set here offers, and the one `--gtk-paste` reads.
pub const TEXT_MIME: &str = "text/plain;charset=utf-8";

/// What a selection set here holds; dropping it leaves the source to the compositor.
pub enum SelectionSource {
    Clipboard(WlDataSource, WlDataDevice),
    Primary(ZwpPrimarySelectionSourceV1, ZwpPrimarySelectionDeviceV1),
    Gtk(GtkPrimarySelectionSource, GtkPrimarySelectionDevice),
}

/// Writes `text` into the pipe a reader handed over.
fn serve(mime: &str, fd: OwnedFd, text: &str) {
    println!("selection: sent {mime}");
    let mut pipe = std::fs::File::from(fd);
    let _ = pipe.write_all(text.as_bytes());
}

/// Reads what the source writes into a pipe this client handed over, on a thread, then
/// prints it.
fn read_pipe(read: OwnedFd) {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::fs::File::from(read).read_to_string(&mut text);
        println!("gtk paste: {text}");
    });
}

impl Dispatch<WlDataSource, String> for Globals {
    fn event(
        _: &mut Self,
        _: &WlDataSource,
        event: wl_data_source::Event,
        text: &String,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_data_source::Event::Send { mime_type, fd } => serve(&mime_type, fd, text),
            wl_data_source::Event::Cancelled => println!("selection: cancelled"),
            _ => {}
        }
    }
}

impl Dispatch<ZwpPrimarySelectionSourceV1, String> for Globals {
    fn event(
        _: &mut Self,
        _: &ZwpPrimarySelectionSourceV1,
        event: zwp_primary_selection_source_v1::Event,
        text: &String,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwp_primary_selection_source_v1::Event::Send { mime_type, fd } => {
                serve(&mime_type, fd, text)
            }
            zwp_primary_selection_source_v1::Event::Cancelled => println!("selection: cancelled"),
            _ => {}
        }
    }
}

impl Dispatch<GtkPrimarySelectionSource, String> for Globals {
    fn event(
        _: &mut Self,
        _: &GtkPrimarySelectionSource,
        event: gtk_primary_selection_source::Event,
        text: &String,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            gtk_primary_selection_source::Event::Send { mime_type, fd } => {
                serve(&mime_type, fd, text)
            }
            gtk_primary_selection_source::Event::Cancelled => println!("selection: cancelled"),
            _ => {}
        }
    }
}

impl Dispatch<WlDataDevice, ()> for Globals {
    fn event(
        _: &mut Self,
        _: &WlDataDevice,
        _: wl_data_device::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }

    event_created_child!(Globals, WlDataDevice, [
        wl_data_device::EVT_DATA_OFFER_OPCODE => (WlDataOffer, ()),
    ]);
}

impl Dispatch<ZwpPrimarySelectionDeviceV1, ()> for Globals {
    fn event(
        _: &mut Self,
        _: &ZwpPrimarySelectionDeviceV1,
        _: zwp_primary_selection_device_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }

    event_created_child!(Globals, ZwpPrimarySelectionDeviceV1, [
        zwp_primary_selection_device_v1::EVT_DATA_OFFER_OPCODE => (ZwpPrimarySelectionOfferV1, ()),
    ]);
}

/// A gtk device that reads every selection it is offered when `reads` is true.
impl Dispatch<GtkPrimarySelectionDevice, bool> for Globals {
    fn event(
        _: &mut Self,
        _: &GtkPrimarySelectionDevice,
        event: gtk_primary_selection_device::Event,
        reads: &bool,
        connection: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let gtk_primary_selection_device::Event::Selection { id: Some(offer) } = event else {
            return;
        };
        if !*reads {
            return;
        }
        let Ok((read, write)) = rustix::pipe::pipe() else {
            return;
        };
        offer.receive(TEXT_MIME.to_owned(), write.as_fd());
        let _ = connection.flush();
        drop(write);
        read_pipe(read);
    }

    event_created_child!(Globals, GtkPrimarySelectionDevice, [
        gtk_primary_selection_device::EVT_DATA_OFFER_OPCODE => (GtkPrimarySelectionOffer, ()),
    ]);
}

impl Dispatch<GtkPrimarySelectionOffer, ()> for Globals {
    fn event(
        _: &mut Self,
        _: &GtkPrimarySelectionOffer,
        event: gtk_primary_selection_offer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let gtk_primary_selection_offer::Event::Offer { mime_type } = event {
            println!("gtk offer: {mime_type}");
        }
    }
}

wayland_client::delegate_noop!(Globals: ignore WlDataOffer);
wayland_client::delegate_noop!(Globals: ignore ZwpPrimarySelectionOfferV1);
wayland_client::delegate_noop!(Globals: WlDataDeviceManager);
wayland_client::delegate_noop!(Globals: ZwpPrimarySelectionDeviceManagerV1);
wayland_client::delegate_noop!(Globals: GtkPrimarySelectionDeviceManager);

impl TestClient {
    /// Sets the selection `kind` (`clipboard`, `primary` or `gtk`) to `text`, with serial 0,
    /// as a clipboard tool does. Fails when its protocol is not offered.
    pub fn set_selection(&mut self, kind: &str, text: &str) -> Result<SelectionSource, String> {
        let seat = self.bind_seat()?;
        let qh = self.qh();
        let text = text.to_owned();
        let source = match kind {
            "clipboard" => {
                let manager: WlDataDeviceManager = self.bind_named("wl_data_device_manager", 3)?;
                let device = manager.get_data_device(&seat, &qh, ());
                let source = manager.create_data_source(&qh, text);
                source.offer(TEXT_MIME.to_owned());
                device.set_selection(Some(&source), 0);
                SelectionSource::Clipboard(source, device)
            }
            "primary" => {
                let manager: ZwpPrimarySelectionDeviceManagerV1 =
                    self.bind_named("zwp_primary_selection_device_manager_v1", 1)?;
                let device = manager.get_device(&seat, &qh, ());
                let source = manager.create_source(&qh, text);
                source.offer(TEXT_MIME.to_owned());
                device.set_selection(Some(&source), 0);
                SelectionSource::Primary(source, device)
            }
            "gtk" => {
                let manager: GtkPrimarySelectionDeviceManager =
                    self.bind_named("gtk_primary_selection_device_manager", 1)?;
                let device = manager.get_device(&seat, &qh, false);
                let source = manager.create_source(&qh, text);
                source.offer(TEXT_MIME.to_owned());
                device.set_selection(Some(&source), 0);
                SelectionSource::Gtk(source, device)
            }
            other => {
                return Err(format!(
                    "--selection {other}: expected clipboard, primary or gtk"
                ))
            }
        };
        self.roundtrip()?;
        println!("selection: set {kind}");
        Ok(source)
    }

    /// A gtk_primary_selection device that reads every selection it is offered.
    pub fn gtk_paste(&mut self) -> Result<GtkPrimarySelectionDevice, String> {
        let seat = self.bind_seat()?;
        let qh = self.qh();
        let manager: GtkPrimarySelectionDeviceManager =
            self.bind_named("gtk_primary_selection_device_manager", 1)?;
        Ok(manager.get_device(&seat, &qh, true))
    }
}
