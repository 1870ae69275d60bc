//! GraphQL over HTTP. POST takes `application/json` only (a form or `text/plain` POST is how
//! cross-site requests sneak in) and one operation per request (no batches); GET runs queries
//! only. Everything is refused before any resolver runs.
use std::net::{IpAddr, SocketAddr};

use async_graphql::{
    Request, Variables,
    parser::{parse_query, types::OperationType},
};
use axum::{
    body::{Body, Bytes},
    extract::{
        ConnectInfo, Query, State,
        ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{HttpState, refuse, upload, ws};
use crate::{
    catalog::{
        response_cache::{self, is_public_field},
        types::sees_everything,
    },
    config::Config,
    graphql::{context::RequestCtx, guardrails, loaders::Loaders},
    request_scope::RequestScope,
};

pub(crate) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.is_ascii())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string())
}

pub(crate) fn client_ip(state: &HttpState, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    if state.app.config.trust_forwarded_for
        && let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return ip;
    }
    peer.ip()
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
}

/// A header a browser cannot add to a cross-site form post without a CORS preflight.
fn has_preflight_header(headers: &HeaderMap) -> bool {
    [
        "apollo-require-preflight",
        "x-apollo-operation-name",
        "graphql-preflight",
    ]
    .iter()
    .any(|h| headers.get(*h).is_some_and(|v| !v.is_empty()))
}

/// A GraphQL multipart request (file uploads). It must carry a preflight header, or any web
/// page could post a form to it with the user's cookies.
async fn multipart_request(
    headers: &HeaderMap,
    config: &Config,
    body: Body,
) -> Result<Request, Response> {
    if !has_preflight_header(headers) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "CSRF_PREVENTION",
            "multipart requests need an Apollo-Require-Preflight header",
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    upload::read(config, content_type, body).await
}

/// One GraphQL request from a JSON body (the body of a POST, the `operations` part of a
/// multipart request); a batch is refused.
pub(super) fn single_request(bytes: &[u8]) -> Result<Request, Box<Response>> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(Box::new(refuse(
            StatusCode::BAD_REQUEST,
            "BATCH_NOT_SUPPORTED",
            "batched requests are not supported; send one operation per request",
        )));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        Box::new(refuse(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            &format!("the body is not a GraphQL request: {e}"),
        ))
    })
}

pub async fn graphql_post(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match media_type(&headers).as_deref() {
        Some("application/json") => {}
        Some("multipart/form-data") => {
            return match multipart_request(&headers, &state.app.config, body).await {
                Ok(request) => execute(&state, request, &headers, peer, None).await,
                Err(refusal) => refusal,
            };
        }
        _ => {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "POST /graphql needs Content-Type: application/json (or multipart/form-data for uploads)",
            );
        }
    }
    let bytes: Bytes = match axum::body::to_bytes(body, state.app.config.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                &format!(
                    "the request body is larger than {} bytes",
                    state.app.config.max_body_bytes
                ),
            );
        }
    };
    match single_request(&bytes) {
        Ok(request) => execute(&state, request, &headers, peer, Some(bytes)).await,
        Err(refusal) => *refusal,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    query: String,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// The type of the operation a GET would run, when the document parses.
fn operation_type(query: &str, name: Option<&str>) -> Option<OperationType> {
    let doc = parse_query(query).ok()?;
    doc.operations
        .iter()
        .find(|(n, _)| name.is_none() || n.map(|n| n.as_str()) == name)
        .map(|(_, op)| op.node.ty)
}

pub async fn graphql_get(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Ok(ws) = ws {
        let ip = client_ip(&state, &headers, peer);
        return ws::upgrade(state, ws, ip);
    }
    let Ok(Query(params)) = params else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "GET /graphql needs a query parameter (or a WebSocket upgrade)",
        );
    };
    if matches!(
        operation_type(&params.query, params.operation_name.as_deref()),
        Some(OperationType::Mutation | OperationType::Subscription)
    ) {
        return refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "only queries run over GET; send mutations by POST (subscriptions over WebSocket)",
        );
    }
    let mut request = Request::new(params.query);
    request.operation_name = params.operation_name;
    for (raw, what) in [
        (&params.variables, "variables"),
        (&params.extensions, "extensions"),
    ] {
        if let Some(raw) = raw {
            match serde_json::from_str::<serde_json::Value>(raw) {
                Ok(v) if what == "variables" => request.variables = Variables::from_json(v),
                Ok(_) => {}
                Err(_) => {
                    return refuse(
                        StatusCode::BAD_REQUEST,
                        "BAD_REQUEST",
                        &format!("the {what} parameter is not JSON"),
                    );
                }
            }
        }
    }
    execute(&state, request, &headers, peer, None).await
}

