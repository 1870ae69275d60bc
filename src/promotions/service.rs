//! Coupon templates and the coupons users hold, 满减 activities: saving them (checked), giving
//! coupons out (claimed in the coupon centre or issued by staff, never more than the template's
//! total nor the per-user limit, also under concurrent claims), and reading what a buyer holds.
use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use entity::{coupon, coupon_template, promotion_activity};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement,
};
use serde::{Deserialize, Serialize};

use super::{
    errors::{PromotionErrorCode as Code, PromotionResult, reject},
    rules::{
        self, ActivityRule, CouponBenefit, CouponTerms, GiftRule, GiftTier, Reduction, Scope, Tier,
    },
};
use crate::{
    app::AppState,
    error::AppError,
    events::{self, NewEvent},
};

/// A coupon template or an activity was saved or stopped.
pub const EVENT_PROMOTIONS_CHANGED: &str = "promotions.changed";

pub const STATUS_ACTIVE: &str = "ACTIVE";
pub const STATUS_STOPPED: &str = "STOPPED";
pub const COUPON_AVAILABLE: &str = "AVAILABLE";
pub const COUPON_USED: &str = "USED";
/// A coupon claimed in the coupon centre (the `source` of its row).
pub const SOURCE_CLAIMED: &str = "CLAIMED";

/// What a coupon gives, as stored.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(name = "CouponBenefit")]
pub enum BenefitKind {
    /// A fixed amount off (满100减20; no threshold: 无门槛).
    AmountOff,
    /// A share of the price off (8.5折), optionally capped.
    PercentOff,
    /// No shipping fee.
    FreeShipping,
}

impl BenefitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BenefitKind::AmountOff => "AMOUNT_OFF",
            BenefitKind::PercentOff => "PERCENT_OFF",
            BenefitKind::FreeShipping => "FREE_SHIPPING",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "PERCENT_OFF" => BenefitKind::PercentOff,
            "FREE_SHIPPING" => BenefitKind::FreeShipping,
            _ => BenefitKind::AmountOff,
        }
    }
}

/// Which products a coupon or an activity applies to.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(name = "PromotionScope")]
pub enum ScopeKind {
    /// Every product.
    Shop,
    /// Products in the listed categories or their sub-categories.
    Categories,
    /// The listed products.
    Products,
    /// Every product but the listed ones.
    AllExcept,
}

impl ScopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Shop => "SHOP",
            ScopeKind::Categories => "CATEGORIES",
            ScopeKind::Products => "PRODUCTS",
            ScopeKind::AllExcept => "ALL_EXCEPT",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "CATEGORIES" => ScopeKind::Categories,
            "PRODUCTS" => ScopeKind::Products,
            "ALL_EXCEPT" => ScopeKind::AllExcept,
            _ => ScopeKind::Shop,
        }
    }
}

/// Who may have a coupon.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(name = "CouponAudience")]
pub enum Audience {
    /// Every customer.
    Anyone,
    /// Customers without a paid order yet (新人券).
    NewUsers,
    /// Members of the listed levels.
    Levels,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Anyone => "ANYONE",
            Audience::NewUsers => "NEW_USERS",
            Audience::Levels => "LEVELS",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "NEW_USERS" => Audience::NewUsers,
            "LEVELS" => Audience::Levels,
            _ => Audience::Anyone,
        }
    }
}

/// A coupon template as staff save it.
#[derive(Clone, Debug)]
pub struct TemplateDraft {
    pub name: String,
    pub benefit: BenefitKind,
    pub threshold_fen: i64,
    pub amount_fen: i64,
    pub rate_bp: i32,
    pub cap_fen: Option<i64>,
    pub scope: ScopeKind,
    pub scope_ids: Vec<i64>,
    pub audience: Audience,
    pub level_ids: Vec<i64>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub valid_days: Option<i32>,
    pub total_quantity: i64,
    pub per_user_limit: i32,
    pub stacks_with_activities: bool,
    pub claimable: bool,
    pub points_price: Option<i64>,
    pub issue_on: Option<super::occasions::Occasion>,
}

