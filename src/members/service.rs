//! Member services: the level ladder staff edit, growth written by order moments, level
//! changes (with their history, a notification and an event), the yearly review, and what the
//! other areas and the catalogue read (benefits, the viewer's price level).
use chrono::{DateTime, Utc};
use entity::{member, member_growth_entry, member_level, member_level_change, system_setting};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Set, TryIntoModel, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    errors::{MemberErrorCode as Code, MemberResult, reject},
    rules::{self, LadderLevel, LevelDraft, Rung},
};
use crate::{
    app::AppState,
    db::{self, WriteTx},
    error::AppError,
    events::{self, NewEvent},
    notifications::service::{NewNotification, notify},
};

/// A member's level changed (up by growth, by staff, by the review, or with the ladder).
pub const EVENT_LEVEL_CHANGED: &str = "member.level_changed";
/// Staff changed the ladder (a level created, edited or deleted) or the member settings.
pub const EVENT_LEVELS_CHANGED: &str = "member.levels_changed";
const SETTINGS_KEY: &str = "members.settings";
const NOTIFICATION_KIND: &str = "MEMBER_LEVEL";

/// Why a level changed, as kept in its history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    Growth,
    Manual,
    Review,
    LevelsChanged,
    LevelRemoved,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Growth => "GROWTH",
            Cause::Manual => "MANUAL",
            Cause::Review => "REVIEW",
            Cause::LevelsChanged => "LEVELS_CHANGED",
            Cause::LevelRemoved => "LEVEL_REMOVED",
        }
    }
}

/// The merchant's member settings (`system_settings`, key `members.settings`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemberSettings {
    /// Growth for each ¥1 of goods paid.
    pub growth_per_yuan: i64,
    /// Whether the yearly review lowers members to the level their past year's growth reaches.
    pub yearly_review: bool,
}

impl Default for MemberSettings {
    fn default() -> Self {
        Self {
            growth_per_yuan: 1,
            yearly_review: false,
        }
    }
}

pub async fn settings(conn: &impl ConnectionTrait) -> Result<MemberSettings, AppError> {
    Ok(system_setting::Entity::find_by_id(SETTINGS_KEY)
        .one(conn)
        .await?
        .and_then(|s| serde_json::from_str(&s.value).ok())
        .unwrap_or_default())
}

pub async fn update_settings(
    app: &AppState,
    growth_per_yuan: Option<i64>,
    yearly_review: Option<bool>,
) -> MemberResult<MemberSettings> {
    if growth_per_yuan.is_some_and(|g| !(1..=rules::MAX_GROWTH_PER_YUAN).contains(&g)) {
        return reject(
            Code::InvalidSettings,
            "growthPerYuan",
            format!("growth per yuan is 1 to {}", rules::MAX_GROWTH_PER_YUAN),
        );
    }
    let tx = app.db.begin_write().await?;
    let mut s = settings(&*tx).await?;
    if let Some(g) = growth_per_yuan {
        s.growth_per_yuan = g;
    }
    if let Some(r) = yearly_review {
        s.yearly_review = r;
    }
    db::put_setting(&*tx, SETTINGS_KEY, serde_json::to_string(&s)?).await?;
    events::append(
        &tx,
        NewEvent {
            event_type: EVENT_LEVELS_CHANGED,
            aggregate_type: "MemberSettings",
            aggregate_id: 0,
            recipient_user_id: None,
            payload: json!({ "growthPerYuan": s.growth_per_yuan, "yearlyReview": s.yearly_review }),
        },
    );
    tx.commit().await?;
    Ok(s)
}

/// Every level, lowest threshold first.
pub async fn levels(conn: &impl ConnectionTrait) -> Result<Vec<member_level::Model>, AppError> {
    Ok(member_level::Entity::find()
        .order_by_asc(member_level::Column::GrowthThreshold)
        .all(conn)
        .await?)
}

