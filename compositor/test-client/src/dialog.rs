//! Dialogs as a client: `tandem-test-client --export-first` exports its first window through
//! xdg-foreign v2 and prints `exported HANDLE`; `--parent-handle HANDLE` imports another
//! client's window and makes it the parent of each of its own windows; `--dialog` makes each
//! window after the first a dialog of the first (xdg_toplevel.set_parent).

use wayland_client::protocol::wl_surface::WlSurface;
use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols::xdg::foreign::zv2::client::{
    zxdg_exported_v2::{self, ZxdgExportedV2},
    zxdg_exporter_v2::ZxdgExporterV2,
    zxdg_imported_v2::ZxdgImportedV2,
    zxdg_importer_v2::ZxdgImporterV2,
};

use crate::image_copy::Shared;
use crate::{Globals, TestClient};

impl Dispatch<ZxdgExportedV2, Shared<Option<String>>> for Globals {
    fn event(
        _: &mut Self,
        _: &ZxdgExportedV2,
        event: zxdg_exported_v2::Event,
        handle: &Shared<Option<String>>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zxdg_exported_v2::Event::Handle { handle: name } = event {
            handle.with(|handle| *handle = Some(name));
        }
    }
}

wayland_client::delegate_noop!(Globals: ZxdgExporterV2);
wayland_client::delegate_noop!(Globals: ZxdgImporterV2);
wayland_client::delegate_noop!(Globals: ignore ZxdgImportedV2);

impl TestClient {
    /// Binds the global `interface` (at most `version`); fails when it is not offered.
    pub fn bind_named<I>(&mut self, interface: &str, version: u32) -> Result<I, String>
    where
        I: wayland_client::Proxy + 'static,
        Globals: Dispatch<I, ()>,
    {
        let registry = self.globals.registry.clone().ok_or("no registry")?;
        let (name, offered) = self
            .globals
            .named_globals
            .iter()
            .find(|(known, _, _)| known == interface)
            .map(|(_, name, offered)| (*name, *offered))
            .ok_or_else(|| format!("{interface} is not offered"))?;
        Ok(registry.bind(name, version.min(offered), &self.qh(), ()))
    }

    /// Exports `surface`'s toplevel; returns its handle and the export, which lasts as long
    /// as the object.
    pub fn export_window(
        &mut self,
        surface: &WlSurface,
    ) -> Result<(String, ZxdgExportedV2), String> {
        let exporter: ZxdgExporterV2 = self.bind_named("zxdg_exporter_v2", 1)?;
        let handle = Shared::<Option<String>>::default();
        let exported = exporter.export_toplevel(surface, &self.qh(), handle.clone());
        self.roundtrip()?;
        let name = handle
            .with(|handle| handle.take())
            .ok_or("zxdg_exported_v2 sent no handle")?;
        Ok((name, exported))
    }

    /// Imports the window `handle` names and makes it the parent of each of `surfaces`.
    pub fn import_parent(
        &mut self,
        handle: &str,
        surfaces: &[&WlSurface],
    ) -> Result<ZxdgImportedV2, String> {
        let importer: ZxdgImporterV2 = self.bind_named("zxdg_importer_v2", 1)?;
        let imported = importer.import_toplevel(handle.to_owned(), &self.qh(), ());
        for surface in surfaces {
            imported.set_parent_of(surface);
        }
        self.roundtrip()?;
        Ok(imported)
    }
}
