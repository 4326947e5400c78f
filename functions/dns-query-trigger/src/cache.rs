//! The registry the warm process holds between invocations, and the clock its age is
//! read on (injectable, so that the TTL and the unknown-label refresh are tested
//! without waiting).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cm_core::fake::lock;

use crate::decide::Registry;

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The process's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The last registry read, and when it was read. Invocations of one Lambda process
/// come one at a time; the lock is never held across a call.
#[derive(Debug, Default)]
pub struct RegistryCache {
    held: Mutex<Option<(Instant, Arc<Registry>)>>,
}

impl RegistryCache {
    /// The registry held and its age at `now`.
    pub fn get(&self, now: Instant) -> Option<(Arc<Registry>, Duration)> {
        lock(&self.held)
            .as_ref()
            .map(|(read_at, registry)| (registry.clone(), now.saturating_duration_since(*read_at)))
    }

    /// Keeps `registry`, read at `read_at`.
    pub fn put(&self, read_at: Instant, registry: Arc<Registry>) {
        *lock(&self.held) = Some((read_at, registry));
    }
}
