//! Reading orders: the filtered, keyset-paginated lists for buyers and staff, and counts per
//! status computed by the database (`GROUP BY`), not by loading rows.
use std::sync::Arc;

use async_graphql::Enum;
use chrono::{DateTime, Utc};
use entity::order;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Select,
    sea_query::{Expr, LikeExpr},
};

use super::{
    cache::CachedOrder,
    rules::{OrderSource, OrderStatus},
};
use crate::{
    app::AppState,
    error::AppError,
    graphql::relay::{self, RowPage, Window},
};

/// Which orders a list shows. Empty `statuses`: every status.
#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    pub statuses: Vec<OrderStatus>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub source: Option<OrderSource>,
    pub distributor_id: Option<i64>,
    pub keyword: Option<String>,
    /// Only this buyer's orders.
    pub buyer_id: Option<i64>,
}

/// The order of an order list.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderSort {
    /// Most recently placed first.
    Newest,
    /// Earliest placed first.
    Oldest,
}

/// `LIKE` text matching `needle` anywhere, with the pattern characters escaped.
fn contains_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn like(pattern: &str) -> LikeExpr {
    LikeExpr::new(pattern).escape('\\')
}

impl OrderFilter {
    /// The filter as a query, leaving out `statuses` when `with_statuses` is false (counts
    /// per status ignore it).
    fn select(&self, with_statuses: bool) -> Select<order::Entity> {
        let mut q = order::Entity::find();
        if let Some(b) = self.buyer_id {
            q = q.filter(order::Column::UserId.eq(b));
        }
        if with_statuses && !self.statuses.is_empty() {
            q = q.filter(order::Column::Status.is_in(self.statuses.iter().map(|s| s.as_str())));
        }
        if let Some(f) = self.from {
            q = q.filter(order::Column::CreatedAt.gte(f));
        }
        if let Some(t) = self.to {
            q = q.filter(order::Column::CreatedAt.lt(t));
        }
        if let Some(s) = self.source {
            q = q.filter(order::Column::Source.eq(s.as_str()));
        }
        if let Some(d) = self.distributor_id {
            q = q.filter(order::Column::DistributorUserId.eq(d));
        }
        if let Some(k) = self
            .keyword
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            let k: String = k.chars().take(64).collect();
            let pattern = contains_pattern(&k);
            q = q.filter(
                Condition::any()
                    .add(order::Column::OrderNo.like(like(&pattern)))
                    .add(order::Column::Phone.like(like(&pattern)))
                    .add(order::Column::Recipient.like(like(&pattern))),
            );
        }
        q
    }
}

/// One page of orders, and the revisions of their buyers.
pub struct OrderPage {
    pub orders: RowPage<Arc<CachedOrder>>,
    /// `(user id, revision)` of each order's buyer, in page order, for
    /// `accounts::cache::current`.
    pub buyers: Vec<(i64, i64)>,
}

/// `(order id, revision, buyer id, buyer's revision)`; the buyer's is `None` if the user is gone.
type OrderKeys = (i64, i64, i64, Option<i64>);

/// One page of orders: their ids and revisions (and their buyers') from the database, the
/// orders themselves from the order cache (read for those it does not hold at that revision).
pub async fn page(
    app: &AppState,
    filter: &OrderFilter,
    sort: OrderSort,
    window: Window,
) -> Result<OrderPage, AppError> {
    let db = app.db.conn();
    let keys = relay::page_of_keys(
        db,
        filter.select(true),
        order::Column::Id,
        sort == OrderSort::Newest,
        window,
        |q| {
            q.column(order::Column::Id)
                .column(order::Column::Revision)
                .column(order::Column::UserId)
                .column_as(
                    Expr::cust(
                        r#"(SELECT "users"."revision" FROM "users" WHERE "users"."id" = "orders"."user_id")"#,
                    ),
                    "buyer_revision",
                )
        },
        |k: &OrderKeys| k.0,
    )
    .await?;
    let versions: Vec<(i64, i64)> = keys.rows.iter().map(|k| (k.0, k.1)).collect();
    let buyers = keys.rows.iter().filter_map(|k| Some((k.2, k.3?))).collect();
    let orders = super::cache::current(&app.orders, db, &versions).await?;
    Ok(OrderPage {
        orders: keys.with_rows(orders, |o| o.order.id),
        buyers,
    })
}

/// Orders per status under `filter` (its statuses ignored).
pub async fn counts(
    db: &DatabaseConnection,
    filter: &OrderFilter,
) -> Result<Vec<(OrderStatus, i64)>, AppError> {
    let rows: Vec<(String, i64)> = filter
        .select(false)
        .select_only()
        .column(order::Column::Status)
        .column_as(order::Column::Id.count(), "n")
        .group_by(order::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, n)| OrderStatus::parse(&s).map(|s| (s, n)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("138"), "%138%");
        assert_eq!(contains_pattern("5%_\\"), "%5\\%\\_\\\\%");
    }
}
