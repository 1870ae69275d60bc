//! GraphQL over WebSocket with the graphql-transport-ws protocol (the one graphql-ws, Apollo
//! Client and urql speak), written here because the library's own handler closes with generic
//! codes where the protocol prescribes specific ones, has no initialisation timeout and no cap
//! on subscriptions per socket. Close codes:
//! 4400 bad message · 4401 subscribe before ack · 4403 bad or expired token, or the account
//! disabled while the socket is open · 4406 wrong subprotocol · 4408 no `connection_init` in
//! time · 4409 duplicate operation id · 4429 second `connection_init` · 1001 server shutting
//! down.
use std::{collections::HashMap, net::IpAddr, sync::Arc, time::Instant};

use async_graphql::{Request, Variables};
use axum::{
    extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
    response::Response,
};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use super::HttpState;
use crate::{
    app::AppState,
    auth::Viewer,
    graphql::{context::RequestCtx, guardrails, loaders::Loaders},
    metrics::Metrics,
};

const PROTOCOL: &str = "graphql-transport-ws";

pub fn upgrade(state: HttpState, ws: WebSocketUpgrade, client_ip: IpAddr) -> Response {
    // Subscriptions mostly sit idle and send small messages: the library's default 128 KiB
    // read buffer per socket would dominate the memory of thousands of them (a larger message
    // grows the buffer as it arrives). Writes flush at once (nothing to batch), and a client
    // that stops reading is cut off at 1 MiB queued.
    let ws = ws
        .protocols([PROTOCOL])
        .max_message_size(state.app.config.ws_max_message_bytes)
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_write_buffer_size(1024 * 1024);
    let accepted = ws.selected_protocol().is_some();
    ws.on_upgrade(move |socket| serve(socket, state, client_ip, accepted))
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<Value>,
    },
    Pong {},
    Subscribe {
        id: String,
        payload: SubscribePayload,
    },
    Complete {
        id: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribePayload {
    query: String,
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Value>,
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

fn text(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

/// The `authorization` of a `connection_init` payload (any capitalisation).
fn init_authorization(payload: &Option<Value>) -> Option<String> {
    let obj = payload.as_ref()?.as_object()?;
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| v.as_str())
        .map(|s| {
            if s.len() > 7 && s[..7].eq_ignore_ascii_case("bearer ") {
                s.to_string()
            } else {
                format!("Bearer {s}")
            }
        })
}

/// Decrements the live-subscription gauge however the subscription ends (even when aborted).
struct LiveGuard(Arc<Metrics>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.subscription_ended();
    }
}

async fn serve(socket: WebSocket, state: HttpState, client_ip: IpAddr, accepted: bool) {
    let app = state.app.clone();
    app.metrics.websocket_opened();
    let (mut sink, mut incoming) = socket.split();
    let (out, mut outgoing) = mpsc::channel::<Message>(64);
    let writer = tokio::spawn(async move {
        while let Some(msg) = outgoing.recv().await {
            let closing = matches!(msg, Message::Close(_));
            if sink.send(msg).await.is_err() || closing {
                break;
            }
        }
        let _ = sink.close().await;
    });

    if !accepted {
        let _ = out.send(close(4406, "Subprotocol not acceptable")).await;
    } else {
        run_protocol(&state, &out, &mut incoming, client_ip).await;
    }
    drop(out);
    let _ = writer.await;
    app.metrics.websocket_closed();
}

async fn run_protocol(
    state: &HttpState,
    out: &mpsc::Sender<Message>,
    incoming: &mut futures::stream::SplitStream<WebSocket>,
    client_ip: IpAddr,
) {
    let app = &state.app;
    let init_deadline = tokio::time::sleep(std::time::Duration::from_secs(
        app.config.ws_init_timeout_secs,
    ));
    tokio::pin!(init_deadline);
    let far_future = Instant::now() + std::time::Duration::from_secs(86400 * 365);
    let expiry = tokio::time::sleep_until(far_future.into());
    tokio::pin!(expiry);

    let mut initialised = false;
    let mut acknowledged = false;
    let mut viewer = Viewer::Anonymous;
    // Raised whenever the signed-in account may have changed (disabled, roles, permissions).
    let mut account: Option<watch::Receiver<u64>> = None;
    // Finished operations are pruned when their id or a free slot is needed: a channel to
    // report them would cost every socket its buffer.
    let mut operations: HashMap<String, tokio::task::AbortHandle> = HashMap::new();

    let reason = loop {
        tokio::select! {
            _ = &mut init_deadline, if !initialised => {
                break close(4408, "Connection initialisation timeout");
            }
            _ = &mut expiry => {
                break close(4403, "Forbidden: the access token expired");
            }
            _ = app.shutdown.cancelled() => {
                break close(1001, "server shutting down");
            }
            _ = account_changed(&mut account) => {
                // Operations started from now on run as the account is now; a disabled
                // account's socket closes at once. Running subscriptions watch the account
                // themselves (`graphql::live`).
                match current_viewer(app, &viewer).await {
                    Some(now) => viewer = now,
                    None => break close(4403, "Forbidden: the account is disabled"),
                }
            }
            frame = incoming.next() => {
                let raw = match frame {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break Message::Close(None),
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(_))) => break close(4400, "Binary messages are not supported"),
                    Some(Ok(_)) => continue,
                };
                let msg = match serde_json::from_str::<ClientMessage>(raw.as_str()) {
                    Ok(m) => m,
                    Err(_) => break close(4400, "Invalid message received"),
                };
                match msg {
                    ClientMessage::ConnectionInit { payload } => {
                        if initialised {
                            break close(4429, "Too many initialisation requests");
                        }
                        initialised = true;
                        let auth = init_authorization(&payload);
                        // Boxed: kept inline, this rarely run future would make every idle
                        // socket's task as large as itself.
                        match Box::pin(app.authenticate(auth.as_deref())).await {
                            Ok(session) => {
                                viewer = session.viewer;
                                account = viewer.user_id().map(|id| app.principals.watch(id));
                                if let Some(exp) = session.expires_at {
                                    let left = (exp - chrono::Utc::now()).to_std().unwrap_or_default();
                                    expiry.as_mut().reset((Instant::now() + left).into());
                                }
                                acknowledged = true;
                                let _ = out.send(text(json!({ "type": "connection_ack" }))).await;
                            }
                            Err(_) => break close(4403, "Forbidden"),
                        }
                    }
                    ClientMessage::Ping { payload } => {
                        let mut pong = json!({ "type": "pong" });
                        if let Some(p) = payload {
                            pong["payload"] = p;
                        }
                        let _ = out.send(text(pong)).await;
                    }
                    ClientMessage::Pong {} => {}
                    ClientMessage::Subscribe { id, payload } => {
                        if !acknowledged {
                            break close(4401, "Unauthorized");
                        }
                        operations.retain(|_, h| !h.is_finished());
                        if operations.contains_key(&id) {
                            break close(4409, &format!("Subscriber for {} already exists", truncate(&id)));
                        }
                        if operations.len() >= app.config.ws_max_subscriptions {
                            let _ = out.send(text(json!({
                                "id": id,
                                "type": "error",
                                "payload": [{
                                    "message": format!("at most {} operations per connection", app.config.ws_max_subscriptions),
                                    "extensions": { "code": "TOO_MANY_SUBSCRIPTIONS" }
                                }]
                            }))).await;
                            continue;
                        }
                        // Authorized as the account is now, not as it was at `connection_init`.
                        match current_viewer(app, &viewer).await {
                            Some(now) => viewer = now,
                            None => break close(4403, "Forbidden: the account is disabled"),
                        }
                        let handle = start_operation(state, id.clone(), payload, viewer.clone(), client_ip, out.clone());
                        operations.insert(id, handle);
                    }
                    ClientMessage::Complete { id } => {
                        if let Some(h) = operations.remove(&id) {
                            h.abort();
                        }
                    }
                }
            }
        }
    };
    for (_, h) in operations.drain() {
        h.abort();
    }
    let _ = out.send(reason).await;
}

