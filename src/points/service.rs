//! Points use cases: the daily sign-in, tasks that pay once per period, staff adjustments, the
//! points mall's redeemable SKUs, what a member has (available, pending, expiring soon), the
//! sign-in calendar, and the birthday gift. Each change is one transaction; the ledger itself
//! is `ledger`.
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use entity::{
    points_earning, points_lot, points_mall_item, points_sign_in, points_task_claim, sku, user,
};
use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set, TryInsertResult,
    sea_query::OnConflict,
};
use serde::{Deserialize, Serialize};

use super::{
    errors::{PointsErrorCode as Code, PointsResult, reject},
    ledger::{self, EntryKind, Reference},
    rules,
};
use crate::{
    app::AppState,
    config::Config,
    db::WriteTx,
    error::{AppError, ServiceError},
};

/// The task a reward is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum, Serialize, Deserialize)]
pub enum PointsTask {
    /// Registering an account (once).
    Register,
    /// A nickname, an avatar and a birthday in the profile (once).
    CompleteProfile,
    /// The first order that completes (once; paid by the order, not claimed).
    FirstOrder,
    /// Someone else opened the member's share link (a few times a day; paid on the visit).
    Share,
}

impl PointsTask {
    pub fn as_str(self) -> &'static str {
        match self {
            PointsTask::Register => "REGISTER",
            PointsTask::CompleteProfile => "PROFILE",
            PointsTask::FirstOrder => "FIRST_ORDER",
            PointsTask::Share => "SHARE",
        }
    }
}

/// The lot points earned now go to.
pub fn lot_for_now(config: &Config, now: DateTime<Utc>) -> DateTime<Utc> {
    rules::expiry_of(config.points_expiry, now, config.business_utc_offset_hours)
}

/// Pays `points` for `task` in `period` (and `slot`) once: the unique key on the claim decides
/// between concurrent requests on every instance. False when it paid already.
pub async fn pay_once(
    app: &AppState,
    tx: &WriteTx,
    user_id: i64,
    (task, period, slot): (&str, &str, &str),
    points: i64,
    kind: EntryKind,
) -> Result<bool, AppError> {
    let now = Utc::now();
    let inserted = points_task_claim::Entity::insert(points_task_claim::ActiveModel {
        user_id: Set(user_id),
        task: Set(task.into()),
        period: Set(period.into()),
        slot: Set(slot.into()),
        points: Set(points),
        created_at: Set(now),
        ..Default::default()
    })
    .on_conflict_do_nothing_on([
        points_task_claim::Column::UserId,
        points_task_claim::Column::Task,
        points_task_claim::Column::Period,
        points_task_claim::Column::Slot,
    ])
    .exec_without_returning(&**tx)
    .await?;
    if !matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
        return Ok(false);
    }
    if points > 0 {
        ledger::credit(
            tx,
            user_id,
            &[(lot_for_now(&app.config, now), points)],
            Reference {
                kind,
                reference_type: "TASK",
                reference_id: 0,
                note: Some(task),
                actor_user_id: None,
            },
        )
        .await?;
    }
    Ok(true)
}

/// A member's sign-ins in the month of `today`, and whether they signed in today.
pub struct SignInMonth {
    pub today: NaiveDate,
    pub signed_today: bool,
    /// The streak that counts now: today's, or yesterday's while today is not signed yet.
    pub streak: i32,
    pub days: Vec<points_sign_in::Model>,
}

pub async fn sign_in_month(app: &AppState, user_id: i64) -> Result<SignInMonth, AppError> {
    let today = crate::shop_time::shop_day(Utc::now(), app.config.business_utc_offset_hours);
    let first = today.with_day(1).unwrap_or(today);
    let from = std::cmp::min(first, today.pred_opt().unwrap_or(today));
    let days = points_sign_in::Entity::find()
        .filter(points_sign_in::Column::UserId.eq(user_id))
        .filter(points_sign_in::Column::Day.gte(from))
        .filter(points_sign_in::Column::Day.lte(today))
        .all(app.db.conn())
        .await?;
    let signed_today = days.iter().any(|d| d.day == today);
    let streak = days
        .iter()
        .find(|d| d.day == today)
        .or_else(|| days.iter().find(|d| Some(d.day) == today.pred_opt()))
        .map_or(0, |d| d.streak);
    Ok(SignInMonth {
        today,
        signed_today,
        streak,
        days: days.into_iter().filter(|d| d.day >= first).collect(),
    })
}

