//! The daily sign-in, committed in groups (`group_commit`): sign-ins arrive in bursts (a
//! reminder pushed to every member at 8 a.m.), each one a handful of small writes, and one
//! transaction commits whatever is waiting with the same statements for one sign-in or for a
//! hundred. A sign-in is paid once per member and day whatever the grouping — the unique
//! `(user_id, day)` key decides, also between instances.
use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use entity::points_sign_in;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryTrait, sea_query::OnConflict,
};

use super::{
    errors::{PointsErrorCode as Code, PointsResult, reject},
    ledger::{self, EntryKind, Reference},
    rules::{self, StreakBonuses},
    service::lot_for_now,
};
use crate::{
    app::AppState,
    error::AppError,
    group_commit::{GroupCommit, GroupQueue},
};

/// What a sign-in gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedIn {
    pub streak: i32,
    pub points: i64,
    pub balance: i64,
}

/// Sign-ins, committed in groups; a request is the member's user id.
pub struct SignIns;

impl GroupCommit for SignIns {
    type Request = i64;
    type Answer = PointsResult<SignedIn>;
    type Writer = ();

    async fn commit(app: &AppState, _: &(), users: &[i64]) -> Result<Vec<Self::Answer>, AppError> {
        sign_in_together(app, users).await
    }

    fn failed(e: AppError) -> Self::Answer {
        Err(e.into())
    }
}

/// The queue of sign-ins waiting on this instance.
pub type SignInQueue = GroupQueue<SignIns>;

/// Signs `user_id` in for today (shop time): the daily points and any streak bonus. A second
/// sign-in the same day, concurrent or not, is refused and pays nothing.
pub async fn sign_in(app: &Arc<AppState>, user_id: i64) -> PointsResult<SignedIn> {
    app.sign_ins.submit(app, user_id).await?
}

/// Signs `users` in (in one transaction), answering each in order: the first occurrence of a
/// member not yet signed in today is paid, every other refused with `ALREADY_SIGNED_IN`.
async fn sign_in_together(
    app: &AppState,
    users: &[i64],
) -> Result<Vec<PointsResult<SignedIn>>, AppError> {
    let now = Utc::now();
    let today = crate::shop_time::shop_day(now, app.config.business_utc_offset_hours);
    let yesterday = today.pred_opt().unwrap_or(today);
    let bonuses = StreakBonuses::parse(&app.config.points_sign_in_streak_bonuses)
        .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    let daily = i64::from(app.config.points_sign_in_daily);
    let mut distinct: Vec<i64> = users.to_vec();
    distinct.sort_unstable();
    distinct.dedup();

    let tx = app.db.begin_write().await?;
    let streaks: HashMap<i64, i32> = points_sign_in::Entity::find()
        .filter(points_sign_in::Column::Day.eq(yesterday))
        .filter(points_sign_in::Column::UserId.is_in(distinct.iter().copied()))
        .all(&*tx)
        .await?
        .into_iter()
        .map(|y| (y.user_id, y.streak))
        .collect();
    let rows: Vec<points_sign_in::ActiveModel> = distinct
        .iter()
        .map(|user_id| {
            let streak = rules::streak_after(streaks.get(user_id).copied());
            points_sign_in::ActiveModel {
                user_id: sea_orm::Set(*user_id),
                day: sea_orm::Set(today),
                streak: sea_orm::Set(streak),
                points: sea_orm::Set(rules::sign_in_points(daily, &bonuses, streak)),
                created_at: sea_orm::Set(now),
            }
        })
        .collect();
    let mut insert = points_sign_in::Entity::insert_many(rows.clone())
        .on_conflict(
            OnConflict::columns([points_sign_in::Column::UserId, points_sign_in::Column::Day])
                .do_nothing()
                .to_owned(),
        )
        .into_query();
    // Both databases return only the rows inserted: those who had signed in today already
    // (another request, another instance) are not among them.
    insert.returning_col(points_sign_in::Column::UserId);
    let inserted: HashSet<i64> = tx
        .query_all_raw(tx.get_database_backend().build(&insert))
        .await?
        .iter()
        .map(|r| r.try_get::<i64>("", "user_id"))
        .collect::<Result<_, _>>()?;
    let paid: Vec<(i64, i32, i64)> = rows
        .iter()
        .filter(|r| inserted.contains(r.user_id.as_ref()))
        .map(|r| (*r.user_id.as_ref(), *r.streak.as_ref(), *r.points.as_ref()))
        .collect();
    let lot = lot_for_now(&app.config, now);
    let credits: Vec<(i64, DateTime<Utc>, i64)> = paid
        .iter()
        .filter(|(_, _, points)| *points > 0)
        .map(|(user_id, _, points)| (*user_id, lot, *points))
        .collect();
    let balances = ledger::credit_each(
        &tx,
        &credits,
        Reference {
            kind: EntryKind::SignIn,
            reference_type: "SIGN_IN",
            reference_id: day_number(today),
            note: None,
            actor_user_id: None,
        },
    )
    .await?;
    tx.commit().await?;

    let mut unanswered: HashMap<i64, SignedIn> = paid
        .into_iter()
        .map(|(user_id, streak, points)| {
            let balance = balances.get(&user_id).copied().unwrap_or_default();
            (
                user_id,
                SignedIn {
                    streak,
                    points,
                    balance,
                },
            )
        })
        .collect();
    Ok(users
        .iter()
        .map(|user_id| match unanswered.remove(user_id) {
            Some(s) => Ok(s),
            None => reject(
                Code::AlreadySignedIn,
                "signIn",
                "you signed in today already",
            ),
        })
        .collect())
}

fn day_number(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 10_000 + i64::from(d.month()) * 100 + i64::from(d.day())
}
