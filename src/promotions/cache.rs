//! The activities that have not ended, kept in memory: every checkout prices them and every
//! product page or listing asking for `promotions` labels products with them, while staff
//! change them rarely. Saving, stopping or ending an activity writes `promotions.changed`; the
//! commit hook forgets the list before the writer's next request, the dispatcher on every other
//! instance when the event arrives. Starting and ending by the clock needs no event: the list is
//! filtered by time at each use, and `version` counts the starts and ends passed.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::promotion_activity;
use sea_orm::ConnectionTrait;

use super::service::{self, EVENT_PROMOTIONS_CHANGED};
use crate::{cached_value::CachedValue, error::AppError};

#[derive(Default)]
pub struct ActivityCache {
    upcoming: CachedValue<Vec<promotion_activity::Model>>,
}

impl ActivityCache {
    pub fn apply(&self, event_type: &str) {
        if event_type == EVENT_PROMOTIONS_CHANGED {
            self.upcoming.forget();
        }
    }

    /// A number that moves whenever the running activities may have changed — by an event or
    /// by an activity starting or ending on the clock — for responses that show them
    /// (`catalog::badges`); `None` while the list is not in memory.
    pub fn version(&self, now: DateTime<Utc>) -> Option<u64> {
        let (changes, all) = self.upcoming.peek()?;
        let passed: u64 = all
            .iter()
            .map(|a| u64::from(a.starts_at <= now) + u64::from(a.ends_at <= now))
            .sum();
        Some((changes << 32) | passed.min(u64::from(u32::MAX)))
    }

    /// The activities running at `now`.
    pub async fn running(
        &self,
        conn: &impl ConnectionTrait,
        now: DateTime<Utc>,
    ) -> Result<Vec<promotion_activity::Model>, AppError> {
        let all: Arc<Vec<promotion_activity::Model>> = self
            .upcoming
            .get_or_load(|| service::not_ended(conn, now))
            .await?;
        Ok(all
            .iter()
            .filter(|a| a.starts_at <= now && a.ends_at > now)
            .cloned()
            .collect())
    }
}
