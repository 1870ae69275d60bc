//! Distributor levels: named, ranked, with upgrade conditions; evaluated after each settlement
//! and on demand. Levels only go up automatically; staff may set any level.
use std::collections::HashMap;

use chrono::Utc;
use entity::{distributor, distributor_level};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TryIntoModel, sea_query::Expr,
};

use super::{
    errors::{DistributionErrorCode as Code, DistributionResult, reject},
    rules::{Achievements, LevelConditions, upgraded_level},
    team,
};
use crate::{app::AppState, db, error::AppError};

pub fn conditions_of(l: &distributor_level::Model) -> LevelConditions {
    serde_json::from_str(&l.conditions).unwrap_or_default()
}

fn check(name: &str, rank: i32, c: &LevelConditions) -> DistributionResult<()> {
    if name.trim().is_empty() || name.trim().chars().count() > 32 {
        return reject(
            Code::InvalidSettings,
            "name",
            "a level name is 1–32 characters",
        );
    }
    if !(1..=100).contains(&rank) {
        return reject(Code::InvalidSettings, "rank", "a rank is 1 to 100");
    }
    let amounts = [
        c.invited_distributors,
        c.team_sales_fen,
        c.own_sales_fen,
        c.order_count,
    ];
    if c.is_empty() || amounts.iter().flatten().any(|n| *n < 0) {
        return reject(
            Code::InvalidSettings,
            "conditions",
            "give at least one upgrade condition, none negative",
        );
    }
    Ok(())
}

/// Creates a level, or updates level `id`.
pub async fn save(
    app: &AppState,
    id: Option<i64>,
    name: &str,
    rank: i32,
    conditions: &LevelConditions,
) -> DistributionResult<distributor_level::Model> {
    check(name, rank, conditions)?;
    let tx = app.db.begin_write().await?;
    let clash = distributor_level::Entity::find()
        .filter(distributor_level::Column::Rank.eq(rank))
        .one(&*tx)
        .await?
        .filter(|l| Some(l.id) != id);
    if clash.is_some() {
        return reject(Code::InvalidSettings, "rank", "another level has this rank");
    }
    let now = Utc::now();
    let mut active = match id {
        Some(id) => match distributor_level::Entity::find_by_id(id).one(&*tx).await? {
            Some(l) => l.into(),
            None => return reject(Code::LevelNotFound, "id", "no such level"),
        },
        None => distributor_level::ActiveModel {
            created_at: Set(now),
            ..Default::default()
        },
    };
    active.name = Set(name.trim().into());
    active.rank = Set(rank);
    active.conditions = Set(serde_json::to_string(conditions)?);
    active.updated_at = Set(now);
    let level = active.save(&*tx).await?.try_into_model()?;
    tx.commit().await?;
    Ok(level)
}

/// Deletes a level no distributor holds.
pub async fn delete(app: &AppState, id: i64) -> DistributionResult<()> {
    let tx = app.db.begin_write().await?;
    let holders = distributor::Entity::find()
        .filter(distributor::Column::LevelId.eq(id))
        .count(&*tx)
        .await?;
    if holders > 0 {
        return reject(
            Code::InvalidSettings,
            "id",
            format!("{holders} distributors hold this level; move them first"),
        );
    }
    let deleted = distributor_level::Entity::delete_by_id(id)
        .exec(&*tx)
        .await?;
    if deleted.rows_affected == 0 {
        return reject(Code::LevelNotFound, "id", "no such level");
    }
    tx.commit().await?;
    Ok(())
}

#[derive(FromQueryResult)]
struct Sum {
    user_id: i64,
    value: i64,
}

/// The achievements of `ids` in three grouped queries.
pub async fn achievements(
    conn: &impl sea_orm::ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, Achievements>, AppError> {
    let mut out: HashMap<i64, Achievements> = HashMap::new();
    for chunk in ids.chunks(500) {
        for d in distributor::Entity::find()
            .filter(distributor::Column::UserId.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
        {
            let a = out.entry(d.user_id).or_default();
            a.own_sales_fen = d.own_sales_fen;
            a.order_count = d.order_count;
        }
        let invited: Vec<Sum> = distributor::Entity::find()
            .select_only()
            .column_as(distributor::Column::InviterUserId, "user_id")
            .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "value")
            .filter(distributor::Column::InviterUserId.is_in(chunk.iter().copied()))
            .group_by(distributor::Column::InviterUserId)
            .into_model()
            .all(conn)
            .await?;
        for s in invited {
            out.entry(s.user_id).or_default().invited_distributors = s.value;
        }
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let team_sales = Sum::find_by_statement(db::stmt(
            conn.get_database_backend(),
            &format!(
                "SELECT t.ancestor_user_id AS user_id, CAST(COALESCE(SUM(d.own_sales_fen), 0) AS BIGINT) AS value \
                 FROM distributor_tree t JOIN distributors d ON d.user_id = t.descendant_user_id \
                 WHERE t.depth >= 1 AND t.ancestor_user_id IN ({}) GROUP BY t.ancestor_user_id",
                placeholders.join(", ")
            ),
            chunk.iter().map(|id| (*id).into()),
        ))
        .all(conn)
        .await?;
        for s in team_sales {
            out.entry(s.user_id).or_default().team_sales_fen = s.value;
        }
    }
    Ok(out)
}

/// Raises the levels of `ids` that earned it; returns how many rose.
pub async fn evaluate(app: &AppState, ids: &[i64]) -> Result<usize, AppError> {
    let levels: Vec<(i64, i32, LevelConditions)> = distributor_level::Entity::find()
        .order_by_asc(distributor_level::Column::Rank)
        .all(app.db.conn())
        .await?
        .iter()
        .map(|l| (l.id, l.rank, conditions_of(l)))
        .collect();
    if levels.is_empty() || ids.is_empty() {
        return Ok(0);
    }
    let rank_of: HashMap<i64, i32> = levels.iter().map(|(id, rank, _)| (*id, *rank)).collect();
    let achieved = achievements(app.db.conn(), ids).await?;
    // In id order: a transaction that writes several distributors locks them in that order.
    let current: Vec<(i64, Option<i64>)> = distributor::Entity::find()
        .filter(distributor::Column::UserId.is_in(ids.iter().copied()))
        .order_by_asc(distributor::Column::UserId)
        .all(app.db.conn())
        .await?
        .into_iter()
        .map(|d| (d.user_id, d.level_id))
        .collect();
    let mut raised = 0;
    let tx = app.db.begin_write().await?;
    for (user_id, level) in current {
        let a = achieved.get(&user_id).copied().unwrap_or_default();
        let rank = level.and_then(|l| rank_of.get(&l).copied());
        if let Some(next) = upgraded_level(&levels, rank, &a) {
            distributor::Entity::update_many()
                .col_expr(distributor::Column::LevelId, Expr::value(next))
                .col_expr(distributor::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(distributor::Column::UserId.eq(user_id))
                .exec(&*tx)
                .await?;
            raised += 1;
        }
    }
    tx.commit().await?;
    Ok(raised)
}

/// Evaluates every active distributor.
pub async fn evaluate_all(app: &AppState) -> Result<usize, AppError> {
    let ids: Vec<i64> = distributor::Entity::find()
        .select_only()
        .column(distributor::Column::UserId)
        .filter(distributor::Column::Status.eq(team::STATUS_ACTIVE))
        .into_tuple()
        .all(app.db.conn())
        .await?;
    let mut raised = 0;
    for chunk in ids.chunks(2_000) {
        raised += evaluate(app, chunk).await?;
    }
    Ok(raised)
}
