//! First-come, first-served queues in front of SKU rows, for PostgreSQL.
//!
//! Every order for a SKU updates that SKU's row. PostgreSQL hands a contended row lock to its
//! waiters in no fixed order (each commit wakes them all and they race for it again), so under
//! load on one hot SKU a few orders wait many turns while most wait one: the p99 latency grows
//! with the number of buyers. Orders of this process queue here instead, in arrival order, and
//! only the head of each queue is ever waiting on the row.
//!
//! SQLite has no use for them: its writers already take turns on one lock (`db::Db`).
//!
//! Deadlocks: an order enters all the gates it needs, in ascending order, before it locks any
//! SKU row, and nothing that waits on a gate holds a SKU row lock. Code that locks SKU rows
//! without gates (cancellations, stock adjustments) never waits on a gate. So no wait cycle can
//! pass through a gate, and PostgreSQL detects any other.
use std::sync::Arc;

use tokio::sync::{Mutex, OwnedMutexGuard};

/// SKUs share gates by id modulo this; two SKUs on one gate only take turns.
const STRIPES: usize = 1024;

pub struct StockGates {
    /// Empty when gates are off.
    stripes: Box<[Arc<Mutex<()>>]>,
}

/// Held gates; dropping it lets the next order in.
pub type GatePass = Vec<OwnedMutexGuard<()>>;

impl StockGates {
    pub fn new(enabled: bool) -> Self {
        let count = if enabled { STRIPES } else { 0 };
        Self {
            stripes: (0..count).map(|_| Arc::new(Mutex::new(()))).collect(),
        }
    }

    /// Waits for the turn of every SKU in `sku_ids`, each gate once, in ascending order.
    pub async fn enter(&self, sku_ids: impl IntoIterator<Item = i64>) -> GatePass {
        let mut pass = GatePass::new();
        for stripe in stripes_in_order(sku_ids, self.stripes.len()) {
            pass.push(self.stripes[stripe].clone().lock_owned().await);
        }
        pass
    }
}

/// The gates of `sku_ids` without repeats, in the one order every caller takes them.
fn stripes_in_order(sku_ids: impl IntoIterator<Item = i64>, stripes: usize) -> Vec<usize> {
    if stripes == 0 {
        return Vec::new();
    }
    let mut out: Vec<usize> = sku_ids
        .into_iter()
        .map(|id| id.rem_euclid(stripes as i64) as usize)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn gates_are_taken_once_each_in_ascending_order() {
        assert_eq!(stripes_in_order([1030, 7, 6, 1031], 1024), vec![6, 7]);
        assert_eq!(stripes_in_order([-1], 1024), vec![1023]);
        assert!(stripes_in_order([1, 2], 0).is_empty());
    }

    #[tokio::test]
    async fn disabled_gates_never_wait() {
        let gates = StockGates::new(false);
        let first = gates.enter([1]).await;
        let second = tokio::time::timeout(Duration::from_secs(1), gates.enter([1])).await;
        assert!(first.is_empty());
        assert!(second.is_ok());
    }

    #[tokio::test]
    async fn orders_for_one_sku_get_in_by_arrival() {
        let gates = Arc::new(StockGates::new(true));
        let held = gates.enter([5]).await;
        let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for n in 0..5 {
            let (gates, order) = (gates.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let _pass = gates.enter([5, 9]).await;
                order.lock().push(n);
            }));
            // Each is queued before the next arrives.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Another SKU's gate is free meanwhile.
        let other = tokio::time::timeout(Duration::from_secs(1), gates.enter([6])).await;
        assert!(other.is_ok());
        drop(held);
        for task in waiting {
            task.await.unwrap();
        }
        assert_eq!(*order.lock(), vec![0, 1, 2, 3, 4]);
    }
}