/// Claims the points of a task the caller has done (registering, completing the profile).
pub async fn claim_task(app: &AppState, user_id: i64, task: PointsTask) -> PointsResult<i64> {
    let points = match task {
        PointsTask::Register => app.config.points_task_register,
        PointsTask::CompleteProfile => {
            let u = user::Entity::find_by_id(user_id)
                .one(app.db.conn())
                .await?
                .ok_or_else(|| AppError::not_found("user"))?;
            if u.nickname.trim().is_empty() || u.avatar_url.is_none() || u.birthday.is_none() {
                return reject(
                    Code::TaskNotDone,
                    "task",
                    "set a nickname, an avatar and a birthday first",
                );
            }
            app.config.points_task_profile
        }
        PointsTask::FirstOrder | PointsTask::Share => {
            return reject(
                Code::TaskNotDone,
                "task",
                "this task pays by itself when it is done",
            );
        }
    };
    let tx = app.db.begin_write().await?;
    if !pay_once(
        app,
        &tx,
        user_id,
        (task.as_str(), "ONCE", ""),
        i64::from(points),
        EntryKind::Task,
    )
    .await?
    {
        tx.rollback().await?;
        return reject(
            Code::AlreadyClaimed,
            "task",
            "this task paid its points already",
        );
    }
    tx.commit().await?;
    Ok(i64::from(points))
}

/// Pays the sharer for a visit of their share link by someone else (signed in), in the
/// visit's transaction: once per visitor a shop day, and at most the daily cap of visits per
/// sharer. The visitor's claim comes first; the visit's number of the day is the slot, so
/// concurrent visits race for the same slot and the unique key lets one win on every instance
/// (a visit that loses the race pays nothing).
pub async fn share_visited(
    app: &AppState,
    tx: &WriteTx,
    sharer_id: i64,
    visitor_id: i64,
) -> Result<bool, AppError> {
    let points = i64::from(app.config.points_task_share);
    if sharer_id == visitor_id || points == 0 || app.config.points_share_daily_cap == 0 {
        return Ok(false);
    }
    let day =
        crate::shop_time::shop_day(Utc::now(), app.config.business_utc_offset_hours).to_string();
    let paid_today = points_task_claim::Entity::find()
        .filter(points_task_claim::Column::UserId.eq(sharer_id))
        .filter(points_task_claim::Column::Task.eq(PointsTask::Share.as_str()))
        .filter(points_task_claim::Column::Period.eq(&day))
        .count(&**tx)
        .await?;
    if paid_today >= u64::from(app.config.points_share_daily_cap) {
        return Ok(false);
    }
    let visitor = format!("v{visitor_id}");
    if !pay_once(
        app,
        tx,
        sharer_id,
        ("SHARE_VISITOR", &day, &visitor),
        0,
        EntryKind::Task,
    )
    .await?
    {
        return Ok(false);
    }
    let slot = (paid_today + 1).to_string();
    pay_once(
        app,
        tx,
        sharer_id,
        (PointsTask::Share.as_str(), &day, &slot),
        points,
        EntryKind::Task,
    )
    .await
}

/// A staff adjustment as recorded for its idempotency key.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Adjusted {
    pub user_id: i64,
    pub balance: i64,
}

/// Adds (positive) or takes (negative) points by hand, with a reason, once per key.
pub async fn adjust(
    app: &AppState,
    staff_id: i64,
    user_id: i64,
    points: i64,
    reason: &str,
    key: &str,
) -> PointsResult<Adjusted> {
    use crate::idempotency::{self, Prior};
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return reject(
            Code::InvalidReason,
            "reason",
            "give a reason of at most 200 characters",
        );
    }
    if points == 0 || points.abs() > 100_000_000 {
        return reject(
            Code::InvalidPoints,
            "points",
            "between -100,000,000 and 100,000,000, not 0",
        );
    }
    if !idempotency::valid_key(key) {
        return reject(
            Code::InvalidIdempotencyKey,
            "idempotencyKey",
            "1 to 64 characters",
        );
    }
    if user::Entity::find_by_id(user_id)
        .one(app.db.conn())
        .await?
        .is_none()
    {
        return reject(Code::MemberNotFound, "userId", "no such member");
    }
    let hash = idempotency::request_hash(&(user_id, points, reason));
    const SCOPE: &str = "adjustMemberPoints";
    let tx = app.db.begin_write().await?;
    match idempotency::check(&*tx, SCOPE, staff_id, key, &hash).await? {
        Prior::Replay(done) => return Ok(done),
        Prior::Mismatch => {
            return reject(
                Code::InvalidIdempotencyKey,
                "idempotencyKey",
                "this key was used with a different adjustment",
            );
        }
        Prior::New => {}
    }
    let r = Reference {
        kind: EntryKind::Adjust,
        reference_type: "STAFF",
        reference_id: staff_id,
        note: Some(reason),
        actor_user_id: Some(staff_id),
    };
    let balance = if points > 0 {
        ledger::credit(
            &tx,
            user_id,
            &[(lot_for_now(&app.config, Utc::now()), points)],
            r,
        )
        .await?
    } else {
        match ledger::debit(&tx, user_id, -points, false, r).await? {
            Some(b) => b,
            None => {
                tx.rollback().await?;
                return reject(
                    Code::InsufficientPoints,
                    "points",
                    "the member has fewer points than that",
                );
            }
        }
    };
    let done = Adjusted { user_id, balance };
    if !idempotency::claim(&tx, SCOPE, staff_id, key, &hash, &done).await? {
        tx.rollback().await?;
        return match idempotency::check(app.db.conn(), SCOPE, staff_id, key, &hash).await? {
            Prior::Replay(done) => Ok(done),
            _ => reject(
                Code::InvalidIdempotencyKey,
                "idempotencyKey",
                "this key was used with a different adjustment",
            ),
        };
    }
    tx.commit().await?;
    Ok(done)
}