pub fn ladder(levels: &[member_level::Model]) -> Vec<Rung> {
    levels
        .iter()
        .map(|l| Rung {
            id: l.id,
            threshold: l.growth_threshold,
        })
        .collect()
}

/// What staff give to create or edit a level.
#[derive(Clone, Debug)]
pub struct LevelInput {
    pub draft: LevelDraft,
    pub free_shipping: bool,
}

fn code_for(field: &str) -> Code {
    match field {
        "name" | "badgeName" => Code::InvalidName,
        "growthThreshold" => Code::InvalidThreshold,
        "discountRate" => Code::InvalidRate,
        _ => Code::InvalidBenefit,
    }
}

/// Creates a level (`id` none) or edits level `id`. Members whose growth now reaches a higher
/// level rise at once; nobody is lowered by it.
pub async fn save_level(
    app: &AppState,
    id: Option<i64>,
    input: LevelInput,
) -> MemberResult<member_level::Model> {
    let d = &input.draft;
    if let Err((field, message)) = rules::check_level(d) {
        return reject(code_for(field), field, message);
    }
    let tx = app.db.begin_write().await?;
    let current = levels(&*tx).await?;
    if let Some(id) = id {
        if !current.iter().any(|l| l.id == id) {
            return reject(Code::UnknownLevel, "id", "no member level has this id");
        }
        if let Err((field, message)) = rules::keeps_its_place(&ladder(&current), id, d.threshold) {
            return reject(code_for(field), field, message);
        }
    }
    let mut after: Vec<LadderLevel> = current
        .iter()
        .filter(|l| Some(l.id) != id)
        .map(|l| LadderLevel {
            id: Some(l.id),
            name: l.name.clone(),
            threshold: l.growth_threshold,
            rate_bp: l.price_rate_bp,
        })
        .collect();
    after.push(LadderLevel {
        id,
        name: d.name.trim().to_string(),
        threshold: d.threshold,
        rate_bp: d.rate_bp,
    });
    if let Err((field, message)) = rules::check_ladder(&after) {
        return reject(code_for(field), field, message);
    }
    let now = Utc::now();
    let mut active: member_level::ActiveModel = match id {
        Some(id) => current
            .iter()
            .find(|l| l.id == id)
            .cloned()
            .ok_or_else(|| AppError::not_found("member level"))?
            .into(),
        None => member_level::ActiveModel {
            created_at: Set(now),
            ..Default::default()
        },
    };
    active.name = Set(d.name.trim().to_string());
    active.badge_name = Set(d.badge_name.trim().to_string());
    active.growth_threshold = Set(d.threshold);
    active.price_rate_bp = Set(d.rate_bp);
    active.free_shipping = Set(input.free_shipping);
    active.early_access_hours = Set(d.early_access_hours);
    active.birthday_points = Set(d.birthday_points);
    active.points_multiplier_pct = Set(d.multiplier_pct);
    active.updated_at = Set(now);
    let level = active.save(&*tx).await?.try_into_model()?;
    announce_ladder(&tx, level.id, "saved");
    // Members whose growth now reaches a higher level rise with the ladder.
    let ladder_now = ladder(&levels(&*tx).await?);
    let reached: Vec<member::Model> = member::Entity::find()
        .filter(member::Column::Growth.gte(level.growth_threshold))
        .order_by_asc(member::Column::UserId)
        .all(&*tx)
        .await?;
    for m in reached {
        if let Some(to) = rules::raised_level(&ladder_now, m.level_id, m.growth) {
            change_level(&tx, &m, Some(to), Cause::LevelsChanged, None, None).await?;
        }
    }
    tx.commit().await?;
    Ok(level)
}

fn announce_ladder(tx: &WriteTx, level_id: i64, what: &str) {
    events::append(
        tx,
        NewEvent {
            event_type: EVENT_LEVELS_CHANGED,
            aggregate_type: "MemberLevel",
            aggregate_id: level_id,
            recipient_user_id: None,
            payload: json!({ "levelId": level_id, "change": what }),
        },
    );
}

