//! Failed-attempt throttling stored in the database, so every instance sees the same counts:
//! sign-ins here, and any other guess-prone input (redeem codes) under a key of its own.
use chrono::{DateTime, Utc};
use entity::login_throttle;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QuerySelect, Set};

use super::rules::{ThrottlePolicy, ThrottleState, after_failure, locked_for};
use crate::{db::WriteTx, error::AppError};

fn state(m: &login_throttle::Model) -> ThrottleState {
    ThrottleState {
        failures: m.failures,
        window_started_at: m.window_started_at,
        locked_until: m.locked_until,
    }
}

/// `RATE_LIMITED` if any of `keys` is locked now.
pub async fn ensure_not_locked(
    conn: &impl ConnectionTrait,
    keys: &[&str],
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    for key in keys {
        if let Some(row) = login_throttle::Entity::find_by_id(key.to_string())
            .one(conn)
            .await?
            && let Some(secs) = locked_for(&state(&row), now)
        {
            return Err(AppError::RateLimited {
                retry_after_secs: secs,
            });
        }
    }
    Ok(())
}

pub async fn record_failure(
    tx: &WriteTx,
    key: &str,
    policy: &ThrottlePolicy,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let mut find = login_throttle::Entity::find_by_id(key.to_string());
    if tx.get_database_backend() == DatabaseBackend::Postgres {
        find = find.lock_exclusive();
    }
    let existing = find.one(&**tx).await?;
    let next = after_failure(existing.as_ref().map(state).as_ref(), now, policy);
    let row = login_throttle::ActiveModel {
        key: Set(key.to_string()),
        failures: Set(next.failures),
        window_started_at: Set(next.window_started_at),
        locked_until: Set(next.locked_until),
    };
    match existing {
        Some(_) => {
            row.update(&**tx).await?;
        }
        None => {
            login_throttle::Entity::insert(row)
                .on_conflict(
                    sea_orm::sea_query::OnConflict::column(login_throttle::Column::Key)
                        .update_columns([
                            login_throttle::Column::Failures,
                            login_throttle::Column::WindowStartedAt,
                            login_throttle::Column::LockedUntil,
                        ])
                        .to_owned(),
                )
                .exec(&**tx)
                .await?;
        }
    }
    Ok(())
}

pub async fn clear(tx: &WriteTx, key: &str) -> Result<(), AppError> {
    login_throttle::Entity::delete_by_id(key.to_string())
        .exec(&**tx)
        .await?;
    Ok(())
}
