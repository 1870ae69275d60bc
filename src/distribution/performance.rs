//! Distributor performance by period: orders and sales attributed to them, customers they
//! bound, new team members, and commission by status; a ranking for staff; and the monthly
//! report, snapshotted once per distributor and month.
//!
//! Every figure is one grouped query over an indexed range, for one distributor or all of them
//! at once, so the monthly report costs the same few statements for 10 or 100,000 distributors.
use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, Utc};
use entity::{distributor_report, system_setting};
use sea_orm::{ConnectionTrait, EntityTrait, FromQueryResult, Set, sea_query::OnConflict};

use super::rules::previous_month;
use crate::{app::AppState, db, error::AppError};

/// The period a performance figure covers, in shop time.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerformancePeriod {
    /// Today so far.
    Day,
    /// This week (from Monday) so far.
    Week,
    /// This month so far.
    Month,
    /// From `from` to `to` (at most 366 days).
    Custom,
}

/// The instants `[from, to)` of `period` at `now`; `None` when a custom range is missing or
/// invalid.
pub fn bounds(
    period: PerformancePeriod,
    custom: Option<(DateTime<Utc>, DateTime<Utc>)>,
    now: DateTime<Utc>,
    offset_hours: i32,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let offset = Duration::hours(i64::from(offset_hours));
    let today = (now + offset).date_naive();
    let start = match period {
        PerformancePeriod::Custom => {
            let (from, to) = custom?;
            return (from < to && to - from <= Duration::days(366)).then_some((from, to));
        }
        PerformancePeriod::Day => today,
        PerformancePeriod::Week => {
            today - Duration::days(i64::from(today.weekday().num_days_from_monday()))
        }
        PerformancePeriod::Month => today.with_day(1)?,
    };
    let from = start.and_hms_opt(0, 0, 0)?.and_utc() - offset;
    Some((from, now))
}

/// What one distributor did in a period (money in fen).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Performance {
    pub orders: i64,
    pub sales_fen: i64,
    pub promoted_customers: i64,
    pub new_team_members: i64,
    pub estimated_fen: i64,
    pub confirmed_fen: i64,
    pub settled_fen: i64,
    pub reversed_fen: i64,
    /// Groups (拼团) the distributor launched themselves in the period.
    pub groups_launched: i64,
    /// Groups they launched that succeeded in the period.
    pub groups_succeeded: i64,
    /// Paid group orders credited to them, net of refunds (every group they are credited with,
    /// their own and their customers').
    pub group_sales_fen: i64,
}

/// Figures another area keeps about distributors (the group buys they launched), added to
/// their performance. Registered in `app`, as order listeners are, so this area knows none of
/// those areas.
#[async_trait::async_trait]
pub trait PerformanceFigures: Send + Sync {
    /// Adds the area's figures of `ids` (everyone with activity when `None`) over `[from, to)`.
    async fn add(
        &self,
        conn: &sea_orm::DatabaseConnection,
        ids: Option<&[i64]>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        out: &mut HashMap<i64, Performance>,
    ) -> Result<(), AppError>;
}

/// One distributor's two figures from a grouped query (`user_id`, `a`, `b`).
#[derive(FromQueryResult)]
pub struct FigureRow {
    pub user_id: i64,
    pub a: i64,
    pub b: i64,
}

#[derive(FromQueryResult)]
struct StatusRow {
    user_id: i64,
    status: String,
    amount: i64,
    reversed: i64,
}

/// `AND <column> IN (…)` with numbered placeholders from `$next`, or nothing for everyone.
pub fn among(column: &str, ids: Option<&[i64]>, next: usize) -> (String, Vec<sea_orm::Value>) {
    match ids {
        None => (String::new(), Vec::new()),
        Some(ids) => {
            let marks: Vec<String> = (0..ids.len()).map(|i| format!("${}", next + i)).collect();
            (
                format!(" AND {column} IN ({})", marks.join(", ")),
                ids.iter().map(|id| (*id).into()).collect(),
            )
        }
    }
}

/// Runs a grouped query whose `$1` and `$2` are `from` and `to`, followed by `extra`.
pub async fn rows(
    conn: &impl ConnectionTrait,
    sql: String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    extra: Vec<sea_orm::Value>,
) -> Result<Vec<FigureRow>, AppError> {
    let mut values: Vec<sea_orm::Value> = vec![from.into(), to.into()];
    values.extend(extra);
    Ok(
        FigureRow::find_by_statement(db::stmt(conn.get_database_backend(), &sql, values))
            .all(conn)
            .await?,
    )
}