/// Resolves when the watched account may have changed; never without an account.
async fn account_changed(account: &mut Option<watch::Receiver<u64>>) {
    match account {
        Some(rx) => {
            if rx.changed().await.is_err() {
                // The cache never drops a sender someone still holds; wait forever if it did.
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// The socket's viewer as the account is now: `None` when it was disabled or removed. A
/// database failure keeps the viewer it had (the next operation tries again).
async fn current_viewer(app: &AppState, viewer: &Viewer) -> Option<Viewer> {
    let Some(user_id) = viewer.user_id() else {
        return Some(Viewer::Anonymous);
    };
    match Box::pin(app.principals.get(app.db.conn(), user_id)).await {
        Ok(Some(p)) => Some(Viewer::User(p)),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = ?e, user_id, "cannot reload a socket's account");
            Some(viewer.clone())
        }
    }
}

/// Close reasons are limited to 123 bytes.
fn truncate(id: &str) -> &str {
    let mut end = id.len().min(80);
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    &id[..end]
}

fn start_operation(
    state: &HttpState,
    id: String,
    payload: SubscribePayload,
    viewer: Viewer,
    client_ip: IpAddr,
    out: mpsc::Sender<Message>,
) -> tokio::task::AbortHandle {
    let app = state.app.clone();
    let schema = state.schema.clone();
    let mut request = Request::new(payload.query.clone())
        .data(RequestCtx { viewer, client_ip })
        .data(Loaders::new(
            app.db.conn().clone(),
            app.catalog.clone(),
            None,
        ));
    request.operation_name = payload.operation_name.clone();
    if let Some(v) = payload.variables {
        request.variables = Variables::from_json(v);
    }
    let refusal = guardrails::check(&state.shape, &state.limits, &mut request).err();
    let task = tokio::spawn(async move {
        app.metrics.subscription_started();
        let _live = LiveGuard(app.metrics.clone());
        if let Some(refusal) = refusal {
            app.metrics
                .record_error_code(guardrails::error_code(&refusal));
            let _ = out
                .send(text(
                    json!({ "id": id, "type": "error", "payload": [refusal] }),
                ))
                .await;
            return;
        }
        let mut stream = schema.execute_stream(request);
        let mut first = true;
        let mut failed = false;
        while let Some(mut resp) = stream.next().await {
            guardrails::code_errors(&mut resp);
            if first && resp.data == async_graphql::Value::Null && !resp.errors.is_empty() {
                // Refused before execution (parse, validation, authorization): `error`, no
                // `complete`, as the protocol says.
                for e in &resp.errors {
                    let code = e.extensions.as_ref().and_then(|x| x.get("code"));
                    match code {
                        Some(async_graphql::Value::String(c)) => app.metrics.record_error_code(c),
                        _ => app.metrics.record_error_code("UNKNOWN"),
                    }
                }
                let _ = out
                    .send(text(
                        json!({ "id": id, "type": "error", "payload": resp.errors }),
                    ))
                    .await;
                failed = true;
                break;
            }
            first = false;
            let msg = json!({ "id": id, "type": "next", "payload": resp });
            if out.send(text(msg)).await.is_err() {
                break;
            }
        }
        if !failed {
            let _ = out
                .send(text(json!({ "id": id, "type": "complete" })))
                .await;
        }
    });
    task.abort_handle()
}
