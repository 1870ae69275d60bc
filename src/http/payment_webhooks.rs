//! Payment notifications from WeChat Pay (`/webhooks/wechatpay`) and Alipay
//! (`/webhooks/alipay`). Each is verified with the provider's key before anything is believed,
//! then handed to `orders::payments::record_success`, which is idempotent: providers deliver
//! the same notification many times, sometimes at once.
//!
//! Answers follow each provider's contract: a provider retries until it sees success, so a
//! notification we have recorded (or deliberately rejected and alerted staff about) is
//! acknowledged, and one we could not check or store is not.
use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use serde_json::json;

use super::HttpState;
use crate::{
    orders::payments::{self, Notified, ProviderKind, Recorded},
    payments::{alipay, wechatpay::NotificationHeaders},
};

/// How old a WeChat Pay notification may be before it is taken for a replay.
const WECHAT_MAX_SKEW_SECS: i64 = 300;

fn wechat_fail(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "code": "FAIL", "message": message }))).into_response()
}

pub async fn wechatpay(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let app = &state.app;
    let Some(wx) = &app.payments.wechat else {
        return wechat_fail(StatusCode::NOT_FOUND, "WeChat Pay is not configured");
    };
    let Ok(body) = std::str::from_utf8(&body) else {
        return wechat_fail(StatusCode::BAD_REQUEST, "body is not UTF-8");
    };
    let notification = NotificationHeaders::from_header_map(&headers).and_then(|h| {
        wx.verify_and_decrypt_notification(&h, body, Utc::now(), WECHAT_MAX_SKEW_SECS)
    });
    let notification = match notification {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "WeChat Pay notification refused");
            return wechat_fail(StatusCode::UNAUTHORIZED, "signature verification failed");
        }
    };
    if notification.event_type != "TRANSACTION.SUCCESS" {
        // Refund results are read back when refunding; nothing else is subscribed.
        return StatusCode::NO_CONTENT.into_response();
    }
    let txn = match notification.parse_transaction() {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "WeChat Pay transaction unreadable");
            return wechat_fail(StatusCode::BAD_REQUEST, "resource unreadable");
        }
    };
    if !txn.is_paid() || txn.appid != wx.app_id() || txn.mchid != wx.mch_id() {
        tracing::warn!(out_trade_no = %txn.out_trade_no, "WeChat Pay notification not for a paid trade of ours");
        return StatusCode::NO_CONTENT.into_response();
    }
    let Some(total) = txn.amount.total else {
        return wechat_fail(StatusCode::BAD_REQUEST, "amount missing");
    };
    let recorded = payments::record_success(
        app,
        &Notified {
            provider: ProviderKind::WechatPay,
            out_trade_no: &txn.out_trade_no,
            provider_txn_id: txn.transaction_id.as_deref().unwrap_or_default(),
            amount_fen: total,
        },
    )
    .await;
    match recorded {
        Ok(r) => {
            tracing::info!(out_trade_no = %txn.out_trade_no, outcome = ?r, "WeChat Pay notification");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => {
            tracing::error!(error = ?e, "cannot record a WeChat Pay payment");
            wechat_fail(StatusCode::INTERNAL_SERVER_ERROR, "try again")
        }
    }
}

pub async fn alipay(State(state): State<HttpState>, body: Bytes) -> Response {
    let app = &state.app;
    let failure = || (StatusCode::OK, "failure").into_response();
    let Some(ali) = &app.payments.alipay else {
        return (StatusCode::NOT_FOUND, "failure").into_response();
    };
    let Ok(body) = std::str::from_utf8(&body) else {
        return failure();
    };
    let n = match ali.verify_notification(body) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "Alipay notification refused");
            return failure();
        }
    };
    if n.app_id != ali.config().app_id {
        tracing::warn!(app_id = %n.app_id, "Alipay notification for another application");
        return failure();
    }
    if !n.trade_status.is_paid() {
        // WAIT_BUYER_PAY and TRADE_CLOSED change nothing here.
        return (StatusCode::OK, alipay::NOTIFY_ACK).into_response();
    }
    let recorded: Result<Recorded, _> = payments::record_success(
        app,
        &Notified {
            provider: ProviderKind::Alipay,
            out_trade_no: &n.out_trade_no,
            provider_txn_id: &n.trade_no,
            amount_fen: n.total_amount_fen,
        },
    )
    .await;
    match recorded {
        Ok(r) => {
            tracing::info!(out_trade_no = %n.out_trade_no, outcome = ?r, "Alipay notification");
            (StatusCode::OK, alipay::NOTIFY_ACK).into_response()
        }
        Err(e) => {
            tracing::error!(error = ?e, "cannot record an Alipay payment");
            failure()
        }
    }
}