fn ids_json(ids: &[i64]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

pub fn ids_of(json: &str) -> Vec<i64> {
    serde_json::from_str(json).unwrap_or_default()
}

fn valid_name(name: &str) -> bool {
    let n = name.trim().chars().count();
    (1..=40).contains(&n)
}

/// Checks a draft's own fields (not yet the ids it names).
fn check_template(d: &TemplateDraft, now: DateTime<Utc>) -> PromotionResult<()> {
    if !valid_name(&d.name) {
        return reject(Code::InvalidName, "name", "a name is 1 to 40 characters");
    }
    let max = crate::money::MAX_FEN;
    if !(0..=max).contains(&d.threshold_fen) {
        return reject(
            Code::InvalidAmount,
            "threshold",
            "the threshold is ¥0.00 or more",
        );
    }
    match d.benefit {
        BenefitKind::AmountOff => {
            if d.amount_fen < 1 || d.amount_fen > max {
                return reject(
                    Code::InvalidAmount,
                    "amount",
                    "the amount off is ¥0.01 or more",
                );
            }
            if d.threshold_fen > 0 && d.amount_fen > d.threshold_fen {
                return reject(
                    Code::InvalidAmount,
                    "amount",
                    "the amount off cannot exceed the threshold",
                );
            }
        }
        BenefitKind::PercentOff => {
            if !(1..rules::FULL_RATE_BP).contains(&d.rate_bp) {
                return reject(
                    Code::InvalidAmount,
                    "rate",
                    "the rate paid is between 0.01 % and 99.99 % (8.5折 is 85.00)",
                );
            }
            if d.cap_fen.is_some_and(|c| c < 1 || c > max) {
                return reject(Code::InvalidAmount, "cap", "a cap is ¥0.01 or more");
            }
        }
        BenefitKind::FreeShipping => {}
    }
    if d.scope != ScopeKind::Shop && d.scope_ids.is_empty() {
        return reject(
            Code::InvalidScope,
            "scopeIds",
            "name the categories or products",
        );
    }
    if d.audience == Audience::Levels && d.level_ids.is_empty() {
        return reject(Code::InvalidAudience, "levelIds", "name the member levels");
    }
    match (d.valid_from, d.valid_until, d.valid_days) {
        (Some(from), Some(until), None) if until > from && until > now => {}
        (None, None, Some(days)) if (1..=3_650).contains(&days) => {}
        _ => {
            return reject(
                Code::InvalidValidity,
                "validUntil",
                "give a window (validFrom before validUntil, not yet ended) or validDays (1 to 3650), not both",
            );
        }
    }
    if !(1..=10_000_000).contains(&d.total_quantity) {
        return reject(
            Code::InvalidQuantity,
            "totalQuantity",
            "the total is 1 to 10,000,000",
        );
    }
    if d.points_price
        .is_some_and(|p| !(1..=100_000_000).contains(&p))
    {
        return reject(
            Code::InvalidAmount,
            "pointsPrice",
            "a points price is 1 to 100,000,000 points",
        );
    }
    if !(1..=100).contains(&d.per_user_limit) {
        return reject(
            Code::InvalidQuantity,
            "perUserLimit",
            "the per-user limit is 1 to 100",
        );
    }
    Ok(())
}

/// Whether every id of `scope` names a category or a product.
async fn scope_exists(app: &AppState, scope: ScopeKind, ids: &[i64]) -> Result<bool, AppError> {
    let conn = app.db.conn();
    let wanted: HashSet<i64> = ids.iter().copied().collect();
    Ok(match scope {
        ScopeKind::Shop => true,
        ScopeKind::Categories => {
            let all = app.catalog.categories(conn).await?;
            wanted.iter().all(|id| all.iter().any(|c| c.id == *id))
        }
        ScopeKind::Products | ScopeKind::AllExcept => {
            let found = app.catalog.bundles(conn, ids).await?;
            wanted.iter().all(|id| found.contains_key(id))
        }
    })
}

async fn levels_exist(app: &AppState, ids: &[i64]) -> Result<bool, AppError> {
    let levels = crate::members::service::levels(app.db.conn()).await?;
    Ok(ids.iter().all(|id| levels.iter().any(|l| l.id == *id)))
}

fn announce(tx: &crate::db::WriteTx, aggregate_type: &'static str, id: i64, what: &str) {
    events::append(
        tx,
        NewEvent {
            event_type: EVENT_PROMOTIONS_CHANGED,
            aggregate_type,
            aggregate_id: id,
            recipient_user_id: None,
            payload: serde_json::json!({ "change": what }),
        },
    );
}

pub async fn create_template(
    app: &AppState,
    d: TemplateDraft,
) -> PromotionResult<coupon_template::Model> {
    let now = Utc::now();
    check_template(&d, now)?;
    if !scope_exists(app, d.scope, &d.scope_ids).await? {
        return reject(
            Code::InvalidScope,
            "scopeIds",
            "an id names no such category or product",
        );
    }
    if d.audience == Audience::Levels && !levels_exist(app, &d.level_ids).await? {
        return reject(
            Code::InvalidAudience,
            "levelIds",
            "an id names no member level",
        );
    }
    let tx = app.db.begin_write().await?;
    let saved = coupon_template::ActiveModel {
        name: Set(d.name.trim().to_string()),
        benefit: Set(d.benefit.as_str().into()),
        threshold_fen: Set(d.threshold_fen),
        amount_fen: Set(if d.benefit == BenefitKind::AmountOff {
            d.amount_fen
        } else {
            0
        }),
        rate_bp: Set(if d.benefit == BenefitKind::PercentOff {
            d.rate_bp
        } else {
            rules::FULL_RATE_BP
        }),
        cap_fen: Set(d.cap_fen.filter(|_| d.benefit == BenefitKind::PercentOff)),
        scope: Set(d.scope.as_str().into()),
        scope_ids: Set(ids_json(if d.scope == ScopeKind::Shop {
            &[]
        } else {
            &d.scope_ids
        })),
        audience: Set(d.audience.as_str().into()),
        audience_ids: Set(ids_json(if d.audience == Audience::Levels {
            &d.level_ids
        } else {
            &[]
        })),
        valid_from: Set(d.valid_from),
        valid_until: Set(d.valid_until),
        valid_days: Set(d.valid_days),
        total_quantity: Set(d.total_quantity),
        issued_count: Set(0),
        per_user_limit: Set(d.per_user_limit),
        stacks_with_activities: Set(d.stacks_with_activities),
        claimable: Set(d.claimable),
        points_price: Set(d.points_price),
        issue_on: Set(d.issue_on.map(|o| o.as_str().to_string())),
        status: Set(STATUS_ACTIVE.into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    announce(&tx, "CouponTemplate", saved.id, "created");
    tx.commit().await?;
    Ok(saved)
}

/// Stops giving out a template's coupons (those already held stay usable).
pub async fn stop_template(app: &AppState, id: i64) -> PromotionResult<coupon_template::Model> {
    let tx = app.db.begin_write().await?;
    let Some(t) = coupon_template::Entity::find_by_id(id).one(&*tx).await? else {
        return reject(Code::TemplateNotFound, "id", "no such coupon template");
    };
    let mut active: coupon_template::ActiveModel = t.into();
    active.status = Set(STATUS_STOPPED.into());
    active.updated_at = Set(Utc::now());
    let stopped = active.update(&*tx).await?;
    announce(&tx, "CouponTemplate", id, "stopped");
    tx.commit().await?;
    Ok(stopped)
}

/// The window a coupon given out now is valid in.
pub fn validity_of(
    t: &coupon_template::Model,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    match (t.valid_from, t.valid_until, t.valid_days) {
        (Some(from), Some(until), _) => (from, until),
        (_, _, Some(days)) => (now, now + Duration::days(i64::from(days))),
        _ => (now, now),
    }
}

/// Whether `user_id` is in the template's audience now.
pub(super) async fn eligible(
    app: &AppState,
    t: &coupon_template::Model,
    user_id: i64,
) -> Result<bool, AppError> {
    Ok(match Audience::parse(&t.audience) {
        Audience::Anyone => true,
        Audience::NewUsers => crate::members::service::member_of(app.db.conn(), user_id)
            .await?
            .is_none_or(|m| m.orders_count == 0 && m.spent_fen == 0),
        Audience::Levels => {
            let level = crate::members::benefits_of(app.db.conn(), user_id)
                .await?
                .level_id;
            level.is_some_and(|l| ids_of(&t.audience_ids).contains(&l))
        }
    })
}

/// The per-user counter raised below `limit`: no row back when the user is at the limit.
fn claim_counter(
    backend: sea_orm::DatabaseBackend,
    template_id: i64,
    user_id: i64,
    limit: i32,
) -> Statement {
    crate::db::stmt(
        backend,
        "INSERT INTO coupon_claims (template_id, user_id, claimed) VALUES ($1, $2, 1) \
         ON CONFLICT (template_id, user_id) DO UPDATE SET claimed = coupon_claims.claimed + 1 \
         WHERE coupon_claims.claimed < $3 RETURNING claimed",
        [template_id.into(), user_id.into(), limit.into()],
    )
}

/// Gives `user_id` one coupon of template `template_id`: the total and the per-user limit
/// are decided by conditional writes in the transaction, so concurrent claims never pass them.
pub async fn give(
    app: &AppState,
    template_id: i64,
    user_id: i64,
    source: &str,
) -> PromotionResult<coupon::Model> {
    let t = givable(app, template_id, user_id, source).await?;
    let tx = app.db.begin_write().await?;
    match give_in(&tx, &t, user_id, source).await {
        Ok(c) => {
            tx.commit().await?;
            Ok(c)
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    }
}

/// The template, if it may give `user_id` a coupon now (before the conditional writes).
pub(super) async fn givable(
    app: &AppState,
    template_id: i64,
    user_id: i64,
    source: &str,
) -> PromotionResult<coupon_template::Model> {
    let now = Utc::now();
    let Some(t) = coupon_template::Entity::find_by_id(template_id)
        .one(app.db.conn())
        .await?
    else {
        return reject(
            Code::TemplateNotFound,
            "templateId",
            "no such coupon template",
        );
    };
    let ended = t.valid_until.is_some_and(|u| u <= now);
    if t.status != STATUS_ACTIVE || ended || (source == SOURCE_CLAIMED && !t.claimable) {
        return reject(
            Code::TemplateUnavailable,
            "templateId",
            "this coupon is no longer given out",
        );
    }
    if !eligible(app, &t, user_id).await? {
        return reject(
            Code::NotEligible,
            "templateId",
            match Audience::parse(&t.audience) {
                Audience::NewUsers => "this coupon is for new customers",
                _ => "this coupon is for members of other levels",
            },
        );
    }
    Ok(t)
}

/// The writes of giving a coupon, in the caller's transaction; on a refusal the caller rolls
/// back (the per-user counter may have moved).
async fn give_in(
    tx: &crate::db::WriteTx,
    t: &coupon_template::Model,
    user_id: i64,
    source: &str,
) -> PromotionResult<coupon::Model> {
    let now = Utc::now();
    if !count_claim(tx, t, user_id).await? {
        return limit_reached(t);
    }
    take_one(tx, t).await?;
    Ok(insert_coupon(tx, t, user_id, source, now).await?)
}

/// Raises `user_id`'s count of the template's coupons, unless they are at its per-user limit
/// (false).
pub(super) async fn count_claim(
    tx: &crate::db::WriteTx,
    t: &coupon_template::Model,
    user_id: i64,
) -> Result<bool, AppError> {
    let backend = tx.get_database_backend();
    Ok(tx
        .query_one_raw(claim_counter(backend, t.id, user_id, t.per_user_limit))
        .await?
        .is_some())
}

pub(super) fn limit_reached<T>(t: &coupon_template::Model) -> PromotionResult<T> {
    reject(
        Code::LimitReached,
        "templateId",
        format!("one person may hold {} of this coupon", t.per_user_limit),
    )
}

pub(super) fn sold_out<T>() -> PromotionResult<T> {
    reject(
        Code::SoldOut,
        "templateId",
        "every coupon has been given out",
    )
}

/// Counts one more coupon of the template given out, while it has some left.
pub(super) async fn take_one(
    tx: &crate::db::WriteTx,
    t: &coupon_template::Model,
) -> PromotionResult<()> {
    let taken = tx
        .execute_raw(crate::db::stmt(
            tx.get_database_backend(),
            "UPDATE coupon_templates SET issued_count = issued_count + 1 \
             WHERE id = $1 AND issued_count < total_quantity AND status = 'ACTIVE'",
            [t.id.into()],
        ))
        .await?;
    if taken.rows_affected() == 0 {
        return sold_out();
    }
    Ok(())
}

/// The coupon row of one coupon given to `user_id`.
pub(super) async fn insert_coupon(
    tx: &crate::db::WriteTx,
    t: &coupon_template::Model,
    user_id: i64,
    source: &str,
    now: DateTime<Utc>,
) -> Result<coupon::Model, AppError> {
    let (valid_from, valid_until) = validity_of(t, now);
    Ok(coupon::ActiveModel {
        template_id: Set(t.id),
        user_id: Set(user_id),
        status: Set(COUPON_AVAILABLE.into()),
        source: Set(source.into()),
        valid_from: Set(valid_from),
        valid_until: Set(valid_until),
        order_id: Set(None),
        used_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&**tx)
    .await?)
}

/// Exchanges the template's points price for one of its coupons (积分兑券), in one transaction:
/// too few points refuses with `INSUFFICIENT_POINTS` and nothing changes.
pub async fn exchange_points(
    app: &AppState,
    template_id: i64,
    user_id: i64,
) -> PromotionResult<coupon::Model> {
    let t = givable(app, template_id, user_id, "POINTS").await?;
    let Some(price) = t.points_price else {
        return reject(
            Code::TemplateUnavailable,
            "templateId",
            "this coupon cannot be exchanged for points",
        );
    };
    let tx = app.db.begin_write().await?;
    let coupon = match give_in(&tx, &t, user_id, "POINTS").await {
        Ok(c) => c,
        Err(e) => {
            tx.rollback().await?;
            return Err(e);
        }
    };
    let paid = crate::points::ledger::debit(
        &tx,
        user_id,
        price,
        false,
        crate::points::ledger::Reference {
            kind: crate::points::ledger::EntryKind::Spend,
            reference_type: "COUPON",
            reference_id: coupon.id,
            note: Some(&t.name),
            actor_user_id: None,
        },
    )
    .await?;
    if paid.is_none() {
        tx.rollback().await?;
        return reject(
            Code::InsufficientPoints,
            "templateId",
            format!("this coupon costs {price} points"),
        );
    }
    tx.commit().await?;
    Ok(coupon)
}

/// Redeem codes: 16 characters from an alphabet without look-alikes (about 79 bits), so they
/// cannot be guessed; failed tries are throttled per user (`REDEEM_POLICY`).
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const CODE_LEN: usize = 16;

/// Five wrong codes within ten minutes lock the user out of redeeming for ten minutes.
fn redeem_policy() -> crate::accounts::rules::ThrottlePolicy {
    crate::accounts::rules::ThrottlePolicy {
        max_failures: 5,
        window: Duration::minutes(10),
        lockout: Duration::minutes(10),
    }
}

/// A code as typed (spaces, dashes, lower case) reduced to what was generated.
pub fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn code_hash(code: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(normalise_code(code).as_bytes()))
}

/// `count` new one-time codes for a template (1 to 10,000), shown this once: only their hashes
/// are stored. A code gives a coupon while the template has some left.
pub async fn generate_codes(
    app: &AppState,
    template_id: i64,
    count: i64,
) -> PromotionResult<Vec<String>> {
    if !(1..=10_000).contains(&count) {
        return reject(
            Code::InvalidQuantity,
            "count",
            "generate 1 to 10,000 codes at once",
        );
    }
    let Some(t) = coupon_template::Entity::find_by_id(template_id)
        .one(app.db.conn())
        .await?
    else {
        return reject(
            Code::TemplateNotFound,
            "templateId",
            "no such coupon template",
        );
    };
    if t.status != STATUS_ACTIVE {
        return reject(
            Code::TemplateUnavailable,
            "templateId",
            "this template was stopped",
        );
    }
    let codes: Vec<String> = {
        use rand::{Rng, rngs::OsRng};
        (0..count)
            .map(|_| {
                (0..CODE_LEN)
                    .map(|_| CODE_ALPHABET[OsRng.gen_range(0..CODE_ALPHABET.len())] as char)
                    .collect()
            })
            .collect()
    };
    let now = Utc::now();
    let tx = app.db.begin_write().await?;
    for chunk in codes.chunks(500) {
        entity::coupon_code::Entity::insert_many(chunk.iter().map(|c| {
            entity::coupon_code::ActiveModel {
                code_hash: Set(code_hash(c)),
                template_id: Set(t.id),
                redeemed_by: Set(None),
                redeemed_at: Set(None),
                created_at: Set(now),
            }
        }))
        .exec_without_returning(&*tx)
        .await?;
    }
    tx.commit().await?;
    Ok(codes)
}

/// Redeems a code for `user_id`: one coupon of its template, and the code is spent. A wrong or
/// spent code counts towards the user's throttle; while locked, `RATE_LIMITED`.
pub async fn redeem_code(
    app: &AppState,
    user_id: i64,
    code: &str,
) -> PromotionResult<coupon::Model> {
    let now = Utc::now();
    let key = format!("coupon-code:{user_id}");
    crate::accounts::throttle::ensure_not_locked(app.db.conn(), &[&key], now).await?;
    let hash = code_hash(code);
    let found = entity::coupon_code::Entity::find_by_id(hash.clone())
        .one(app.db.conn())
        .await?
        .filter(|c| c.redeemed_by.is_none());
    let Some(found) = found else {
        let tx = app.db.begin_write().await?;
        crate::accounts::throttle::record_failure(&tx, &key, &redeem_policy(), now).await?;
        tx.commit().await?;
        return reject(Code::InvalidCode, "code", "this code is wrong or was used");
    };
    let t = givable(app, found.template_id, user_id, "CODE").await?;
    let tx = app.db.begin_write().await?;
    let spent = tx
        .execute_raw(crate::db::stmt(
            tx.get_database_backend(),
            "UPDATE coupon_codes SET redeemed_by = $1, redeemed_at = $2 \
             WHERE code_hash = $3 AND redeemed_by IS NULL",
            [user_id.into(), now.into(), hash.into()],
        ))
        .await?;
    if spent.rows_affected() == 0 {
        tx.rollback().await?;
        return reject(Code::InvalidCode, "code", "this code is wrong or was used");
    }
    match give_in(&tx, &t, user_id, "CODE").await {
        Ok(c) => {
            tx.commit().await?;
            Ok(c)
        }
        // The code stays unspent: the coupon could not be given.
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    }
}

/// Templates offered in the coupon centre now: active, claimable, not sold out, not ended.
pub async fn offered(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Vec<coupon_template::Model>, AppError> {
    Ok(coupon_template::Entity::find()
        .filter(coupon_template::Column::Status.eq(STATUS_ACTIVE))
        .filter(coupon_template::Column::Claimable.eq(true))
        .filter(
            sea_orm::Condition::any()
                .add(coupon_template::Column::ValidUntil.is_null())
                .add(coupon_template::Column::ValidUntil.gt(now)),
        )
        .order_by_desc(coupon_template::Column::Id)
        .limit(100)
        .all(conn)
        .await?
        .into_iter()
        .filter(|t| t.issued_count < t.total_quantity)
        .collect())
}

/// Coupons held by `user_id`, with their templates, newest first: one statement (a join).
/// `only`: just this coupon (if it is theirs), whatever its state.
pub async fn held(
    conn: &impl ConnectionTrait,
    user_id: i64,
    only_available: bool,
    only: Option<i64>,
) -> Result<Vec<(coupon::Model, coupon_template::Model)>, AppError> {
    let mut q = coupon::Entity::find().filter(coupon::Column::UserId.eq(user_id));
    if only_available {
        q = q.filter(coupon::Column::Status.eq(COUPON_AVAILABLE));
    }
    if let Some(id) = only {
        q = q.filter(coupon::Column::Id.eq(id));
    }
    Ok(q.find_also_related(coupon_template::Entity)
        .order_by_desc(coupon::Column::Id)
        .limit(500)
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|(c, t)| t.map(|t| (c, t)))
        .collect())
}

/// A scope with its categories' sub-categories included.
pub async fn scope_of(app: &AppState, kind: ScopeKind, ids_json: &str) -> Result<Scope, AppError> {
    let ids = ids_of(ids_json);
    Ok(match kind {
        ScopeKind::Shop => Scope::Shop,
        ScopeKind::Products => Scope::Products(ids.into_iter().collect()),
        ScopeKind::AllExcept => Scope::AllExcept(ids.into_iter().collect()),
        ScopeKind::Categories => {
            let all = app.catalog.categories(app.db.conn()).await?;
            let parents = crate::catalog::taxonomy::parents_of(&all);
            Scope::Categories(
                ids.iter()
                    .flat_map(|c| crate::catalog::rules::descendants(&parents, *c))
                    .collect(),
            )
        }
    })
}

/// What a template's coupons give, as promotion arithmetic reads it.
pub fn benefit_of(t: &coupon_template::Model) -> CouponBenefit {
    match BenefitKind::parse(&t.benefit) {
        BenefitKind::AmountOff => CouponBenefit::AmountOff {
            amount_fen: t.amount_fen,
        },
        BenefitKind::PercentOff => CouponBenefit::PercentOff {
            rate_bp: t.rate_bp,
            cap_fen: t.cap_fen,
        },
        BenefitKind::FreeShipping => CouponBenefit::FreeShipping,
    }
}

/// A template's terms, as promotion arithmetic reads them.
pub async fn terms_of(app: &AppState, t: &coupon_template::Model) -> Result<CouponTerms, AppError> {
    Ok(CouponTerms {
        benefit: benefit_of(t),
        threshold_fen: t.threshold_fen,
        scope: scope_of(app, ScopeKind::parse(&t.scope), &t.scope_ids).await?,
        stacks_with_activities: t.stacks_with_activities,
    })
}

/// An activity's rule as stored (JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StoredRule {
    /// 满减 tiers, `(threshold_fen, off_fen)`.
    Tiers { tiers: Vec<(i64, i64)> },
    /// 每满 `step_fen` 减 `off_fen`, at most `cap_fen`.
    Every {
        step_fen: i64,
        off_fen: i64,
        cap_fen: Option<i64>,
    },
    /// 满赠 tiers, `(threshold, sku_id, quantity)`; thresholds in fen, or units `by_quantity`.
    Gift {
        by_quantity: bool,
        tiers: Vec<(i64, i64, i64)>,
    },
}

impl StoredRule {
    pub fn rule(&self) -> ActivityRule {
        match self {
            StoredRule::Tiers { tiers } => ActivityRule::Reduction(Reduction::Tiers(
                tiers
                    .iter()
                    .map(|(threshold_fen, off_fen)| Tier {
                        threshold_fen: *threshold_fen,
                        off_fen: *off_fen,
                    })
                    .collect(),
            )),
            StoredRule::Every {
                step_fen,
                off_fen,
                cap_fen,
            } => ActivityRule::Reduction(Reduction::Every {
                step_fen: *step_fen,
                off_fen: *off_fen,
                cap_fen: *cap_fen,
            }),
            StoredRule::Gift { by_quantity, tiers } => ActivityRule::Gift(GiftRule {
                by_quantity: *by_quantity,
                tiers: tiers
                    .iter()
                    .map(|(threshold, sku_id, quantity)| GiftTier {
                        threshold: *threshold,
                        sku_id: *sku_id,
                        quantity: *quantity,
                    })
                    .collect(),
            }),
        }
    }

    /// The gift SKUs the rule names.
    fn gift_skus(&self) -> Vec<i64> {
        match self {
            StoredRule::Gift { tiers, .. } => tiers.iter().map(|t| t.1).collect(),
            _ => Vec::new(),
        }
    }
}

pub fn rule_of(a: &promotion_activity::Model) -> Option<ActivityRule> {
    serde_json::from_str::<StoredRule>(&a.rule)
        .ok()
        .map(|r| r.rule())
}

/// An activity as staff save it.
pub struct ActivityDraft {
    pub name: String,
    pub rule: StoredRule,
    pub scope: ScopeKind,
    pub scope_ids: Vec<i64>,
    pub level_ids: Vec<i64>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

pub async fn create_activity(
    app: &AppState,
    d: ActivityDraft,
) -> PromotionResult<promotion_activity::Model> {
    let now = Utc::now();
    if !valid_name(&d.name) {
        return reject(Code::InvalidName, "name", "a name is 1 to 40 characters");
    }
    if let Err(e) = d.rule.rule().validate() {
        return reject(
            Code::InvalidTiers,
            "tiers",
            match e {
                rules::ReductionError::NoTier => "give at least one tier",
                rules::ReductionError::BadTier => {
                    "each tier takes ¥0.01 or more off and no more than its threshold, or gives 1 to 99 units"
                }
                rules::ReductionError::Overlapping => {
                    "thresholds and the amounts off must both rise from tier to tier"
                }
                rules::ReductionError::BadCap => "the cap must be at least one step's amount",
            },
        );
    }
    if d.ends_at <= d.starts_at || d.ends_at <= now {
        return reject(
            Code::InvalidWindow,
            "endsAt",
            "the end must be after the start, and not passed",
        );
    }
    if d.scope != ScopeKind::Shop && d.scope_ids.is_empty() {
        return reject(
            Code::InvalidScope,
            "scopeIds",
            "name the categories or products",
        );
    }
    if !scope_exists(app, d.scope, &d.scope_ids).await? {
        return reject(
            Code::InvalidScope,
            "scopeIds",
            "an id names no such category or product",
        );
    }
    if !levels_exist(app, &d.level_ids).await? {
        return reject(
            Code::InvalidAudience,
            "levelIds",
            "an id names no member level",
        );
    }
    let gifts = d.rule.gift_skus();
    let found = entity::sku::Entity::find()
        .filter(entity::sku::Column::Id.is_in(gifts.iter().copied()))
        .all(app.db.conn())
        .await?;
    if gifts.iter().any(|g| !found.iter().any(|s| s.id == *g)) {
        return reject(Code::InvalidTiers, "gifts", "a gift names no such SKU");
    }
    let tx = app.db.begin_write().await?;
    let saved = promotion_activity::ActiveModel {
        name: Set(d.name.trim().to_string()),
        kind: Set(if gifts.is_empty() {
            "FULL_REDUCTION"
        } else {
            "GIFT"
        }
        .into()),
        rule: Set(serde_json::to_string(&d.rule).map_err(AppError::internal)?),
        scope: Set(d.scope.as_str().into()),
        scope_ids: Set(ids_json(if d.scope == ScopeKind::Shop {
            &[]
        } else {
            &d.scope_ids
        })),
        level_ids: Set(ids_json(&d.level_ids)),
        starts_at: Set(d.starts_at),
        ends_at: Set(d.ends_at),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    announce(&tx, "PromotionActivity", saved.id, "created");
    tx.commit().await?;
    Ok(saved)
}

/// Ends an activity now.
pub async fn end_activity(app: &AppState, id: i64) -> PromotionResult<promotion_activity::Model> {
    let tx = app.db.begin_write().await?;
    let Some(a) = promotion_activity::Entity::find_by_id(id).one(&*tx).await? else {
        return reject(Code::ActivityNotFound, "id", "no such activity");
    };
    let mut active: promotion_activity::ActiveModel = a.into();
    active.active = Set(false);
    active.updated_at = Set(Utc::now());
    let ended = active.update(&*tx).await?;
    announce(&tx, "PromotionActivity", id, "ended");
    tx.commit().await?;
    Ok(ended)
}

/// Active activities that have not ended by `now` (running or still to start).
pub async fn not_ended(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<Vec<promotion_activity::Model>, AppError> {
    Ok(promotion_activity::Entity::find()
        .filter(promotion_activity::Column::Active.eq(true))
        .filter(promotion_activity::Column::EndsAt.gt(now))
        .order_by_asc(promotion_activity::Column::Id)
        .all(conn)
        .await?)
}
