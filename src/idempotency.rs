//! Idempotency keys for mutations that move money or stock (ARCHITECTURE.md §4.9): a retry with the same
//! key and the same input returns the first result; the same key with a different input is
//! refused. The key is claimed in the mutation's own transaction, so a result is stored exactly
//! when the change committed.
use chrono::Utc;
use entity::idempotency_key;
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, QueryTrait, Set, Statement};
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

use crate::{db::WriteTx, error::AppError};

pub const KEY_MAX: usize = 100;

/// What an earlier use of the key says.
pub enum Prior<T> {
    /// Not used before: do the work, then `record` the result.
    New,
    /// Used with the same input: return this.
    Replay(T),
    /// Used with a different input.
    Mismatch,
}

/// A stable hash of the request's meaningful input.
pub fn request_hash(input: &impl Serialize) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_vec(input).unwrap_or_default(),
    ))
}

pub fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= KEY_MAX
}

/// What an earlier use of `key` says, read through `conn` (the pool, before taking the write
/// lock, or the mutation's transaction).
pub async fn check<T: DeserializeOwned>(
    conn: &impl ConnectionTrait,
    scope: &str,
    user_id: i64,
    key: &str,
    hash: &str,
) -> Result<Prior<T>, AppError> {
    let found = idempotency_key::Entity::find_by_id((scope.to_string(), user_id, key.to_string()))
        .one(conn)
        .await?;
    Ok(match found {
        None => Prior::New,
        Some(row) if row.request_hash == hash => {
            Prior::Replay(serde_json::from_str(&row.response)?)
        }
        Some(_) => Prior::Mismatch,
    })
}

/// Stores the result under the key; `false` when a concurrent request with the same key
/// committed first (on PostgreSQL the transaction is then aborted: roll it back and `check`
/// again, which replays the winner's result).
pub async fn claim(
    tx: &WriteTx,
    scope: &str,
    user_id: i64,
    key: &str,
    hash: &str,
    response: &impl Serialize,
) -> Result<bool, AppError> {
    let insert = claim_statement(
        tx.get_database_backend(),
        scope,
        user_id,
        key,
        hash,
        response,
    )?;
    Ok(claimed(tx.execute_raw(insert).await)?.is_some())
}

/// The insert `claim` runs, for a caller that sends it together with other statements
/// (`db::execute_all`) and reads the outcome with `claimed`.
pub fn claim_statement(
    backend: DatabaseBackend,
    scope: &str,
    user_id: i64,
    key: &str,
    hash: &str,
    response: &impl Serialize,
) -> Result<Statement, AppError> {
    Ok(
        idempotency_key::Entity::insert(idempotency_key::ActiveModel {
            scope: Set(scope.to_string()),
            user_id: Set(user_id),
            key: Set(key.to_string()),
            request_hash: Set(hash.to_string()),
            response: Set(serde_json::to_string(response)?),
            created_at: Set(Utc::now()),
        })
        .build(backend),
    )
}

/// What the claim's insert (and the statements sent with it) returned when it stored the
/// key: `None` when the key was taken (a unique violation), an error for any other failure.
pub fn claimed<T>(outcome: Result<T, DbErr>) -> Result<Option<T>, AppError> {
    match outcome {
        Ok(t) => Ok(Some(t)),
        Err(e) if crate::db::is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
