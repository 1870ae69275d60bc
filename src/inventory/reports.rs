//! Stock reports, computed by the database: the movement ledger with filters (also as CSV),
//! units sold per SKU per day, and stock valuation.
use chrono::{DateTime, NaiveDate, Utc};
use entity::stock_movement;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, Statement,
};

use super::rules::StockReason;
use crate::error::AppError;

/// Which movements to list.
#[derive(Clone, Debug, Default)]
pub struct MovementFilter {
    pub sku_id: Option<i64>,
    pub product_id: Option<i64>,
    pub reason: Option<StockReason>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl MovementFilter {
    pub fn select(&self) -> Select<stock_movement::Entity> {
        let mut q = stock_movement::Entity::find();
        if let Some(s) = self.sku_id {
            q = q.filter(stock_movement::Column::SkuId.eq(s));
        }
        if let Some(p) = self.product_id {
            q = q.filter(stock_movement::Column::ProductId.eq(p));
        }
        if let Some(r) = self.reason {
            q = q.filter(stock_movement::Column::Reason.eq(r.as_str()));
        }
        if let Some(f) = self.from {
            q = q.filter(stock_movement::Column::CreatedAt.gte(f));
        }
        if let Some(t) = self.to {
            q = q.filter(stock_movement::Column::CreatedAt.lt(t));
        }
        q
    }
}

/// Most rows one CSV export carries.
pub const CSV_MAX_ROWS: u64 = 100_000;

pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The filtered ledger as CSV (newest first), with a header row.
pub async fn movements_csv(
    conn: &impl ConnectionTrait,
    filter: &MovementFilter,
) -> Result<String, AppError> {
    let rows = filter
        .select()
        .order_by_desc(stock_movement::Column::Id)
        .limit(CSV_MAX_ROWS)
        .all(conn)
        .await?;
    let mut out = String::from(
        "id,time,sku_id,product_id,reason,reference,delta,balance_after,actor_user_id,note\n",
    );
    for m in rows {
        let line = [
            m.id.to_string(),
            m.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            m.sku_id.to_string(),
            m.product_id.to_string(),
            m.reason,
            m.reference.unwrap_or_default(),
            m.delta.to_string(),
            m.balance_after.to_string(),
            m.actor_user_id.map(|a| a.to_string()).unwrap_or_default(),
            m.note.unwrap_or_default(),
        ]
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

/// The SQL for "the business day of `created_at`" (the shop's local date, a fixed UTC offset:
/// China has no daylight saving).
fn local_day_sql(backend: DatabaseBackend, offset_hours: i32) -> String {
    match backend {
        DatabaseBackend::Postgres => {
            format!(
                "to_char((created_at AT TIME ZONE 'UTC') + interval '{offset_hours} hours', 'YYYY-MM-DD')"
            )
        }
        _ => format!("strftime('%Y-%m-%d', created_at, '{offset_hours:+} hours')"),
    }
}

/// Units sold of a SKU per business day over the last `days` days (reservations minus
/// releases), days without sales included as zero.
pub async fn daily_sales(
    conn: &impl ConnectionTrait,
    sku_id: i64,
    days: u32,
    offset_hours: i32,
    today: NaiveDate,
) -> Result<Vec<(NaiveDate, i64)>, AppError> {
    let first = today - chrono::Duration::days(i64::from(days) - 1);
    let since = first.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
        - chrono::Duration::hours(i64::from(offset_hours));
    let backend = conn.get_database_backend();
    let day = local_day_sql(backend, offset_hours);
    let (p1, p2, p3, p4) = match backend {
        DatabaseBackend::Postgres => ("$1", "$2", "$3", "$4"),
        _ => ("?", "?", "?", "?"),
    };
    let sql = format!(
        "SELECT {day} AS day, CAST(-SUM(delta) AS BIGINT) AS units FROM stock_movements \
         WHERE sku_id = {p1} AND reason IN ({p2}, {p3}) AND created_at >= {p4} \
         GROUP BY 1 ORDER BY 1"
    );
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                sku_id.into(),
                StockReason::OrderReserved.as_str().into(),
                StockReason::OrderReleased.as_str().into(),
                since.into(),
            ],
        ))
        .await?;
    let mut by_day = std::collections::HashMap::new();
    for r in rows {
        let day: String = r.try_get("", "day")?;
        let units: i64 = r.try_get("", "units")?;
        if let Ok(d) = NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
            by_day.insert(d, units);
        }
    }
    Ok((0..days)
        .map(|i| {
            let d = first + chrono::Duration::days(i64::from(i));
            (d, by_day.get(&d).copied().unwrap_or(0))
        })
        .collect())
}

/// Units in stock and their value at cost, overall and per category. (PostgreSQL sums
/// BIGINT as NUMERIC: the casts keep both databases answering integers.)
pub struct Valuation {
    pub units: i64,
    pub value_fen: i64,
    /// `(category id or None, units, value)`.
    pub by_category: Vec<(Option<i64>, i64, i64)>,
}

pub async fn stock_valuation(conn: &impl ConnectionTrait) -> Result<Valuation, AppError> {
    let backend = conn.get_database_backend();
    let sql = "SELECT p.category_id AS category_id, \
               CAST(COALESCE(SUM(s.stock), 0) AS BIGINT) AS units, \
               CAST(COALESCE(SUM(s.stock * s.cost_price_fen), 0) AS BIGINT) AS value \
               FROM skus s JOIN products p ON p.id = s.product_id \
               WHERE s.active = TRUE GROUP BY p.category_id ORDER BY 3 DESC";
    let rows = conn
        .query_all_raw(Statement::from_string(backend, sql))
        .await?;
    let mut by_category = Vec::with_capacity(rows.len());
    for r in rows {
        let category: Option<i64> = r.try_get("", "category_id")?;
        let units: i64 = r.try_get("", "units")?;
        let value: i64 = r.try_get("", "value")?;
        by_category.push((category, units, value));
    }
    Ok(Valuation {
        units: by_category.iter().map(|c| c.1).sum(),
        value_fen: by_category.iter().map(|c| c.2).sum(),
        by_category,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("abc"), "abc");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }
}
