//! Orders kept decoded in memory, each with its lines, and trusted only while the database's
//! revision of the order is the one they were read at (`crate::revision_cache`).
//!
//! Lists ask the database for `(id, revision)` of the page alone and read whole rows only for
//! orders that are new here or changed. The database raises an order's revision on every change
//! to the order or its lines (triggers, see `entity::order::Model::revision`).
use std::{collections::HashMap, sync::Arc};

use entity::{order, order_line};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    error::AppError,
    revision_cache::{RevisionCache, Revisioned},
};

/// An order as read at `order.revision`, with its lines in id order.
pub struct CachedOrder {
    pub order: Arc<order::Model>,
    pub lines: Arc<Vec<order_line::Model>>,
}

/// Orders by id, each as read at its revision.
pub type OrderCache = RevisionCache<CachedOrder>;

impl Revisioned for CachedOrder {
    fn id(&self) -> i64 {
        self.order.id
    }
    fn revision(&self) -> i64 {
        self.order.revision
    }
}

/// The orders `wanted` names by `(id, revision)`, in that order: kept ones whose revision is
/// still current, and the others read now (two statements, however many). An order that no
/// longer exists is left out.
pub async fn current(
    cache: &OrderCache,
    conn: &impl ConnectionTrait,
    wanted: &[(i64, i64)],
) -> Result<Vec<Arc<CachedOrder>>, AppError> {
    cache.current(wanted, |ids| read(conn, ids)).await
}

/// Orders and their lines as they are now. The orders are read first: lines read after them
/// are at least as new as the revision the order says, so a line older than that revision is
/// never kept under it (newer lines under an older revision are only read again next time).
async fn read(conn: &impl ConnectionTrait, ids: Vec<i64>) -> Result<Vec<CachedOrder>, AppError> {
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
