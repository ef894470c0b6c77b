//! The per-client GPU-memory budget: how much memory Tandem may hold for one client's surfaces.
//!
//! The [`GpuManager`](super::GpuManager) owns one [`Budget`] (the limit, and the clients it does
//! not limit) and hands a [`ClientBudget`] to each import. The import and copy code asks the
//! `ClientBudget` before every allocation it makes for the client (a texture, a pinned buffer, a
//! shadow slot, CPU staging) — a first buffer and every replacement alike — after it dropped
//! what the allocation replaces, so that what the client holds is what the ledger counts now.

use std::collections::HashSet;

use smithay::reexports::wayland_server::backend::ClientId;

use crate::error::TandemError;
use crate::ledger::Ledger;

/// The limit and its exemptions (see the module docs).
#[derive(Default)]
pub(crate) struct Budget {
    limit: Option<u64>,
    /// Clients the budget does not limit: those that show other programs' windows.
    exempt: HashSet<ClientId>,
}

impl Budget {
    pub fn set_limit(&mut self, bytes: Option<u64>) {
        self.limit = bytes;
    }

    pub fn exempt(&mut self, client: ClientId) {
        self.exempt.insert(client);
    }

    pub fn end_exemption(&mut self, client: &ClientId) {
        self.exempt.remove(client);
    }

    /// The budget of `client` (none for memory held for no client, or an exempt one).
    pub fn of(&self, ledger: &Ledger, client: Option<&ClientId>) -> ClientBudget {
        let limit = client
            .filter(|client| !self.exempt.contains(*client))
            .and(self.limit);
        ClientBudget {
            ledger: ledger.clone(),
            client: client.cloned(),
            limit,
        }
    }
}

/// One client's budget, asked before each allocation made for it.
pub(crate) struct ClientBudget {
    ledger: Ledger,
    client: Option<ClientId>,
    limit: Option<u64>,
}

impl ClientBudget {
    /// Fails with [`TandemError::OverBudget`] if the client may not hold `wanted` bytes more
    /// than the ledger counts for it now.
    pub fn allow(&self, wanted: u64) -> Result<(), TandemError> {
        let (Some(budget), Some(client)) = (self.limit, &self.client) else {
            return Ok(());
        };
        let held = self.ledger.client_bytes(client);
        if held.saturating_add(wanted) > budget {
            return Err(TandemError::OverBudget {
                held,
                wanted,
                budget,
            });
        }
        Ok(())
    }
}