/// Deletes a level. Its holders move to the level their growth reaches without it. The level
/// of 0 growth stays (everyone holds a level).
pub async fn delete_level(app: &AppState, id: i64) -> MemberResult<()> {
    let tx = app.db.begin_write().await?;
    let current = levels(&*tx).await?;
    let Some(level) = current.iter().find(|l| l.id == id) else {
        return reject(Code::UnknownLevel, "id", "no member level has this id");
    };
    if level.growth_threshold == 0 {
        return reject(
            Code::LevelInUse,
            "id",
            "the level of 0 growth cannot be deleted: everyone holds a level",
        );
    }
    member_level::Entity::delete_by_id(id).exec(&*tx).await?;
    let remaining: Vec<member_level::Model> =
        current.iter().filter(|l| l.id != id).cloned().collect();
    let ladder_now = ladder(&remaining);
    let holders = member::Entity::find()
        .filter(member::Column::LevelId.eq(id))
        .order_by_asc(member::Column::UserId)
        .all(&*tx)
        .await?;
    for m in holders {
        let to = rules::level_for(&ladder_now, m.growth).map(|r| r.id);
        change_level(&tx, &m, to, Cause::LevelRemoved, None, None).await?;
    }
    announce_ladder(&tx, id, "deleted");
    tx.commit().await?;
    Ok(())
}

/// Writes a level change: the member's row, the history, a notification and the event.
async fn change_level(
    tx: &WriteTx,
    m: &member::Model,
    to: Option<i64>,
    cause: Cause,
    reason: Option<&str>,
    actor: Option<i64>,
) -> Result<(), AppError> {
    let now = Utc::now();
    member::Entity::update_many()
        .col_expr(member::Column::LevelId, Expr::value(to))
        .col_expr(member::Column::LevelChangedAt, Expr::value(now))
        .col_expr(member::Column::UpdatedAt, Expr::value(now))
        .filter(member::Column::UserId.eq(m.user_id))
        .exec(&**tx)
        .await?;
    member_level_change::ActiveModel {
        user_id: Set(m.user_id),
        from_level_id: Set(m.level_id),
        to_level_id: Set(to),
        growth: Set(m.growth),
        cause: Set(cause.as_str().into()),
        reason: Set(reason.map(str::to_string)),
        actor_user_id: Set(actor),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&**tx)
    .await?;
    let all = member_level::Entity::find().all(&**tx).await?;
    let name = |id: Option<i64>| {
        id.and_then(|id| all.iter().find(|l| l.id == id))
            .map(|l| l.badge_name.clone())
    };
    let (from_name, to_name) = (name(m.level_id), name(to));
    let rank = |id: Option<i64>| {
        id.and_then(|id| all.iter().find(|l| l.id == id))
            .map(|l| l.growth_threshold)
    };
    let up = rank(to) > rank(m.level_id);
    let title = match (&to_name, up) {
        (Some(n), true) => format!("恭喜升级为{n}"),
        (Some(n), false) => format!("会员等级调整为{n}"),
        (None, _) => "会员等级已调整".to_string(),
    };
    notify(
        tx,
        NewNotification {
            user_id: m.user_id,
            kind: NOTIFICATION_KIND,
            title: &title,
            body: &format!(
                "当前成长值 {}。{}",
                m.growth,
                if up {
                    "新的会员权益已生效。"
                } else {
                    ""
                }
            ),
            link: Some("/member"),
        },
    )
    .await?;
    events::append(
        tx,
        NewEvent {
            event_type: EVENT_LEVEL_CHANGED,
            aggregate_type: "Member",
            aggregate_id: m.user_id,
            recipient_user_id: Some(m.user_id),
            payload: json!({
                "userId": m.user_id,
                "fromLevelId": m.level_id,
                "toLevelId": to,
                "fromLevel": from_name,
                "toLevel": to_name,
                "growth": m.growth,
                "cause": cause.as_str(),
            }),
        },
    );
    Ok(())
}

