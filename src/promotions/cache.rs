//! The activities that have not ended, kept in memory: every checkout prices them and every
//! product page or listing asking for `promotions` labels products with them, while staff
//! change them rarely. Saving, stopping or ending an activity writes `promotions.changed`; the
//! commit hook forgets the list before the writer's next request, the dispatcher on every other
//! instance when the event arrives. Starting and ending by the clock needs no event: the list is
//! filtered by time at each use.
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
