//! CSV downloads for the dashboard, authorised like GraphQL (a bearer token with the needed
//! permission). Files start with a UTF-8 byte-order mark so Excel shows Chinese text correctly.
use axum::{
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{HttpState, refuse};
use crate::{
    auth::Permission,
    error::AppError,
    graphql::ids,
    inventory::{reports, rules::StockReason},
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

pub async fn stock_movements(
    State(state): State<HttpState>,
    headers: HeaderMap,
    params: Result<Query<MovementParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let viewer = state.app.authenticate(auth).await?.viewer;
        viewer.require_permission(Permission::Inventory)?;
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
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/csv; charset=utf-8"),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_static("attachment; filename=\"stock-movements.csv\""),
                    ),
                ],
                body,
            )
                .into_response()
        }
        Err(e) => refusal(e),
    }
}
