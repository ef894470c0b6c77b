//! Remembered copy-path failures: what failed, why, and when it may be tried again.
//!
//! A failure is keyed by what actually failed: source and target GPU, format, modifier and
//! path, and the client when the failure is its buffer's (a direct import of it, or a shadow
//! slot that could not be made or drawn for it), so that one client's buffer never switches a
//! path off for other clients. A remembered failure only holds the path off for a while: the
//! first for 1 s, each further one twice as long, at most 5 minutes; a success forgets it, and
//! a client's failures go with the client. A lasting one (a target GPU that refuses the shadow
//! slots its source GPU makes: a property of the pair, not of a buffer or a moment) holds the
//! path off until either GPU goes, so that no frame allocates a slot only to see it refused. The [`GpuManager`](super::GpuManager) owns one
//! [`FailureMemory`] and the clock it is read with; the copy code in [`crate::renderer::copy`]
//! asks it and tells it; `GpuManager::path_failures` reports it (the compositor's `msg gpus`
//! shows it).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use smithay::backend::allocator::{Fourcc, Modifier};
use smithay::reexports::wayland_server::backend::ClientId;

use super::GpuId;
use crate::texture::PathKind;

/// How long the first failure holds a path off.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest a path is held off.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What failed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FailureKey {
    pub source: GpuId,
    pub target: GpuId,
    pub fourcc: Fourcc,
    pub modifier: Modifier,
    pub path: PathKind,
    /// The client whose buffer failed, when the failure is the buffer's.
    pub client: Option<ClientId>,
}

struct Remembered {
    reason: String,
    failures: u32,
    /// None: held off for as long as both GPUs stay.
    retry_at: Option<Instant>,
}

/// One remembered failure, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathFailure {
    /// The GPU the buffer lives on.
    pub source: GpuId,
    /// The GPU that was to draw it.
    pub target: GpuId,
    /// The buffer's format.
    pub fourcc: Fourcc,
    /// The buffer's modifier.
    pub modifier: Modifier,
    /// The path that failed.
    pub path: PathKind,
    /// The client whose buffer failed, when the failure was its buffer's.
    pub client: Option<ClientId>,
    /// What failed, as the path said.
    pub reason: String,
    /// Failures in a row.
    pub failures: u32,
    /// How long until the path is tried again (zero: it will be tried on the next copy; none:
    /// not while both GPUs stay).
    pub retry_in: Option<Duration>,
}

/// The failures remembered so far (see the module docs).
#[derive(Default)]
pub(crate) struct FailureMemory {
    entries: HashMap<FailureKey, Remembered>,
}

fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

impl FailureMemory {
    /// Is the path held off at `now`?
    pub fn holds_off(&self, key: &FailureKey, now: Instant) -> bool {
        self.entries
            .get(key)
            .is_some_and(|r| r.retry_at.is_none_or(|at| now < at))
    }

    /// Has the path failed before (held off or not)?
    pub fn remembers(&self, key: &FailureKey) -> bool {
        self.entries.contains_key(key)
    }

    /// Remembers a failure at `now`; true when this key had no failure remembered.
    pub fn record(&mut self, key: FailureKey, reason: String, now: Instant) -> bool {
        self.remember(key, reason, Some(now))
    }

    /// Remembers a failure that holds the path off until either GPU goes; true when this key
    /// had no failure remembered.
    pub fn record_lasting(&mut self, key: FailureKey, reason: String) -> bool {
        self.remember(key, reason, None)
    }

    fn remember(&mut self, key: FailureKey, reason: String, now: Option<Instant>) -> bool {
        let entry = self.entries.entry(key).or_insert(Remembered {
            reason: String::new(),
            failures: 0,
            retry_at: now,
        });
        entry.failures += 1;
        entry.reason = reason;
        entry.retry_at = now.map(|now| now + backoff(entry.failures));
        entry.failures == 1
    }

    /// The path worked: its failures are forgotten.
    pub fn succeeded(&mut self, key: &FailureKey) {
        self.entries.remove(key);
    }

    /// Is any failure remembered for a client's buffer?
    pub fn has_client_failures(&self) -> bool {
        self.entries.keys().any(|key| key.client.is_some())
    }

    /// Forgets the failures of clients that `live` does not list (they left).
    pub fn forget_clients_except(&mut self, live: &[ClientId]) {
        self.entries
            .retain(|key, _| key.client.as_ref().is_none_or(|c| live.contains(c)));
    }

    /// Forgets the failures of `client`'s buffers (it left).
    pub fn forget_client(&mut self, client: &ClientId) {
        self.entries
            .retain(|key, _| key.client.as_ref() != Some(client));
    }

    /// Forgets every failure involving `gpu` (it left).
    pub fn forget_gpu(&mut self, gpu: GpuId) {
        self.entries
            .retain(|key, _| key.source != gpu && key.target != gpu);
    }

