//! The member levels and who holds which, kept in memory for the catalogue's hot path: a
//! signed-in member's product page or listing needs their price level on every request, and a
//! database read per request would cost more than the stored response it selects.
//!
//! Correct before fast: every commit that changes a level or the ladder writes an event
//! (`member.level_changed`, `member.levels_changed`); the commit hook on this instance drops
//! what it names before the writer's next request, and the dispatcher does the same on every
//! other instance when the event arrives. A read that raced such a change is not kept, and no
//! entry lives longer than `ttl`, which bounds the staleness even if an event is missed.
//! Money never depends on this cache: placing an order reads the level from the database
//! (`PricingRequest::placing`); only previews price from here.
use std::{
    collections::HashMap,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use entity::member_level;
use parking_lot::RwLock;
use sea_orm::ConnectionTrait;

use super::{
    PriceLevel,
    service::{self, EVENT_LEVEL_CHANGED, EVENT_LEVELS_CHANGED},
};
use crate::{cached_value::CachedValue, error::AppError};

/// Entries kept before the expired ones are swept.
const SWEEP_AT: usize = 100_000;

/// A member's stored level id (`None`: no member row yet), and when it was read.
type Held = (Instant, Option<i64>);

pub struct MemberCache {
    ttl: Duration,
    ladder: CachedValue<Vec<member_level::Model>>,
    held: RwLock<HashMap<i64, Held>>,
    /// Counts invalidations, so that a read made before one is not kept after it.
    changes: AtomicU64,
}

impl Default for MemberCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(5))
    }
}

impl MemberCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            ladder: CachedValue::default(),
            held: RwLock::default(),
            changes: AtomicU64::new(0),
        }
    }

    /// Drops what an event changes: one member's level, or (the ladder changed) everything.
    /// Called by the commit hook for this instance's commits and by the dispatcher for all.
    pub fn apply(&self, event_type: &str, aggregate_id: i64) {
        if event_type == EVENT_LEVELS_CHANGED {
            self.changes.fetch_add(1, Ordering::SeqCst);
            self.ladder.forget();
            self.held.write().clear();
        } else if event_type == EVENT_LEVEL_CHANGED {
            self.changes.fetch_add(1, Ordering::SeqCst);
            self.held.write().remove(&aggregate_id);
        }
    }

    /// The price level of `user_id` now (see `members::price_level`), from memory when known.
    pub async fn price_level(
        &self,
        conn: &impl ConnectionTrait,
        user_id: i64,
    ) -> Result<Option<PriceLevel>, AppError> {
        Ok(self
            .level(conn, user_id)
            .await?
            .and_then(|l| PriceLevel::of(&l)))
    }

    /// The level `user_id` holds now, as `service::level_of` reads it, from memory when known.
    pub async fn level(
        &self,
        conn: &impl ConnectionTrait,
        user_id: i64,
    ) -> Result<Option<member_level::Model>, AppError> {
        let ladder = self.ladder.get_or_load(|| service::levels(conn)).await?;
        let held = match self.held_level(user_id) {
            Some(held) => held,
            None => self.load_held(conn, user_id).await?,
        };
        let level = match held {
            Some(id) => ladder.iter().find(|l| l.id == id),
            // No member row yet: the level of 0 growth, as `service::level_of` reads it.
            None => ladder.iter().rev().find(|l| l.growth_threshold <= 0),
        };
        Ok(level.cloned())
    }

    fn held_level(&self, user_id: i64) -> Option<Option<i64>> {
        self.held
            .read()
            .get(&user_id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, level)| *level)
    }

    async fn load_held(
        &self,
        conn: &impl ConnectionTrait,
        user_id: i64,
    ) -> Result<Option<i64>, AppError> {
        let before = self.changes.load(Ordering::SeqCst);
        let level = service::member_of(conn, user_id)
            .await?
            .and_then(|m| m.level_id);
        let mut held = self.held.write();
        if self.changes.load(Ordering::SeqCst) == before {
            if held.len() >= SWEEP_AT {
                held.retain(|_, (at, _)| at.elapsed() < self.ttl);
            }
            held.insert(user_id, (Instant::now(), level));
        }
        Ok(level)
    }
}
