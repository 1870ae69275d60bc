//! Distributors, the inviter tree (a closure table) and customer bindings.
//!
//! The tree holds a row (ancestor, descendant, depth) for every pair on a path, each
//! distributor with itself at depth 0: the upline of X is `descendant = X` ordered by depth, the
//! team of X to depth 3 is `ancestor = X AND depth BETWEEN 1 AND 3` — one index range each.
use chrono::{DateTime, Utc};
use entity::{customer_binding, distributor, distributor_tree, user};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, QueryResult, Set, Statement, TransactionTrait, sea_query::Expr,
};
use serde_json::json;

use super::{
    errors::{DistributionErrorCode as Code, DistributionResult, reject},
    rules::{BindingDecision, CurrentBinding, decide_binding},
    settings::DistributionSettings,
};
use crate::{
    accounts::service::{EVENT_UPDATED, account_event},
    db::{self, WriteTx},
    error::AppError,
    events::{self, NewEvent},
};

pub const STATUS_ACTIVE: &str = "ACTIVE";
pub const STATUS_DISABLED: &str = "DISABLED";
pub const EVENT_BOUND: &str = "distribution.customer_bound";

/// Letters and digits that cannot be mistaken for one another when read aloud or typed.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 8;

fn new_referral_code() -> String {
    let mut rng = rand::thread_rng();
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// Normalises a code as people type it (spaces, lower case).
pub fn normalize_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

pub async fn find(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Option<distributor::Model>, AppError> {
    Ok(distributor::Entity::find_by_id(user_id).one(conn).await?)
}

/// The active distributor with `code`.
pub async fn by_code(
    conn: &impl ConnectionTrait,
    code: &str,
) -> Result<Option<distributor::Model>, AppError> {
    Ok(distributor::Entity::find()
        .filter(distributor::Column::ReferralCode.eq(normalize_code(code)))
        .filter(distributor::Column::Status.eq(STATUS_ACTIVE))
        .one(conn)
        .await?)
}

/// `user_id`'s distributor profile when it is active (may earn, recruit and share).
pub async fn active(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Option<distributor::Model>, AppError> {
    Ok(distributor::Entity::find_by_id(user_id)
        .filter(distributor::Column::Status.eq(STATUS_ACTIVE))
        .one(conn)
        .await?)
}

/// Whether `descendant` is in the team of `ancestor` (or is `ancestor`).
pub async fn is_in_team(
    conn: &impl ConnectionTrait,
    ancestor: i64,
    descendant: i64,
) -> Result<bool, AppError> {
    Ok(distributor_tree::Entity::find_by_id((ancestor, descendant))
        .one(conn)
        .await?
        .is_some())
}

/// `user_id` and the distributors above it, nearest first, up to `max_depth` levels above.
pub async fn upline(
    conn: &impl ConnectionTrait,
    user_id: i64,
    max_depth: i32,
) -> Result<Vec<i64>, AppError> {
    Ok(distributor_tree::Entity::find()
        .filter(distributor_tree::Column::DescendantUserId.eq(user_id))
        .filter(distributor_tree::Column::Depth.lte(max_depth))
        .order_by_asc(distributor_tree::Column::Depth)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.ancestor_user_id)
        .collect())
}

/// Makes `user_id` a distributor under `inviter` (checked by the caller: active, not a loop).
/// Grants the role, a unique referral code and the tree rows, in `tx`.
pub async fn create(
    tx: &WriteTx,
    user_id: i64,
    inviter: Option<i64>,
) -> Result<distributor::Model, AppError> {
    let u = user::Entity::find_by_id(user_id)
        .one(&**tx)
        .await?
        .ok_or_else(|| AppError::not_found("User"))?;
    let now = Utc::now();
    let row = loop {
        let attempt = distributor::ActiveModel {
            user_id: Set(user_id),
            referral_code: Set(new_referral_code()),
            status: Set(STATUS_ACTIVE.into()),
            inviter_user_id: Set(inviter),
            level_id: Set(None),
            name: Set(u.nickname.clone()),
            phone: Set(u.phone.clone()),
            team_name: Set(None),
            own_sales_fen: Set(0),
            order_count: Set(0),
            team_level1: Set(0),
            team_level2: Set(0),
            team_level3: Set(0),
            approved_at: Set(now),
            created_at: Set(now),
            updated_at: Set(now),
        };
        // A code collision (1 in 10^12 per pair) is retried; a savepoint keeps the
        // transaction usable on PostgreSQL after the failed insert.
        let sp = tx.begin().await?;
        match attempt.insert(&sp).await {
            Ok(row) => {
                sp.commit().await?;
                break row;
            }
            Err(e) if db::is_unique_violation(&e) => {
                sp.rollback().await?;
                if distributor::Entity::find_by_id(user_id)
                    .one(&**tx)
                    .await?
                    .is_some()
                {
                    return Err(AppError::internal(anyhow::anyhow!(
                        "user {user_id} is a distributor already"
                    )));
                }
            }
            Err(e) => return Err(e.into()),
        }
    };
    attach(tx, user_id, inviter, now).await?;
    user::Entity::update_many()
        .col_expr(user::Column::IsDistributor, Expr::value(true))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(user_id))
        .exec(&**tx)
        .await?;
    account_event(tx, EVENT_UPDATED, user_id, json!({ "change": "ROLE" })).await?;
    Ok(row)
}

/// Tree rows for a new leaf: itself at depth 0, and every ancestor of `inviter` one deeper.
async fn attach(
    tx: &WriteTx,
    user_id: i64,
    inviter: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    distributor_tree::ActiveModel {
        ancestor_user_id: Set(user_id),
        descendant_user_id: Set(user_id),
        depth: Set(0),
        created_at: Set(now),
    }
    .insert(&**tx)
    .await?;
    if let Some(inviter) = inviter {
        db::exec(
            &**tx,
            "INSERT INTO distributor_tree (ancestor_user_id, descendant_user_id, depth, created_at) \
             SELECT ancestor_user_id, $1, depth + 1, $2 FROM distributor_tree \
             WHERE descendant_user_id = $3",
            [user_id.into(), now.into(), inviter.into()],
        )
        .await?;
        // The new member counts once in the team of each of the three above it.
        for (depth, column) in LEVEL_COLUMNS.iter().enumerate() {
            db::exec(
                &**tx,
                &format!(
                    "UPDATE distributors SET {column} = {column} + 1 WHERE user_id IN \
                     (SELECT ancestor_user_id FROM distributor_tree WHERE descendant_user_id = $1 AND depth = $2)"
                ),
                [user_id.into(), (depth as i32 + 1).into()],
            )
            .await?;
        }
    }
    Ok(())
}

/// The counter column of each team level, level 1 first.
const LEVEL_COLUMNS: [&str; 3] = ["team_level1", "team_level2", "team_level3"];

/// Counts the teams of `ancestors` again from the tree (after a move).
async fn recount(tx: &WriteTx, ancestors: &[i64]) -> Result<(), AppError> {
    for ancestor in ancestors {
        for (depth, column) in LEVEL_COLUMNS.iter().enumerate() {
            db::exec(
                &**tx,
                &format!(
                    "UPDATE distributors SET {column} = (SELECT COUNT(*) FROM distributor_tree \
                     WHERE ancestor_user_id = $1 AND depth = $2) WHERE user_id = $1"
                ),
                [(*ancestor).into(), (depth as i32 + 1).into()],
            )
            .await?;
        }
    }
    Ok(())
}

/// Moves `user_id` (with its whole team) under `new_inviter`. Refused when the new inviter is
/// in the moved team (a loop) or is the distributor itself.
pub async fn move_under(
    tx: &WriteTx,
    user_id: i64,
    new_inviter: Option<i64>,
) -> DistributionResult<distributor::Model> {
    let Some(current) = find(&**tx, user_id).await? else {
        return reject(
            Code::DistributorNotFound,
            "distributorId",
            "no such distributor",
        );
    };
    if let Some(inviter) = new_inviter {
        if inviter == user_id {
            return reject(
                Code::SelfReferral,
                "inviterId",
                "a distributor cannot invite themselves",
            );
        }
        if find(&**tx, inviter).await?.is_none() {
            return reject(
                Code::DistributorNotFound,
                "inviterId",
                "no such distributor",
            );
        }
        if is_in_team(&**tx, user_id, inviter).await? {
            return reject(
                Code::ReferralLoop,
                "inviterId",
                "the new inviter is in this distributor's team; moving would make a loop",
            );
        }
    }
    // Only distributors up to three levels above count the moved team.
    let mut affected: Vec<i64> = upline(&**tx, user_id, 3)
        .await?
        .into_iter()
        .skip(1)
        .collect();
    // Cut the subtree from every ancestor above it, then hang it under the new inviter:
    // each (ancestor of the inviter, member of the subtree) pair, depths added.
    db::exec(
        &**tx,
        "DELETE FROM distributor_tree \
         WHERE descendant_user_id IN (SELECT descendant_user_id FROM distributor_tree WHERE ancestor_user_id = $1) \
           AND ancestor_user_id IN (SELECT ancestor_user_id FROM distributor_tree WHERE descendant_user_id = $1 AND depth > 0)",
        [user_id.into()],
    )
    .await?;
    if let Some(inviter) = new_inviter {
        db::exec(
            &**tx,
            "INSERT INTO distributor_tree (ancestor_user_id, descendant_user_id, depth, created_at) \
             SELECT up.ancestor_user_id, down.descendant_user_id, up.depth + down.depth + 1, $1 \
             FROM distributor_tree up, distributor_tree down \
             WHERE up.descendant_user_id = $2 AND down.ancestor_user_id = $3",
            [Utc::now().into(), inviter.into(), user_id.into()],
        )
        .await?;
    }
    affected.extend(upline(&**tx, user_id, 3).await?.into_iter().skip(1));
    affected.sort_unstable();
    affected.dedup();
    recount(tx, &affected).await?;
    let mut active: distributor::ActiveModel = current.into();
    active.inviter_user_id = Set(new_inviter);
    active.updated_at = Set(Utc::now());
    Ok(active.update(&**tx).await?)
}

/// Why a touch did not bind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoBinding {
    /// The code is the customer's own.
    Own,
    /// The customer is a distributor above the sharer: binding would make a loop.
    Loop,
}