/// What a member has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub available: i64,
    /// Earned by orders paid and not completed yet.
    pub pending: i64,
    /// Of `available`, what expires before `expiring_before`.
    pub expiring_soon: i64,
    pub expiring_before: Option<DateTime<Utc>>,
}

pub async fn summary(app: &AppState, user_id: i64) -> Result<Summary, AppError> {
    let conn = app.db.conn();
    let available = ledger::balance_of(conn, user_id).await?;
    // A member has few orders between payment and completion: summed here.
    let pending: i64 = points_earning::Entity::find()
        .filter(points_earning::Column::UserId.eq(user_id))
        .filter(points_earning::Column::Status.eq("PENDING"))
        .all(conn)
        .await?
        .iter()
        .map(|e| e.points)
        .sum();
    let before =
        Utc::now() + chrono::Duration::days(i64::from(app.config.points_expiring_soon_days));
    let soon: i64 = points_lot::Entity::find()
        .filter(points_lot::Column::UserId.eq(user_id))
        .filter(points_lot::Column::Remaining.gt(0))
        .filter(points_lot::Column::ExpiresAt.lt(before))
        .all(conn)
        .await?
        .iter()
        .map(|l| l.remaining)
        .sum();
    Ok(Summary {
        available,
        pending,
        expiring_soon: soon,
        expiring_before: Some(before),
    })
}

/// Marks a SKU redeemable for `points` per unit plus `cash_fen` (or takes it out of the mall).
pub async fn set_mall_item(
    app: &AppState,
    staff_id: i64,
    sku_id: i64,
    points: i64,
    cash_fen: i64,
    active: bool,
) -> PointsResult<points_mall_item::Model> {
    let Some(s) = sku::Entity::find_by_id(sku_id).one(app.db.conn()).await? else {
        return reject(Code::SkuNotFound, "skuId", "no such SKU");
    };
    if !(1..=100_000_000).contains(&points) {
        return reject(Code::InvalidPoints, "points", "at least 1 point per unit");
    }
    if cash_fen < 0 || cash_fen >= std::cmp::max(s.price_fen, 1) {
        return reject(
            Code::InvalidCash,
            "cash",
            "cash is at least ¥0.00 and below the SKU's price",
        );
    }
    let now = Utc::now();
    let tx = app.db.begin_write().await?;
    points_mall_item::Entity::insert(points_mall_item::ActiveModel {
        sku_id: Set(sku_id),
        points: Set(points),
        cash_fen: Set(cash_fen),
        active: Set(active),
        updated_by: Set(Some(staff_id)),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(points_mall_item::Column::SkuId)
            .update_columns([
                points_mall_item::Column::Points,
                points_mall_item::Column::CashFen,
                points_mall_item::Column::Active,
                points_mall_item::Column::UpdatedBy,
                points_mall_item::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&*tx)
    .await?;
    let item = points_mall_item::Entity::find_by_id(sku_id)
        .one(&*tx)
        .await?
        .ok_or_else(|| ServiceError::App(AppError::not_found("points mall item")))?;
    tx.commit().await?;
    Ok(item)
}

/// Gives the birthday points of each member whose birthday it is today (shop time), once a
/// year per member (a unique claim per member and year), from their level's benefits.
pub async fn give_birthday_points(app: &AppState, now: DateTime<Utc>) -> Result<usize, AppError> {
    let today = crate::shop_time::shop_day(now, app.config.business_utc_offset_hours);
    let users = crate::accounts::service::birthdays_on(app, today).await?;
    let year = today.year().to_string();
    let mut given = 0;
    for user_id in users {
        let points = crate::members::benefits_of(app.db.conn(), user_id)
            .await?
            .birthday_points;
        if points <= 0 {
            continue;
        }
        let tx = app.db.begin_write().await?;
        if pay_once(
            app,
            &tx,
            user_id,
            ("BIRTHDAY", &year, ""),
            points,
            EntryKind::Birthday,
        )
        .await?
        {
            tx.commit().await?;
            given += 1;
        } else {
            tx.rollback().await?;
        }
    }
    Ok(given)
}