/// Performance of `ids` (or of every distributor with any activity) over `[from, to)`, with
/// the figures the other areas add.
pub async fn performance(
    app: &AppState,
    ids: Option<&[i64]>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<i64, Performance>, AppError> {
    let conn = app.db.conn();
    let mut out = own_performance(conn, ids, from, to).await?;
    for figures in &app.performance_figures {
        figures.add(conn, ids, from, to, &mut out).await?;
    }
    Ok(out)
}

/// The figures this area keeps itself.
async fn own_performance(
    conn: &impl ConnectionTrait,
    ids: Option<&[i64]>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashMap<i64, Performance>, AppError> {
    let mut out: HashMap<i64, Performance> = HashMap::new();
    let (f, v) = among("distributor_user_id", ids, 3);
    for r in rows(
        conn,
        format!(
            "SELECT distributor_user_id AS user_id, CAST(COUNT(*) AS BIGINT) AS a, \
             CAST(COALESCE(SUM(pay_amount_fen - refunded_fen), 0) AS BIGINT) AS b \
             FROM orders WHERE paid_at >= $1 AND paid_at < $2 AND distributor_user_id IS NOT NULL{f} \
             GROUP BY distributor_user_id"
        ),
        from,
        to,
        v,
    )
    .await?
    {
        let p = out.entry(r.user_id).or_default();
        p.orders = r.a;
        p.sales_fen = r.b;
    }
    let (f, v) = among("distributor_user_id", ids, 3);
    for r in rows(
        conn,
        format!(
            "SELECT distributor_user_id AS user_id, CAST(COUNT(*) AS BIGINT) AS a, CAST(0 AS BIGINT) AS b \
             FROM customer_bindings WHERE bound_at >= $1 AND bound_at < $2{f} GROUP BY distributor_user_id"
        ),
        from,
        to,
        v,
    )
    .await?
    {
        out.entry(r.user_id).or_default().promoted_customers = r.a;
    }
    let (f, v) = among("ancestor_user_id", ids, 3);
    for r in rows(
        conn,
        format!(
            "SELECT ancestor_user_id AS user_id, CAST(COUNT(*) AS BIGINT) AS a, CAST(0 AS BIGINT) AS b \
             FROM distributor_tree WHERE created_at >= $1 AND created_at < $2 AND depth BETWEEN 1 AND 3{f} \
             GROUP BY ancestor_user_id"
        ),
        from,
        to,
        v,
    )
    .await?
    {
        out.entry(r.user_id).or_default().new_team_members = r.a;
    }
    let (f, v) = among("beneficiary_user_id", ids, 3);
    let mut values: Vec<sea_orm::Value> = vec![from.into(), to.into()];
    values.extend(v);
    let statuses = StatusRow::find_by_statement(db::stmt(
        conn.get_database_backend(),
        &format!(
            "SELECT beneficiary_user_id AS user_id, status, \
             CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) AS amount, \
             CAST(COALESCE(SUM(reversed_fen), 0) AS BIGINT) AS reversed \
             FROM commissions WHERE created_at >= $1 AND created_at < $2{f} \
             GROUP BY beneficiary_user_id, status"
        ),
        values,
    ))
    .all(conn)
    .await?;
    for r in statuses {
        let p = out.entry(r.user_id).or_default();
        match r.status.as_str() {
            "ESTIMATED" => p.estimated_fen += r.amount,
            "CONFIRMED" => p.confirmed_fen += r.amount,
            "SETTLED" => p.settled_fen += r.amount,
            _ => {}
        }
        p.reversed_fen += r.reversed;
    }
    Ok(out)
}

/// What a ranking orders by.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RankBy {
    /// Paid amount of attributed orders, net of refunds.
    Sales,
    /// Paid attributed orders.
    Orders,
    /// Estimated, confirmed and settled commission earned in the period.
    Commission,
    /// Customers newly bound to the distributor.
    PromotedCustomers,
    /// Groups (拼团) they launched themselves.
    GroupsLaunched,
    /// Groups they launched that succeeded.
    GroupsSucceeded,
    /// Paid group orders credited to them, net of refunds.
    GroupSales,
}

/// The top `limit` distributors of `[from, to)` by `by`, with their figures.
pub async fn ranking(
    app: &AppState,
    by: RankBy,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<(i64, Performance)>, AppError> {
    let all = performance(app, None, from, to).await?;
    let key = |p: &Performance| match by {
        RankBy::Sales => p.sales_fen,
        RankBy::Orders => p.orders,
        RankBy::Commission => p.estimated_fen + p.confirmed_fen + p.settled_fen,
        RankBy::PromotedCustomers => p.promoted_customers,
        RankBy::GroupsLaunched => p.groups_launched,
        RankBy::GroupsSucceeded => p.groups_succeeded,
        RankBy::GroupSales => p.group_sales_fen,
    };
    let mut ranked: Vec<(i64, Performance)> = all.into_iter().filter(|(_, p)| key(p) > 0).collect();
    ranked.sort_by(|a, b| key(&b.1).cmp(&key(&a.1)).then(a.0.cmp(&b.0)));
    ranked.truncate(limit);
    Ok(ranked)
}

const REPORTED_KEY: &str = "distribution.reports.last_period";

/// Snapshots last month's report for every distributor with activity in it, once: on the 1st
/// (or the first run after it). Returns how many reports were written.
pub async fn generate_monthly(app: &AppState, now: DateTime<Utc>) -> Result<usize, AppError> {
    let (period, from, to) = previous_month(now, app.config.business_utc_offset_hours);
    let conn = app.db.conn();
    let done = system_setting::Entity::find_by_id(REPORTED_KEY)
        .one(conn)
        .await?
        .is_some_and(|s| s.value >= period);
    if done {
        return Ok(0);
    }
    let figures = performance(app, None, from, to).await?;
    let created = Utc::now();
    let rows: Vec<distributor_report::ActiveModel> = figures
        .iter()
        .map(|(user_id, p)| distributor_report::ActiveModel {
            user_id: Set(*user_id),
            period: Set(period.clone()),
            orders: Set(p.orders),
            sales_fen: Set(p.sales_fen),
            promoted_customers: Set(p.promoted_customers),
            new_team_members: Set(p.new_team_members),
            estimated_fen: Set(p.estimated_fen),
            confirmed_fen: Set(p.confirmed_fen),
            settled_fen: Set(p.settled_fen),
            reversed_fen: Set(p.reversed_fen),
            groups_launched: Set(p.groups_launched),
            groups_succeeded: Set(p.groups_succeeded),
            group_sales_fen: Set(p.group_sales_fen),
            created_at: Set(created),
            ..Default::default()
        })
        .collect();
    let written = rows.len();
    let tx = app.db.begin_write().await?;
    for chunk in rows.chunks(500) {
        distributor_report::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    distributor_report::Column::UserId,
                    distributor_report::Column::Period,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&*tx)
            .await?;
    }
    db::put_setting(&*tx, REPORTED_KEY, period).await?;
    tx.commit().await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn periods_start_at_shop_midnight() {
        // Saturday 2026-11-28 23:00 UTC is Sunday 07:00 in Beijing.
        let now = at("2026-11-28T23:00:00Z");
        let day = bounds(PerformancePeriod::Day, None, now, 8).unwrap();
        assert_eq!(day, (at("2026-11-28T16:00:00Z"), now));
        let week = bounds(PerformancePeriod::Week, None, now, 8).unwrap();
        assert_eq!(week.0, at("2026-11-22T16:00:00Z"), "Monday the 23rd");
        let month = bounds(PerformancePeriod::Month, None, now, 8).unwrap();
        assert_eq!(month.0, at("2026-10-31T16:00:00Z"));
    }

    #[test]
    fn custom_ranges_are_checked() {
        let now = at("2026-11-28T00:00:00Z");
        let a = at("2026-01-01T00:00:00Z");
        assert_eq!(
            bounds(PerformancePeriod::Custom, Some((a, now)), now, 8),
            Some((a, now))
        );
        assert_eq!(bounds(PerformancePeriod::Custom, None, now, 8), None);
        assert_eq!(
            bounds(PerformancePeriod::Custom, Some((now, a)), now, 8),
            None
        );
        let long_ago = at("2024-01-01T00:00:00Z");
        assert_eq!(
            bounds(PerformancePeriod::Custom, Some((long_ago, now)), now, 8),
            None
        );
    }
}