/// The member row of `user_id`, created (with no growth and no level) when missing.
async fn member_row(tx: &WriteTx, user_id: i64) -> Result<member::Model, AppError> {
    adjust(tx, user_id, 0, 0, 0).await
}

/// Adds to a member's growth, spend and order count (creating the row, at the level of 0
/// growth everyone holds from the start: no change, no notification), and returns the row
/// after it. One statement: concurrent payments of one member add up.
async fn adjust(
    tx: &WriteTx,
    user_id: i64,
    growth: i64,
    spend_fen: i64,
    orders: i64,
) -> Result<member::Model, AppError> {
    let now = Utc::now();
    let row = member::Model::find_by_statement(db::stmt(
        tx.get_database_backend(),
        "INSERT INTO members (user_id, growth, spent_fen, orders_count, level_id, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, (SELECT z.id FROM member_levels z \
         WHERE z.growth_threshold <= 0 ORDER BY z.growth_threshold DESC LIMIT 1), $5, $6) \
         ON CONFLICT (user_id) DO UPDATE SET growth = members.growth + excluded.growth, \
         spent_fen = members.spent_fen + excluded.spent_fen, \
         orders_count = members.orders_count + excluded.orders_count, \
         updated_at = excluded.updated_at \
         RETURNING user_id, growth, level_id, level_changed_at, spent_fen, orders_count, \
         created_at, updated_at",
        [
            user_id.into(),
            growth.into(),
            spend_fen.into(),
            orders.into(),
            now.into(),
            now.into(),
        ],
    ))
    .one(&**tx)
    .await?
    .ok_or_else(|| AppError::internal(anyhow::anyhow!("member upsert returned nothing")))?;
    Ok(row)
}

