//! Hot keywords: what shoppers search for most over the last seven days. Searches are counted in
//! memory and added to the per-day table every few seconds, so a search never waits for a
//! database write.
use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::NaiveDate;
use entity::search_keyword_daily;
use parking_lot::Mutex;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, EntityTrait, Set, Statement,
    sea_query::{Alias, Expr, ExprTrait, OnConflict},
};

use crate::{app::AppState, error::AppError};

/// Longest keyword counted (longer ones are not what people type into a search box).
const KEYWORD_MAX: usize = 32;

#[derive(Default)]
pub struct KeywordCounter {
    pending: Mutex<HashMap<String, i64>>,
}

/// The form a keyword is counted in: trimmed, lower-case, inner whitespace collapsed.
pub fn normalize(keyword: &str) -> Option<String> {
    let k = keyword
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    (!k.is_empty() && k.chars().count() <= KEYWORD_MAX).then_some(k)
}

impl KeywordCounter {
    pub fn record(&self, keyword: &str) {
        if let Some(k) = normalize(keyword) {
            *self.pending.lock().entry(k).or_default() += 1;
        }
    }

    fn take(&self) -> HashMap<String, i64> {
        std::mem::take(&mut *self.pending.lock())
    }
}

/// Adds the pending counts to today's rows.
pub async fn flush(app: &AppState, today: NaiveDate) -> Result<(), AppError> {
    let counts = app.keywords.take();
    if counts.is_empty() {
        return Ok(());
    }
    let tx = app.db.begin_write().await?;
    for (keyword, n) in counts {
        search_keyword_daily::Entity::insert(search_keyword_daily::ActiveModel {
            keyword: Set(keyword),
            day: Set(today),
            count: Set(n),
        })
        .on_conflict(
            OnConflict::columns([
                search_keyword_daily::Column::Keyword,
                search_keyword_daily::Column::Day,
            ])
            .value(
                search_keyword_daily::Column::Count,
                Expr::col((
                    search_keyword_daily::Entity,
                    search_keyword_daily::Column::Count,
                ))
                .add(Expr::col((
                    Alias::new("excluded"),
                    search_keyword_daily::Column::Count,
                ))),
            )
            .to_owned(),
        )
        .exec_without_returning(&*tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The most searched keywords of the seven days ending `today`.
pub async fn hot(
    conn: &impl ConnectionTrait,
    today: NaiveDate,
    limit: u64,
) -> Result<Vec<(String, i64)>, AppError> {
    let backend = conn.get_database_backend();
    let placeholder = |n: usize| match backend {
        DatabaseBackend::Postgres => format!("${n}"),
        _ => "?".into(),
    };
    let sql = format!(
        "SELECT keyword, CAST(SUM(count) AS BIGINT) AS total FROM search_keyword_daily \
         WHERE day >= {} GROUP BY keyword ORDER BY total DESC, keyword ASC LIMIT {}",
        placeholder(1),
        placeholder(2)
    );
    let since = today - chrono::Duration::days(6);
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [since.into(), (limit as i64).into()],
        ))
        .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get("", "keyword")?, r.try_get("", "total")?)))
        .collect()
}

/// The shop's business day now.
pub fn today(app: &AppState) -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(i64::from(app.config.business_utc_offset_hours)))
        .date_naive()
}

/// Flushes every `every` until shutdown, and once more on the way out.
pub fn spawn_flusher(app: &Arc<AppState>, every: Duration) {
    let app = app.clone();
    tokio::spawn(async move {
        loop {
            let stop = tokio::select! {
                _ = tokio::time::sleep(every) => false,
                _ = app.shutdown.cancelled() => true,
            };
            if let Err(e) = flush(&app, today(&app)).await {
                tracing::warn!(error = ?e, "could not record search keywords");
            }
            if stop {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_normalised() {
        assert_eq!(normalize("  Nike   跑鞋 ").as_deref(), Some("nike 跑鞋"));
        assert_eq!(normalize("   "), None);
        assert_eq!(normalize(&"字".repeat(33)), None);
    }

    #[test]
    fn counts_accumulate_until_taken() {
        let c = KeywordCounter::default();
        c.record("运动鞋");
        c.record(" 运动鞋");
        c.record("耳机");
        let taken = c.take();
        assert_eq!(taken["运动鞋"], 2);
        assert_eq!(taken["耳机"], 1);
        assert!(c.take().is_empty());
    }
}
