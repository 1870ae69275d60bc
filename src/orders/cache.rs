//! Orders kept decoded in memory, each with its lines, and trusted only while the database's
//! revision of the order is the one they were read at.
//!
//! Lists ask the database for `(id, revision)` of the page alone and read whole rows only for
//! orders that are new here or changed. The database raises an order's revision on every change
//! to the order or its lines (triggers, see `entity::order::Model::revision`), so this holds
//! with any number of instances writing, and no write path has to tell the cache anything.
use std::{collections::HashMap, sync::Arc};

use entity::{order, order_line};
use parking_lot::RwLock;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::error::AppError;

/// An order as read at `order.revision`, with its lines in id order.
pub struct CachedOrder {
    pub order: Arc<order::Model>,
    pub lines: Arc<Vec<order_line::Model>>,
}

pub struct OrderCache {
    entries: RwLock<HashMap<i64, Arc<CachedOrder>>>,
    /// Most orders kept; 0 keeps none.
    capacity: usize,
}

impl OrderCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// The orders `wanted` names by `(id, revision)`, in that order: kept ones whose revision is
    /// still current, and the others read now (two statements, however many). An order that no
    /// longer exists is left out.
    pub async fn current(
        &self,
        conn: &impl ConnectionTrait,
        wanted: &[(i64, i64)],
    ) -> Result<Vec<Arc<CachedOrder>>, AppError> {
        let mut found: HashMap<i64, Arc<CachedOrder>> = HashMap::with_capacity(wanted.len());
        let mut missing = Vec::new();
        {
            let entries = self.entries.read();
            for &(id, revision) in wanted {
                match entries.get(&id) {
                    Some(c) if c.order.revision == revision => {
                        found.insert(id, c.clone());
                    }
                    _ => missing.push(id),
                }
            }
        }
        if !missing.is_empty() {
            for c in read(conn, &missing).await? {
                found.insert(c.order.id, self.keep(c));
            }
        }
        Ok(wanted
            .iter()
            .filter_map(|(id, _)| found.remove(id))
            .collect())
    }

    /// Keeps `c` unless a newer revision of the order is kept already (a reader that read
    /// earlier and finished later); returns what is kept.
    fn keep(&self, c: CachedOrder) -> Arc<CachedOrder> {
        let c = Arc::new(c);
        if self.capacity == 0 {
            return c;
        }
        let mut entries = self.entries.write();
        if let Some(kept) = entries.get(&c.order.id)
            && kept.order.revision > c.order.revision
        {
            return kept.clone();
        }
        if entries.len() >= self.capacity && !entries.contains_key(&c.order.id) {
            evict_oldest_half(&mut entries);
        }
        entries.insert(c.order.id, c.clone());
        c
    }

    pub fn len(&self) -> usize {
        self.entries.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops the half with the lowest ids: the oldest orders, which lists reach least often.
fn evict_oldest_half(entries: &mut HashMap<i64, Arc<CachedOrder>>) {
    let mut ids: Vec<i64> = entries.keys().copied().collect();
    let half = ids.len() / 2;
    ids.select_nth_unstable(half);
    let cut = ids[half];
    entries.retain(|id, _| *id >= cut);
}

/// Orders and their lines as they are now. The orders are read first: lines read after them
/// are at least as new as the revision the order says, so a line older than that revision is
/// never kept under it (newer lines under an older revision are only read again next time).
async fn read(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<CachedOrder>, AppError> {
    let orders = order::Entity::find()
        .filter(order::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    let mut lines: HashMap<i64, Vec<order_line::Model>> = HashMap::new();
    for line in order_line::Entity::find()
        .filter(order_line::Column::OrderId.is_in(ids.iter().copied()))
        .order_by_asc(order_line::Column::Id)
        .all(conn)
        .await?
    {
        lines.entry(line.order_id).or_default().push(line);
    }
    Ok(orders
        .into_iter()
        .map(|o| CachedOrder {
            lines: Arc::new(lines.remove(&o.id).unwrap_or_default()),
            order: Arc::new(o),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(id: i64, revision: i64) -> Arc<CachedOrder> {
        let now = chrono::Utc::now();
        Arc::new(CachedOrder {
            order: Arc::new(order::Model {
                id,
                order_no: format!("N{id}"),
                user_id: 1,
                status: "SUBMITTED".into(),
                status_before_refund: None,
                source: "DIRECT".into(),
                distributor_user_id: None,
                share_code: None,
                referral_chain: "[]".into(),
                commission_rule_version: None,
                items_total_fen: 0,
                member_discount_fen: 0,
                promotion_discount_fen: 0,
                coupon_discount_fen: 0,
                points_discount_fen: 0,
                shipping_fee_fen: 0,
                pay_amount_fen: 0,
                refunded_fen: 0,
                points_used: 0,
                recipient: String::new(),
                phone: String::new(),
                province: String::new(),
                city: String::new(),
                district: String::new(),
                address_detail: String::new(),
                buyer_note: None,
                staff_note: None,
                payment_status: "UNPAID".into(),
                payment_provider: None,
                paid_at: None,
                approved_at: None,
                shipped_at: None,
                delivered_at: None,
                completed_at: None,
                cancelled_at: None,
                cancel_reason: None,
                expires_at: None,
                pricing: "[]".into(),
                created_at: now,
                updated_at: now,
                revision,
            }),
            lines: Arc::default(),
        })
    }

    #[test]
    fn eviction_keeps_the_newest_orders() {
        let mut entries: HashMap<i64, Arc<CachedOrder>> =
            (1..=10).map(|id| (id, cached(id, 0))).collect();
        evict_oldest_half(&mut entries);
        let mut kept: Vec<i64> = entries.keys().copied().collect();
        kept.sort_unstable();
        assert_eq!(kept, vec![6, 7, 8, 9, 10]);
    }

    #[test]
    fn an_older_revision_never_replaces_a_newer_one() {
        let cache = OrderCache::new(10);
        let newer = cache.keep(Arc::into_inner(cached(7, 3)).unwrap());
        let kept = cache.keep(Arc::into_inner(cached(7, 2)).unwrap());
        assert_eq!(kept.order.revision, 3);
        assert!(Arc::ptr_eq(&kept, &newer));
        let later = cache.keep(Arc::into_inner(cached(7, 4)).unwrap());
        assert_eq!(later.order.revision, 4);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_full_cache_makes_room_and_capacity_zero_keeps_nothing() {
        let cache = OrderCache::new(4);
        for id in 1..=5 {
            cache.keep(Arc::into_inner(cached(id, 0)).unwrap());
        }
        assert!(cache.len() <= 4);
        assert!(cache.entries.read().contains_key(&5));
        let off = OrderCache::new(0);
        off.keep(Arc::into_inner(cached(1, 0)).unwrap());
        assert!(off.is_empty());
    }
}
