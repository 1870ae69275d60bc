//! What group buys add to a distributor's performance (团购活动发起次数、成团数量、销售金额):
//! groups they launched, those that succeeded, and the sales of the group orders credited to
//! them. Grouped queries over indexed ranges, as distribution's own figures are.
use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::distribution::performance::{Performance, PerformanceFigures, among, rows};
use crate::error::AppError;

pub struct GroupBuyFigures;

#[async_trait::async_trait]
impl PerformanceFigures for GroupBuyFigures {
    async fn add(
        &self,
        conn: &sea_orm::DatabaseConnection,
        ids: Option<&[i64]>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        out: &mut HashMap<i64, Performance>,
    ) -> Result<(), AppError> {
        // Launched: by the distributor themselves (a customer's group is credited to the
        // distributor they are bound to, but the distributor did not launch it).
        let (f, v) = among("distributor_user_id", ids, 3);
        for r in rows(
            conn,
            format!(
                "SELECT distributor_user_id AS user_id, CAST(COUNT(*) AS BIGINT) AS a, CAST(0 AS BIGINT) AS b \
                 FROM group_buy_groups WHERE created_at >= $1 AND created_at < $2 \
                 AND distributor_user_id = leader_user_id{f} GROUP BY distributor_user_id"
            ),
            from,
            to,
            v,
        )
        .await?
        {
            out.entry(r.user_id).or_default().groups_launched = r.a;
        }
        let (f, v) = among("distributor_user_id", ids, 3);
        for r in rows(
            conn,
            format!(
                "SELECT distributor_user_id AS user_id, CAST(COUNT(*) AS BIGINT) AS a, CAST(0 AS BIGINT) AS b \
                 FROM group_buy_groups WHERE status = 'SUCCEEDED' AND closed_at >= $1 AND closed_at < $2 \
                 AND distributor_user_id = leader_user_id{f} GROUP BY distributor_user_id"
            ),
            from,
            to,
            v,
        )
        .await?
        {
            out.entry(r.user_id).or_default().groups_succeeded = r.a;
        }
        // Sales: every paid place of a group credited to the distributor, by when it was paid;
        // a failed group's orders are refunded in full, so they add nothing.
        let (f, v) = among("g.distributor_user_id", ids, 3);
        for r in rows(
            conn,
            format!(
                "SELECT g.distributor_user_id AS user_id, CAST(COUNT(*) AS BIGINT) AS a, \
                 CAST(COALESCE(SUM(o.pay_amount_fen - o.refunded_fen), 0) AS BIGINT) AS b \
                 FROM group_buy_members m JOIN group_buy_groups g ON g.id = m.group_id \
                 JOIN orders o ON o.id = m.order_id \
                 WHERE m.paid_at >= $1 AND m.paid_at < $2 AND g.distributor_user_id IS NOT NULL{f} \
                 GROUP BY g.distributor_user_id"
            ),
            from,
            to,
            v,
        )
        .await?
        {
            out.entry(r.user_id).or_default().group_sales_fen = r.b;
        }
        Ok(())
    }
}