/// A customer touched by `sharer` (registered or ordered through their link or code): bind,
/// rebind or keep by the configured mode. Returns the customer's binding afterwards.
pub async fn touch(
    tx: &WriteTx,
    settings: &DistributionSettings,
    customer: i64,
    sharer: &distributor::Model,
    product_id: Option<i64>,
) -> Result<Result<Option<customer_binding::Model>, NoBinding>, AppError> {
    if sharer.user_id == customer {
        return Ok(Err(NoBinding::Own));
    }
    // A distributor bound to someone in their own team would close a loop.
    if is_in_team(&**tx, customer, sharer.user_id).await? {
        return Ok(Err(NoBinding::Loop));
    }
    let now = Utc::now();
    let existing = customer_binding::Entity::find_by_id(customer)
        .one(&**tx)
        .await?;
    // A binding to a distributor who was disabled since holds nobody.
    let holder_active = match &existing {
        Some(b) => find(&**tx, b.distributor_user_id)
            .await?
            .is_some_and(|d| d.status == STATUS_ACTIVE),
        None => false,
    };
    let current = existing
        .as_ref()
        .filter(|_| holder_active)
        .map(|b| CurrentBinding {
            distributor: b.distributor_user_id,
            expires_at: b.expires_at,
        });
    match decide_binding(
        settings.binding_mode,
        settings.binding_days,
        current,
        sharer.user_id,
        now,
    ) {
        BindingDecision::Keep => {
            Ok(Ok(existing.filter(|b| {
                holder_active && b.expires_at.is_none_or(|e| e > now)
            })))
        }
        BindingDecision::Bind { expires_at } => {
            let row = customer_binding::ActiveModel {
                user_id: Set(customer),
                distributor_user_id: Set(sharer.user_id),
                product_id: Set(product_id),
                bound_at: Set(now),
                expires_at: Set(expires_at),
            };
            let row = if existing.is_some() {
                row.update(&**tx).await?
            } else {
                row.insert(&**tx).await?
            };
            events::append(
                tx,
                NewEvent {
                    event_type: EVENT_BOUND,
                    aggregate_type: "Distributor",
                    aggregate_id: sharer.user_id,
                    recipient_user_id: Some(sharer.user_id),
                    payload: json!({ "customerId": customer, "productId": product_id }),
                },
            );
            Ok(Ok(Some(row)))
        }
    }
}

