//! One value read from the database on first use and kept until an event says it changed: a
//! shop-wide setting that many requests consult and staff rarely change (the default shipping
//! template, the default safety stock). Local commits forget it in their commit hook, other
//! instances' commits through the dispatcher.
use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use parking_lot::RwLock;

pub struct CachedValue<T> {
    slot: RwLock<Option<Arc<T>>>,
    /// Counts `forget`s, so that a value read before a change is not kept after it.
    changes: AtomicU64,
}

impl<T> Default for CachedValue<T> {
    fn default() -> Self {
        Self {
            slot: RwLock::new(None),
            changes: AtomicU64::new(0),
        }
    }
}

impl<T> CachedValue<T> {
    /// The kept value, or the one `load` reads. What `load` read is kept unless the value was
    /// forgotten while it ran: the read may predate that change.
    pub async fn get_or_load<E, F>(&self, load: impl FnOnce() -> F) -> Result<Arc<T>, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        if let Some(v) = self.slot.read().clone() {
            return Ok(v);
        }
        let before = self.changes.load(Ordering::SeqCst);
        let v = Arc::new(load().await?);
        let mut slot = self.slot.write();
        if self.changes.load(Ordering::SeqCst) == before {
            *slot = Some(v.clone());
        }
        Ok(v)
    }

    /// The kept value, without loading, with how many times the value had been forgotten
    /// when it was read; `None` when nothing is kept. A later `forget` moves the count, so the
    /// pair tells a caller whether what it computed from the value is still current.
    pub fn peek(&self) -> Option<(u64, Arc<T>)> {
        let changes = self.changes.load(Ordering::SeqCst);
        self.slot.read().clone().map(|v| (changes, v))
    }

    /// The value changed: the next `get_or_load` reads it again.
    pub fn forget(&self) {
        // Counted first: a load running now must not keep what it read.
        self.changes.fetch_add(1, Ordering::SeqCst);
        *self.slot.write() = None;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    async fn load(reads: &AtomicUsize, value: i32) -> Result<i32, ()> {
        reads.fetch_add(1, Ordering::SeqCst);
        Ok(value)
    }

    #[tokio::test]
    async fn reads_once_until_forgotten() {
        let cached = CachedValue::default();
        let reads = AtomicUsize::new(0);
        assert_eq!(*cached.get_or_load(|| load(&reads, 1)).await.unwrap(), 1);
        assert_eq!(*cached.get_or_load(|| load(&reads, 2)).await.unwrap(), 1);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        cached.forget();
        assert_eq!(*cached.get_or_load(|| load(&reads, 3)).await.unwrap(), 3);
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_value_read_across_a_change_is_used_once_and_not_kept() {
        let cached = CachedValue::default();
        let reads = AtomicUsize::new(0);
        let stale = cached
            .get_or_load(|| async {
                // The change commits while this read is under way.
                cached.forget();
                load(&reads, 1).await
            })
            .await
            .unwrap();
        assert_eq!(*stale, 1);
        assert_eq!(*cached.get_or_load(|| load(&reads, 2)).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_failed_read_keeps_nothing() {
        let cached: CachedValue<i32> = CachedValue::default();
        assert!(cached.get_or_load(|| async { Err(()) }).await.is_err());
        let reads = AtomicUsize::new(0);
        assert_eq!(*cached.get_or_load(|| load(&reads, 5)).await.unwrap(), 5);
    }
}
