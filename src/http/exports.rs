//! CSV downloads for the dashboard, authorised like GraphQL (a bearer token with the needed
//! permission). Files start with a UTF-8 byte-order mark so Excel shows Chinese text correctly.
use axum::{
    body::{Body, Bytes},
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;

use super::{HttpState, refuse};
use crate::{
    auth::Permission,
    error::AppError,
    graphql::{guardrails::SEARCH_TEXT_MAX, ids},
    inventory::{reports, rules::StockReason},
    orders::{
        export,
        queries::OrderFilter,
        rules::{OrderSource, OrderStatus},
    },
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MovementParams {
    sku_id: Option<String>,
    product_id: Option<String>,
    reason: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

fn refusal(e: AppError) -> Response {
    let status = match e.code() {
        crate::error::ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        crate::error::ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        crate::error::ErrorCode::BadUserInput => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let message = match &e {
        AppError::Internal(err) => {
            tracing::error!(error = ?err, "export failed");
            "internal error".to_string()
        }
        AppError::Unauthenticated(m)
        | AppError::Forbidden(m)
        | AppError::NotFound(m)
        | AppError::BadUserInput(m) => m.clone(),
        AppError::RateLimited { .. } => "too many requests".to_string(),
    };
    refuse(status, e.code().as_str(), &message)
}

/// The bearer token must name staff holding `permission`.
async fn authorize(
    state: &HttpState,
    headers: &HeaderMap,
    permission: Permission,
) -> Result<(), AppError> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let viewer = state.app.authenticate(auth).await?.viewer;
    viewer.require_permission(permission)?;
    Ok(())
}

fn csv_headers(filename: &'static str) -> [(header::HeaderName, HeaderValue); 2] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        ),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static(filename),
        ),
    ]
}

pub async fn stock_movements(
    State(state): State<HttpState>,
    headers: HeaderMap,
    params: Result<Query<MovementParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        authorize(&state, &headers, Permission::Inventory).await?;
        let Query(p) = params.map_err(|e| AppError::bad_input(e.body_text()))?;
        let reason = match p.reason.as_deref() {
            Some(r) => {
                Some(StockReason::parse(r).ok_or_else(|| AppError::bad_input("unknown reason"))?)
            }
            None => None,
        };
        let filter = reports::MovementFilter {
            sku_id: p
                .sku_id
                .map(|i| ids::decode("Sku", &async_graphql::ID(i)).unwrap_or(0)),
            product_id: p
                .product_id
                .map(|i| ids::decode("Product", &async_graphql::ID(i)).unwrap_or(0)),
            reason,
            from: p.from,
            to: p.to,
        };
        reports::movements_csv(state.app.db.conn(), &filter).await
    }
    .await;
    match result {
        Ok(csv) => {
            let body = format!("\u{feff}{csv}");
            (
                csv_headers("attachment; filename=\"stock-movements.csv\""),
                body,
            )
                .into_response()
        }
        Err(e) => refusal(e),
    }
}

/// `/exports/orders.csv`: the parameters mirror the `orders` list's `OrderFilter`; `statuses`
/// is a comma-separated list (`PAID,APPROVED`), `from`/`to` are RFC 3339 times.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderParams {
    statuses: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    source: Option<String>,
    distributor_id: Option<String>,
    keyword: Option<String>,
}

impl OrderParams {
    fn filter(self) -> Result<OrderFilter, AppError> {
        let statuses = self
            .statuses
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                OrderStatus::parse(s)
                    .ok_or_else(|| AppError::bad_input(format!("unknown status {s}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The same search as the orders list's `OrderFilter.keyword`, with its limit.
        if self
            .keyword
            .as_ref()
            .is_some_and(|k| k.chars().count() > SEARCH_TEXT_MAX)
        {
            return Err(AppError::bad_input(format!(
                "keyword is at most {SEARCH_TEXT_MAX} characters"
            )));
        }
        let source = match self.source.as_deref() {
            Some(s) => {
                Some(OrderSource::parse(s).ok_or_else(|| AppError::bad_input("unknown source"))?)
            }
            None => None,
        };
        Ok(OrderFilter {
            statuses,
            from: self.from,
            to: self.to,
            source,
            distributor_id: self
                .distributor_id
                .map(|d| ids::decode("Distributor", &async_graphql::ID(d)).unwrap_or(0)),
            keyword: self.keyword,
            buyer_id: None,
        })
    }
}

/// Every order under the filter, newest first, streamed (staff with ORDERS).
pub async fn orders(
    State(state): State<HttpState>,
    headers: HeaderMap,
    params: Result<Query<OrderParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        authorize(&state, &headers, Permission::Orders).await?;
        let Query(p) = params.map_err(|e| AppError::bad_input(e.body_text()))?;
        p.filter()
    }
    .await;
    match result {
        Ok(filter) => {
            // Past the first chunk the status is sent: a fault can only cut the file short,
            // and is logged.
            let chunks = export::orders_csv(state.app.clone(), filter).map(|chunk| {
                chunk.map(Bytes::from).map_err(|e| {
                    tracing::error!(error = ?e, "order export failed");
                    std::io::Error::other("order export failed")
                })
            });
            (
                csv_headers("attachment; filename=\"orders.csv\""),
                Body::from_stream(chunks),
            )
                .into_response()
        }
        Err(e) => refusal(e),
    }
}