/// The distributor a customer is bound to now, if that binding is live and the distributor
/// active.
pub async fn bound_distributor(
    conn: &impl ConnectionTrait,
    customer: i64,
    now: DateTime<Utc>,
) -> Result<Option<i64>, AppError> {
    Ok(buyer_ties(conn, customer, now).await?.bound)
}

/// A customer's ties to the distribution: whom they are bound to and whether they distribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuyerTies {
    /// The distributor the customer is bound to now (a live binding to an active distributor).
    pub bound: Option<i64>,
    /// Whether the customer is an active distributor.
    pub is_distributor: bool,
}

/// `BuyerTies` of `customer` as of `now`, in one statement.
pub async fn buyer_ties(
    conn: &impl ConnectionTrait,
    customer: i64,
    now: DateTime<Utc>,
) -> Result<BuyerTies, AppError> {
    let row = conn
        .query_one_raw(ties_statement(conn.get_database_backend(), customer))
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no row from the ties query")))?;
    ties_from(&row, now)
}

/// The statement `buyer_ties` runs: always one row. Every order reads it under the write lock
/// (SQLite), together with its order number.
pub fn ties_statement(backend: DatabaseBackend, customer: i64) -> Statement {
    // One positional parameter: on SQLite the statement may share a text with others, where
    // numbered parameters would count from the text's first (`db::execute_all`).
    let parameter = if backend == DatabaseBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    let sql = format!(
        "SELECT (SELECT status FROM distributors WHERE user_id = customer.id) AS own_status, \
            b.distributor_user_id AS bound_to, b.expires_at AS bound_until, \
            d.status AS bound_status \
        FROM (SELECT CAST({parameter} AS BIGINT) AS id) AS customer \
        LEFT JOIN customer_bindings b ON b.user_id = customer.id \
        LEFT JOIN distributors d ON d.user_id = b.distributor_user_id"
    );
    db::stmt(backend, &sql, [customer.into()])
}