    /// Every remembered failure, as of `now`.
    pub fn list(&self, now: Instant) -> Vec<PathFailure> {
        self.entries
            .iter()
            .map(|(key, remembered)| PathFailure {
                source: key.source,
                target: key.target,
                fourcc: key.fourcc,
                modifier: key.modifier,
                path: key.path,
                client: key.client.clone(),
                reason: remembered.reason.clone(),
                failures: remembered.failures,
                retry_in: remembered
                    .retry_at
                    .map(|at| at.saturating_duration_since(now)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(modifier: Modifier, path: PathKind) -> FailureKey {
        FailureKey {
            source: GpuId::Software(1),
            target: GpuId::Software(0),
            fourcc: Fourcc::Argb8888,
            modifier,
            path,
            client: None,
        }
    }

    #[test]
    fn a_failure_holds_off_only_its_own_modifier_and_path() {
        let mut memory = FailureMemory::default();
        let now = Instant::now();
        let odd = key(Modifier::from(0x0100_0000_0000_0001), PathKind::Native);
        memory.record(odd.clone(), "refused".into(), now);
        assert!(memory.holds_off(&odd, now));
        assert!(!memory.holds_off(&key(Modifier::Linear, PathKind::Native), now));
        assert!(!memory.holds_off(
            &key(Modifier::from(0x0100_0000_0000_0001), PathKind::Shadow),
            now
        ));
    }

    #[test]
    fn a_lasting_failure_holds_off_until_a_gpu_goes() {
        let mut memory = FailureMemory::default();
        let start = Instant::now();
        let slot = key(Modifier::Linear, PathKind::Shadow);
        assert!(memory.record_lasting(slot.clone(), "refused".into()));
        assert!(memory.holds_off(&slot, start + MAX_BACKOFF * 10));
        assert_eq!(memory.list(start)[0].retry_in, None);
        memory.forget_gpu(GpuId::Software(0));
        assert!(!memory.holds_off(&slot, start));
    }

    #[test]
    fn a_failure_expires_and_each_further_one_holds_off_twice_as_long() {
        let mut memory = FailureMemory::default();
        let start = Instant::now();
        let slot = key(Modifier::Linear, PathKind::Shadow);
        assert!(memory.record(slot.clone(), "no memory".into(), start));
        assert!(memory.holds_off(&slot, start + Duration::from_millis(999)));
        assert!(!memory.holds_off(&slot, start + Duration::from_secs(1)));
        let again = start + Duration::from_secs(1);
        assert!(!memory.record(slot.clone(), "no memory".into(), again));
        assert!(memory.holds_off(&slot, again + Duration::from_millis(1999)));
        assert!(!memory.holds_off(&slot, again + Duration::from_secs(2)));
        for _ in 0..30 {
            memory.record(slot.clone(), "no memory".into(), again);
        }
        let listed = memory.list(again);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].failures, 32);
        assert_eq!(listed[0].retry_in, Some(MAX_BACKOFF), "capped");
        memory.succeeded(&slot);
        assert!(!memory.holds_off(&slot, again));
        assert!(memory.list(again).is_empty());
    }

    #[test]
    fn a_clients_buffer_failure_does_not_hold_off_other_clients() {
        let mut memory = FailureMemory::default();
        let now = Instant::now();
        let display = smithay::reexports::wayland_server::Display::<()>::new().expect("display");
        let (a, _) = std::os::unix::net::UnixStream::pair().expect("pair");
        let (b, _) = std::os::unix::net::UnixStream::pair().expect("pair");
        let mut handle = display.handle();
        let data = || std::sync::Arc::new(NoData);
        let first = handle.insert_client(a, data()).expect("client").id();
        let second = handle.insert_client(b, data()).expect("client").id();
        let of = |client: &ClientId| FailureKey {
            client: Some(client.clone()),
            ..key(Modifier::Linear, PathKind::Native)
        };
        memory.record(of(&first), "odd buffer".into(), now);
        assert!(memory.holds_off(&of(&first), now));
        assert!(!memory.holds_off(&of(&second), now));

        memory.record(of(&second), "odd buffer".into(), now);
        memory.record(
            key(Modifier::Linear, PathKind::Shadow),
            "no slot".into(),
            now,
        );
        memory.forget_clients_except(std::slice::from_ref(&second));
        assert!(!memory.remembers(&of(&first)), "the client left");
        assert!(memory.remembers(&of(&second)));
        memory.forget_client(&second);
        assert!(!memory.has_client_failures());
        assert!(
            memory.remembers(&key(Modifier::Linear, PathKind::Shadow)),
            "a failure of the path itself stays"
        );
    }

    struct NoData;
    impl smithay::reexports::wayland_server::backend::ClientData for NoData {}
}