/// Writes one growth change for an order (ledger entry, member totals) and raises the level
/// when growth reached a higher one.
#[allow(clippy::too_many_arguments)]
async fn record_growth(
    tx: &WriteTx,
    user_id: i64,
    order_id: i64,
    refund_no: Option<&str>,
    kind: &str,
    growth: i64,
    spend_fen: i64,
    orders: i64,
) -> Result<(), AppError> {
    let m = adjust(tx, user_id, growth, spend_fen, orders).await?;
    member_growth_entry::ActiveModel {
        user_id: Set(user_id),
        delta: Set(growth),
        spend_fen: Set(spend_fen),
        growth_after: Set(m.growth),
        kind: Set(kind.into()),
        order_id: Set(Some(order_id)),
        refund_no: Set(refund_no.map(str::to_string)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&**tx)
    .await?;
    let ladder = ladder(&levels(&**tx).await?);
    if let Some(to) = rules::raised_level(&ladder, m.level_id, m.growth) {
        change_level(tx, &m, Some(to), Cause::Growth, None, None).await?;
    }
    Ok(())
}

/// An order was paid: its goods money (gifts are free) becomes growth.
pub async fn on_paid(
    tx: &WriteTx,
    user_id: i64,
    order_id: i64,
    goods_fen: i64,
) -> Result<(), AppError> {
    let s = settings(&**tx).await?;
    let growth = rules::growth_for(goods_fen, s.growth_per_yuan);
    record_growth(tx, user_id, order_id, None, "PAID", growth, goods_fen, 1).await
}

#[derive(FromQueryResult)]
struct OrderGrowth {
    paid_growth: Option<i64>,
    paid_spend: Option<i64>,
    given: Option<i64>,
    spend_now: Option<i64>,
}

/// A refund of `goods_fen` of an order went through: the growth the order gave is recomputed
/// on what is still paid for it, and the order no longer counts once nothing is.
pub async fn on_refunded(
    tx: &WriteTx,
    user_id: i64,
    order_id: i64,
    refund_no: &str,
    goods_fen: i64,
) -> Result<(), AppError> {
    if goods_fen <= 0 {
        return Ok(());
    }
    let g = OrderGrowth::find_by_statement(db::stmt(
        tx.get_database_backend(),
        "SELECT CAST(SUM(CASE WHEN kind = 'PAID' THEN delta ELSE 0 END) AS BIGINT) AS paid_growth, \
         CAST(SUM(CASE WHEN kind = 'PAID' THEN spend_fen ELSE 0 END) AS BIGINT) AS paid_spend, \
         CAST(SUM(delta) AS BIGINT) AS given, CAST(SUM(spend_fen) AS BIGINT) AS spend_now \
         FROM member_growth_entries WHERE order_id = $1",
        [order_id.into()],
    ))
    .one(&**tx)
    .await?;
    let Some(g) = g else { return Ok(()) };
    let (paid_growth, paid_spend) = (g.paid_growth.unwrap_or(0), g.paid_spend.unwrap_or(0));
    if paid_spend <= 0 {
        // Paid before members existed: it gave nothing, it takes nothing back.
        return Ok(());
    }
    let spend_now = g.spend_now.unwrap_or(0);
    let back_fen = goods_fen.min(spend_now);
    let still = spend_now - back_fen;
    let taken = rules::growth_taken_back(paid_growth, paid_spend, g.given.unwrap_or(0), still);
    let orders = if spend_now > 0 && still == 0 { -1 } else { 0 };
    record_growth(
        tx,
        user_id,
        order_id,
        Some(refund_no),
        "REFUNDED",
        -taken,
        -back_fen,
        orders,
    )
    .await
}

/// Staff set a member's level by hand (with a reason).
pub async fn set_level(
    app: &AppState,
    actor: i64,
    user_id: i64,
    level_id: i64,
    reason: &str,
) -> MemberResult<member::Model> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return reject(
            Code::InvalidReason,
            "reason",
            "give a reason of 1 to 200 characters",
        );
    }
    let tx = app.db.begin_write().await?;
    if member_level::Entity::find_by_id(level_id)
        .one(&*tx)
        .await?
        .is_none()
    {
        return reject(Code::UnknownLevel, "levelId", "no member level has this id");
    }
    let user = entity::user::Entity::find_by_id(user_id).one(&*tx).await?;
    if user.is_none_or(|u| u.is_staff) {
        return reject(Code::UnknownMember, "userId", "no customer has this id");
    }
    let m = member_row(&tx, user_id).await?;
    if m.level_id != Some(level_id) {
        change_level(
            &tx,
            &m,
            Some(level_id),
            Cause::Manual,
            Some(reason),
            Some(actor),
        )
        .await?;
    }
    let after = member::Entity::find_by_id(user_id)
        .one(&*tx)
        .await?
        .ok_or_else(|| AppError::not_found("member"))?;
    tx.commit().await?;
    Ok(after)
}

/// What a review did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reviewed {
    /// The merchant has not turned the review on.
    Off,
    /// The review of this year ran before (on this or another instance).
    AlreadyDone(i32),
    /// The review of the year ran now and lowered this many members.
    Ran { year: i32, lowered: i64 },
}

#[derive(FromQueryResult)]
struct YearGrowth {
    user_id: i64,
    growth: Option<i64>,
}