/// `BuyerTies` as of `now` from the row of `ties_statement`.
pub fn ties_from(row: &QueryResult, now: DateTime<Utc>) -> Result<BuyerTies, AppError> {
    let own_status: Option<String> = row.try_get("", "own_status")?;
    let bound_to: Option<i64> = row.try_get("", "bound_to")?;
    let bound_until: Option<DateTime<Utc>> = row.try_get("", "bound_until")?;
    let bound_status: Option<String> = row.try_get("", "bound_status")?;
    let live = bound_until.is_none_or(|until| until > now);
    Ok(BuyerTies {
        bound: bound_to.filter(|_| live && bound_status.as_deref() == Some(STATUS_ACTIVE)),
        is_distributor: own_status.as_deref() == Some(STATUS_ACTIVE),
    })
}

/// Members of `ancestor`'s team per level, to depth 3 (kept on the distributor's row).
pub async fn team_counts(
    conn: &impl ConnectionTrait,
    ancestor: i64,
) -> Result<super::types::TeamCounts, AppError> {
    Ok(find(conn, ancestor)
        .await?
        .map(|d| super::types::TeamCounts {
            level1: d.team_level1,
            level2: d.team_level2,
            level3: d.team_level3,
            total: d.team_level1 + d.team_level2 + d.team_level3,
        })
        .unwrap_or_default())
}

/// Records that `code`'s share link was opened. `false` when the code names no active
/// distributor (nothing is written).
pub async fn record_visit(
    app: &crate::app::AppState,
    code: &str,
    product_id: Option<i64>,
    visitor: Option<i64>,
) -> Result<bool, AppError> {
    let Some(d) = by_code(app.db.conn(), code).await? else {
        return Ok(false);
    };
    let tx = app.db.begin_write().await?;
    entity::share_visit::ActiveModel {
        distributor_user_id: Set(d.user_id),
        product_id: Set(product_id),
        visitor_user_id: Set(visitor),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    // Someone else opened the link: the areas that reward sharing act in the same transaction.
    if let Some(v) = visitor.filter(|v| *v != d.user_id) {
        for l in &app.share_listeners {
            l.on_share_visit(app, &tx, d.user_id, v).await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// An area that acts when a distributor's share link is opened by another signed-in user,
/// inside the transaction that records the visit (registered in `app`, as order listeners
/// are).
#[async_trait::async_trait]
pub trait ShareVisitListener: Send + Sync {
    async fn on_share_visit(
        &self,
        app: &crate::app::AppState,
        tx: &crate::db::WriteTx,
        sharer_user_id: i64,
        visitor_user_id: i64,
    ) -> Result<(), AppError>;
}

/// What a touch through a code did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// The customer's binding before and after (the same when the mode kept it).
    To {
        before: Option<i64>,
        after: Option<i64>,
    },
    /// No active distributor has the code.
    UnknownCode,
    Refused(NoBinding),
}

/// The customer came through `code` (opening a share link, registering or signing in through
/// it): binds them by the configured mode, in one transaction.
pub async fn bind_by_code(
    app: &crate::app::AppState,
    customer: i64,
    code: &str,
    product_id: Option<i64>,
) -> Result<Bound, AppError> {
    let tx = app.db.begin_write().await?;
    let Some(sharer) = by_code(&*tx, code).await? else {
        return Ok(Bound::UnknownCode);
    };
    let settings = super::settings::load(&*tx).await?;
    let before = bound_distributor(&*tx, customer, Utc::now()).await?;
    let outcome = touch(&tx, &settings, customer, &sharer, product_id).await?;
    tx.commit().await?;
    Ok(match outcome {
        Ok(binding) => Bound::To {
            before,
            after: binding.map(|b| b.distributor_user_id),
        },
        Err(refused) => Bound::Refused(refused),
    })
}