/// Runs `request`. `body` is its raw JSON body: the key under which a response to a public
/// catalogue query is stored whole and served again (with `X-Cache: hit`) while nothing it
/// shows has changed.
async fn execute(
    state: &HttpState,
    mut request: Request,
    headers: &HeaderMap,
    peer: SocketAddr,
    body: Option<Bytes>,
) -> Response {
    let started = std::time::Instant::now();
    let rid = request_id(headers);
    let app = &state.app;
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    let scope = RequestScope::new(rid.clone());
    let viewer = match scope.run(app.authenticate(auth)).await {
        Ok(session) => session.viewer,
        Err(e) => {
            app.metrics.record_error_code(e.code().as_str());
            let err: async_graphql::Error = e.into();
            let resp = async_graphql::Response::from_errors(vec![
                err.into_server_error(async_graphql::Pos::default()),
            ]);
            return json_response(&resp, &rid);
        }
    };
    // Everyone but staff sees the same catalogue — except member prices, which depend on the
    // caller's level: a request that names them is stored per level with a discount (the
    // level and its rate join the key, so a new rate is a new key), and shared by everyone
    // else (anonymous callers and levels without a discount see them null). The caller's
    // level comes from memory (`members::cache`), so a member's hit reads no rows either.
    let mut member_price = None;
    let body = match body {
        Some(b) if app.responses.enabled() && !sees_everything(&viewer) => {
            let named = b.windows(10).any(|w| w == b"emberPrice");
            match viewer.user_id().filter(|_| named) {
                None => Some(b),
                Some(user_id) => {
                    match scope.run(crate::members::price_level(app, user_id)).await {
                        Ok(level) => {
                            let tagged = match &level {
                                Some(l) => {
                                    let mut k = b.to_vec();
                                    k.push(0);
                                    k.extend_from_slice(l.cache_tag().as_bytes());
                                    Bytes::from(k)
                                }
                                None => b,
                            };
                            member_price = Some(level);
                            Some(tagged)
                        }
                        // Not stored; the resolvers read the level themselves.
                        Err(_) => None,
                    }
                }
            }
        }
        _ => None,
    };
    let cache_key = body.map(|b| response_cache::digest(&b));
    if let Some((hit, body)) = cache_key.as_ref().and_then(|k| app.responses.get(app, k)) {
        app.metrics.record_operation(
            hit.operation_name.as_deref(),
            "query",
            started.elapsed(),
            [],
        );
        let body = if app.config.report_sql_statements {
            zero_statements(&body)
        } else {
            body
        };
        let mut r = body_response(body, &rid);
        r.headers_mut()
            .insert("x-cache", HeaderValue::from_static("hit"));
        return r;
    }
    let checked = match guardrails::check(&state.shape, &state.limits, &mut request) {
        Ok(c) => c,
        Err(refusal) => {
            app.metrics.record_operation(
                None,
                "invalid",
                started.elapsed(),
                [guardrails::error_code(&refusal)],
            );
            return json_response(&async_graphql::Response::from_errors(vec![refusal]), &rid);
        }
    };
    let pending = cache_key
        .filter(|_| guardrails::selects_only(&state.shape, &mut request, is_public_field))
        .and_then(|key| app.responses.begin(app, key));
    let mut loaders = Loaders::new(
        app.db.conn().clone(),
        app.catalog.clone(),
        Some(scope.clone()),
    );
    if let Some(p) = &pending {
        loaders = loaders.recording(p.recorder.clone());
    }
    if let Some(level) = member_price {
        // The level the key was made with is the one the response shows.
        let _ = loaders.member_price.set(level);
    }
    let request = request
        .data(RequestCtx {
            viewer,
            client_ip: client_ip(state, headers, peer),
        })
        .data(loaders);
    let mut resp = scope
        .run(async {
            let mut resp = state.schema.execute(request).await;
            guardrails::code_errors(&mut resp);
            resp
        })
        .await;
    resp.extensions.insert(
        "cost".into(),
        guardrails::cost_extension(checked.cost, state.limits.max_complexity),
    );
    app.metrics.record_operation(
        checked.operation_name.as_deref(),
        checked.kind,
        started.elapsed(),
        resp.errors.iter().map(guardrails::error_code),
    );
    // A response that could have come from memory says it did not.
    let cacheable = pending.is_some();
    // Stored without `sqlStatements`: serving it again runs none.
    let stored = match pending {
        Some(p) if resp.errors.is_empty() => {
            let body = Bytes::from(serialize(&resp));
            app.responses.put(p, &body, checked.operation_name.clone());
            Some(body)
        }
        _ => None,
    };
    let mut r = match stored {
        Some(body) if !app.config.report_sql_statements => body_response(body, &rid),
        _ => {
            if app.config.report_sql_statements {
                resp.extensions.insert(
                    "sqlStatements".into(),
                    async_graphql::Value::from(scope.sql_statements()),
                );
            }
            json_response(&resp, &rid)
        }
    };
    if cacheable {
        r.headers_mut()
            .insert("x-cache", HeaderValue::from_static("miss"));
    }
    r
}

/// A stored body reporting that serving it ran no statement (tests and profiling only).
fn zero_statements(body: &Bytes) -> Bytes {
    let mut v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    v["extensions"]["sqlStatements"] = 0.into();
    serde_json::to_vec(&v).unwrap_or_default().into()
}

fn serialize(resp: &async_graphql::Response) -> Vec<u8> {
    serde_json::to_vec(resp).unwrap_or_else(|_| b"{}".to_vec())
}

fn json_response(resp: &async_graphql::Response, request_id: &str) -> Response {
    body_response(serialize(resp).into(), request_id)
}

fn body_response(body: Bytes, request_id: &str) -> Response {
    let mut r = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}
