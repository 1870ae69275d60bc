//! Sends the e-mails queued in `email_outbox` over SMTP. Rows are written in the transaction
//! that decided to send them; this job claims each row before sending, so an e-mail goes out
//! once even with several instances, and retries with backoff when the server is unreachable.
use std::time::Duration;

use chrono::Utc;
use entity::email_outbox;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
    transport::smtp::authentication::Credentials,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set, sea_query::Expr,
};

use crate::{app::AppState, config::Config, error::AppError};

const BATCH: u64 = 20;
const MAX_ATTEMPTS: i32 = 8;

/// Seconds before attempt `n` (1-based) is retried: 30 s, 1 min, 2 min … capped at 1 h.
pub fn backoff_secs(attempts: i32) -> i64 {
    (30i64 << attempts.clamp(0, 7)).min(3600)
}

fn transport(config: &Config) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let host = config
        .smtp_host
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("smtp_host is not configured"))?;
    let mut builder = match config.smtp_tls.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
        "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
        _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
    };
    builder = builder
        .port(config.smtp_port)
        .timeout(Some(Duration::from_secs(15)));
    if let (Some(user), Some(pass)) = (&config.smtp_username, &config.smtp_password) {
        builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    Ok(builder.build())
}

fn message(config: &Config, row: &email_outbox::Model) -> anyhow::Result<Message> {
    let from: Mailbox = config.smtp_from.parse()?;
    let mut builder = Message::builder().from(from).subject(row.subject.clone());
    for to in row.recipients.split(',').filter(|s| !s.trim().is_empty()) {
        builder = builder.to(to.trim().parse()?);
    }
    Ok(builder
        .header(ContentType::TEXT_PLAIN)
        .body(row.body.clone())?)
}

/// Claims and sends due e-mails; one pass of the `mailer` job.
pub async fn send_due(app: std::sync::Arc<AppState>) -> Result<(), AppError> {
    let now = Utc::now();
    let due = email_outbox::Entity::find()
        .filter(email_outbox::Column::Status.eq("PENDING"))
        .filter(email_outbox::Column::NextAttemptAt.lte(now))
        .filter(
            Condition::any()
                .add(email_outbox::Column::ClaimedUntil.is_null())
                .add(email_outbox::Column::ClaimedUntil.lt(now)),
        )
        .order_by_asc(email_outbox::Column::Id)
        .limit(BATCH)
        .all(app.db.conn())
        .await?;
    if due.is_empty() {
        return Ok(());
    }
    let smtp = transport(&app.config);
    for row in due {
        if !claim(&app, row.id).await? {
            continue;
        }
        let result = match &smtp {
            Ok(t) => match message(&app.config, &row) {
                Ok(m) => t.send(m).await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e.to_string()),
        };
        finish(&app, row, result).await?;
    }
    Ok(())
}

async fn claim(app: &AppState, id: i64) -> Result<bool, AppError> {
    let now = Utc::now();
    let tx = app.db.begin_write().await?;
    let claimed = email_outbox::Entity::update_many()
        .col_expr(
            email_outbox::Column::ClaimedUntil,
            Expr::value(now + chrono::Duration::seconds(120)),
        )
        .filter(email_outbox::Column::Id.eq(id))
        .filter(email_outbox::Column::Status.eq("PENDING"))
        .filter(
            Condition::any()
                .add(email_outbox::Column::ClaimedUntil.is_null())
                .add(email_outbox::Column::ClaimedUntil.lt(now)),
        )
        .exec(&*tx)
        .await?
        .rows_affected
        == 1;
    tx.commit().await?;
    Ok(claimed)
}

async fn finish(
    app: &AppState,
    row: email_outbox::Model,
    result: Result<(), String>,
) -> Result<(), AppError> {
    let attempts = row.attempts + 1;
    let mut active: email_outbox::ActiveModel = row.into();
    active.attempts = Set(attempts);
    active.claimed_until = Set(None);
    match result {
        Ok(()) => {
            active.status = Set("SENT".into());
            active.sent_at = Set(Some(Utc::now()));
        }
        Err(e) => {
            tracing::warn!(error = %e, attempts, "sending e-mail failed");
            active.last_error = Set(Some(e));
            if attempts >= MAX_ATTEMPTS {
                active.status = Set("FAILED".into());
            } else {
                active.next_attempt_at =
                    Set(Utc::now() + chrono::Duration::seconds(backoff_secs(attempts)));
            }
        }
    }
    let tx = app.db.begin_write().await?;
    active.update(&*tx).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_secs(1), 60);
        assert_eq!(backoff_secs(2), 120);
        assert_eq!(backoff_secs(7), 3600);
        assert_eq!(backoff_secs(20), 3600);
    }
}
