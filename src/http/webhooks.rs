//! Callbacks from outside services. `/webhooks/logistics` takes Kuaidi100's signed tracking
//! pushes (订阅推送).
use axum::{
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::HttpState;
use crate::{
    logistics::kuaidi100,
    orders::tracking::{self, PushOutcome},
};

/// Answers every push with Kuaidi100's acknowledgement. `result: false` makes Kuaidi100 retry,
/// so it is reserved for pushes that could not be stored (a fault here) and for pushes that
/// are not Kuaidi100's at all (no salt to check them, a wrong signature, a malformed body); a
/// verified push for a parcel we do not know is acknowledged and dropped.
pub async fn logistics(State(state): State<HttpState>, body: String) -> Response {
    let (status, ok) = match tracking::receive_push(&state.app, &body).await {
        Ok(PushOutcome::Applied | PushOutcome::UnknownParcel) => (StatusCode::OK, true),
        Ok(PushOutcome::NotConfigured) => {
            tracing::warn!("logistics push refused: kuaidi100_salt is not configured");
            (StatusCode::UNAUTHORIZED, false)
        }
        Ok(PushOutcome::BadSignature) => {
            tracing::warn!("logistics push refused: the signature does not verify");
            (StatusCode::UNAUTHORIZED, false)
        }
        Ok(PushOutcome::Malformed(reason)) => {
            tracing::warn!(%reason, "logistics push refused: malformed");
            (StatusCode::BAD_REQUEST, false)
        }
        Err(e) => {
            tracing::error!(error = ?e, "logistics push could not be stored");
            (StatusCode::INTERNAL_SERVER_ERROR, false)
        }
    };
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        kuaidi100::push_ack(ok),
    )
        .into_response()
}