/// The yearly review as of `now`: once the shop's calendar has reached a new year, members are
/// lowered to the level their growth over the year just ended reaches (never raised). Runs
/// once per year across instances (the year is unique in `member_reviews`).
pub async fn review(app: &AppState, now: DateTime<Utc>) -> Result<Reviewed, AppError> {
    if !settings(app.db.conn()).await?.yearly_review {
        return Ok(Reviewed::Off);
    }
    let offset = app.config.business_utc_offset_hours;
    let year = rules::review_year(now, offset);
    let tx = app.db.begin_write().await?;
    let claimed = db::exec(
        &*tx,
        "INSERT INTO member_reviews (year, lowered, created_at) VALUES ($1, 0, $2) \
         ON CONFLICT (year) DO NOTHING",
        [year.into(), now.into()],
    )
    .await?;
    if claimed.rows_affected() == 0 {
        return Ok(Reviewed::AlreadyDone(year));
    }
    let (from, to) = (
        rules::year_start_utc(year, offset),
        rules::year_start_utc(year + 1, offset),
    );
    let earned: std::collections::HashMap<i64, i64> = YearGrowth::find_by_statement(db::stmt(
        tx.get_database_backend(),
        "SELECT user_id, CAST(SUM(delta) AS BIGINT) AS growth FROM member_growth_entries \
         WHERE created_at >= $1 AND created_at < $2 GROUP BY user_id",
        [from.into(), to.into()],
    ))
    .all(&*tx)
    .await?
    .into_iter()
    .map(|y| (y.user_id, y.growth.unwrap_or(0)))
    .collect();
    let ladder = ladder(&levels(&*tx).await?);
    let members = member::Entity::find()
        .filter(member::Column::LevelId.is_not_null())
        .order_by_asc(member::Column::UserId)
        .all(&*tx)
        .await?;
    let mut lowered = 0;
    for m in members {
        let year_growth = earned.get(&m.user_id).copied().unwrap_or(0);
        if let Some(to) = rules::reviewed_level(&ladder, m.level_id, year_growth) {
            change_level(&tx, &m, Some(to), Cause::Review, None, None).await?;
            lowered += 1;
        }
    }
    db::exec(
        &*tx,
        "UPDATE member_reviews SET lowered = $1 WHERE year = $2",
        [lowered.into(), year.into()],
    )
    .await?;
    tx.commit().await?;
    Ok(Reviewed::Ran { year, lowered })
}

/// The job's body: reviews when due.
pub async fn review_job(app: std::sync::Arc<AppState>) -> Result<(), AppError> {
    if let Reviewed::Ran { year, lowered } = review(&app, Utc::now()).await? {
        tracing::info!(year, lowered, "yearly member review ran");
    }
    Ok(())
}

/// The level `user_id` holds now: theirs, or (before their first growth) the level of 0
/// growth. One statement.
pub async fn level_of(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Option<member_level::Model>, AppError> {
    Ok(member_level::Model::find_by_statement(db::stmt(
        conn.get_database_backend(),
        "SELECT l.* FROM member_levels l WHERE l.id = COALESCE(\
         (SELECT m.level_id FROM members m WHERE m.user_id = $1), \
         (SELECT z.id FROM member_levels z WHERE z.growth_threshold <= 0 \
          ORDER BY z.growth_threshold DESC LIMIT 1))",
        [user_id.into()],
    ))
    .one(conn)
    .await?)
}

/// A member's row, if they have one yet.
pub async fn member_of(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Option<member::Model>, AppError> {
    Ok(member::Entity::find_by_id(user_id).one(conn).await?)
}

/// Members by id, for staff lists.
pub async fn members(
    conn: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<member::Model>, AppError> {
    Ok(member::Entity::find()
        .filter(member::Column::UserId.is_in(ids.iter().copied()))
        .all(conn)
        .await?)
}

/// The latest level changes of a member, newest first.
pub async fn level_changes(
    conn: &impl ConnectionTrait,
    user_id: i64,
    limit: u64,
) -> Result<Vec<member_level_change::Model>, AppError> {
    Ok(member_level_change::Entity::find()
        .filter(member_level_change::Column::UserId.eq(user_id))
        .order_by_desc(member_level_change::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// The latest growth entries of a member, newest first.
pub async fn growth_entries(
    conn: &impl ConnectionTrait,
    user_id: i64,
    limit: u64,
) -> Result<Vec<member_growth_entry::Model>, AppError> {
    Ok(member_growth_entry::Entity::find()
        .filter(member_growth_entry::Column::UserId.eq(user_id))
        .order_by_desc(member_growth_entry::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}
