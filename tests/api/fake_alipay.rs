//! A fake Alipay gateway for black-box tests: `/gateway.do` on 127.0.0.1, speaking the open
//! platform's wire format. It checks the application's RSA2 signature on every request the way
//! Alipay does (all parameters but `sign`, empty ones dropped, sorted, raw values), answers
//! `alipay.trade.refund` and `alipay.trade.query` with the response node signed by its own
//! "Alipay" key over the node's exact text, and builds signed payment notifications.
//!
//! Trades exist only once a test registers them with [`FakeAlipay::register_trade`] (as paid).
//! Refunds follow Alipay's rules: the cumulative total may not exceed the trade amount
//! (`ACQ.REFUND_AMT_NOT_EQUAL_TOTAL`), a repeated `out_request_no` is answered again without
//! moving money (`fund_change: "N"`), and a full refund closes the trade.
// A toolkit: each test uses some of the helpers, not all of them.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use axum::{Router, body::Bytes, extract::RawQuery, extract::State, routing::get};
use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use parking_lot::Mutex;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

/// The app id the fake knows; requests from any other app are refused like Alipay does.
pub const APP_ID: &str = "2021000000000001";

struct KeyPairs {
    app_private: RsaPrivateKey,
    app_public: RsaPublicKey,
    alipay_private: RsaPrivateKey,
}

// 2048-bit generation is slow in test builds; every fake in the test binary shares one pair of
// key pairs (they are test keys, nothing depends on them being distinct per test).
fn key_pairs() -> &'static KeyPairs {
    static KEYS: OnceLock<KeyPairs> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::thread_rng();
        let app_private = RsaPrivateKey::new(&mut rng, 2048).expect("generate app key");
        let alipay_private = RsaPrivateKey::new(&mut rng, 2048).expect("generate alipay key");
        KeyPairs {
            app_public: app_private.to_public_key(),
            app_private,
            alipay_private,
        }
    })
}

/// A request the fake received, with what it made of the signature.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub http_method: String,
    /// `method` parameter, e.g. `alipay.trade.refund`.
    pub api_method: String,
    pub params: BTreeMap<String, String>,
    pub biz_content: serde_json::Value,
    pub signature_valid: bool,
}

#[derive(Clone, Debug)]
struct Trade {
    trade_no: String,
    total_fen: i64,
    refunded_fen: i64,
    status: &'static str,
    /// out_request_no → amount, to answer retries the way Alipay does.
    refunds: HashMap<String, i64>,
}

#[derive(Default)]
struct Inner {
    trades: HashMap<String, Trade>,
    requests: Vec<RecordedRequest>,
    next_trade: u64,
}

#[derive(Clone)]
pub struct FakeAlipay {
    pub port: u16,
    inner: Arc<Mutex<Inner>>,
}

impl FakeAlipay {
    pub async fn start() -> FakeAlipay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let inner: Arc<Mutex<Inner>> = Arc::default();
        // Generate (or reuse) the keys before serving, so the first request is not slow.
        key_pairs();
        let app = Router::new()
            .route("/gateway.do", get(gateway).post(gateway))
            .with_state(inner.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeAlipay { port, inner }
    }

    pub fn gateway_url(&self) -> String {
        format!("http://127.0.0.1:{}/gateway.do", self.port)
    }

    pub fn app_id(&self) -> &'static str {
        APP_ID
    }

    /// The application's private key (PKCS#8 PEM), for the client under test.
    pub fn app_private_key_pem(&self) -> String {
        key_pairs()
            .app_private
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap()
            .to_string()
    }

    /// The fake Alipay's public key (SPKI PEM), for the client under test.
    pub fn alipay_public_key_pem(&self) -> String {
        key_pairs()
            .alipay_private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    }

    /// Makes a paid trade known to the fake; returns its Alipay trade number.
    pub fn register_trade(&self, out_trade_no: &str, total_fen: i64) -> String {
        let mut inner = self.inner.lock();
        inner.next_trade += 1;
        let trade_no = format!("2024052022001400{:012}", inner.next_trade);
        inner.trades.insert(
            out_trade_no.to_string(),
            Trade {
                trade_no: trade_no.clone(),
                total_fen,
                refunded_fen: 0,
                status: "TRADE_SUCCESS",
                refunds: HashMap::new(),
            },
        );
        trade_no
    }

    /// Cumulative refunded amount of a registered trade.
    pub fn refunded_fen(&self, out_trade_no: &str) -> Option<i64> {
        self.inner
            .lock()
            .trades
            .get(out_trade_no)
            .map(|t| t.refunded_fen)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.lock().requests.clone()
    }

    /// A `TRADE_SUCCESS` notification body as Alipay POSTs it, signed with the Alipay key.
    /// Uses the registered trade number when the trade is known.
    pub fn payment_notification(&self, app_id: &str, out_trade_no: &str, total_fen: i64) -> String {
        let trade_no = self
            .inner
            .lock()
            .trades
            .get(out_trade_no)
            .map(|t| t.trade_no.clone())
            .unwrap_or_else(|| "2024052022001499999999999999".to_string());
        notification_body(
            &key_pairs().alipay_private,
            app_id,
            out_trade_no,
            &trade_no,
            total_fen,
        )
    }

    /// The same notification signed with a key that is not Alipay's (the application's own):
    /// well-formed, but it must be refused.
    pub fn forged_payment_notification(
        &self,
        app_id: &str,
        out_trade_no: &str,
        total_fen: i64,
    ) -> String {
        notification_body(
            &key_pairs().app_private,
            app_id,
            out_trade_no,
            "2024052022001499999999999999",
            total_fen,
        )
    }
}

fn notification_body(
    key: &RsaPrivateKey,
    app_id: &str,
    out_trade_no: &str,
    trade_no: &str,
    total_fen: i64,
) -> String {
    let now = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let amount = yuan(total_fen);
    let fund_bill_list = format!(r#"[{{"amount":"{amount}","fundChannel":"ALIPAYACCOUNT"}}]"#);
    let mut params: BTreeMap<String, String> = [
        ("gmt_create", now.as_str()),
        ("gmt_payment", now.as_str()),
        ("notify_time", now.as_str()),
        ("charset", "utf-8"),
        ("seller_email", "mall@example.com"),
        ("subject", "分销商城订单"),
        ("buyer_id", "2088102177846880"),
        ("buyer_logon_id", "159****5620"),
        ("invoice_amount", amount.as_str()),
        ("receipt_amount", amount.as_str()),
        ("buyer_pay_amount", amount.as_str()),
        ("point_amount", "0.00"),
        ("total_amount", amount.as_str()),
        ("notify_type", "trade_status_sync"),
        ("trade_status", "TRADE_SUCCESS"),
        ("app_id", app_id),
        ("auth_app_id", app_id),
        ("sign_type", "RSA2"),
        ("seller_id", "2088102176027680"),
        ("version", "1.0"),
        ("out_trade_no", out_trade_no),
        ("trade_no", trade_no),
        ("fund_bill_list", fund_bill_list.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    params.insert(
        "notify_id".into(),
        format!("2024{:028x}", rand::random::<u128>() >> 16),
    );
    // Notifications are signed over everything except sign and sign_type.
    let content = sorted_content(&params, &["sign", "sign_type"]);
    params.insert("sign".into(), sign(key, &content));
    serde_urlencoded::to_string(&params).unwrap()
}

async fn gateway(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: axum::http::Method,
    RawQuery(raw_query): RawQuery,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;

    // Alipay reads parameters from both the query string and a form body.
    let mut params = BTreeMap::new();
    for source in [
        raw_query.unwrap_or_default(),
        String::from_utf8_lossy(&body).into_owned(),
    ] {
        let pairs: Vec<(String, String)> = match serde_urlencoded::from_str(&source) {
            Ok(p) => p,
            Err(_) => return (axum::http::StatusCode::BAD_REQUEST, "bad form").into_response(),
        };
        params.extend(pairs);
    }
    let api_method = params.get("method").cloned().unwrap_or_default();
    let biz_content = params
        .get("biz_content")
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(serde_json::Value::Null);
    let signature_valid = verify_app_signature(&params);
    inner.lock().requests.push(RecordedRequest {
        http_method: method.to_string(),
        api_method: api_method.clone(),
        params: params.clone(),
        biz_content: biz_content.clone(),
        signature_valid,
    });

    let node_name = format!("{}_response", api_method.replace('.', "_"));
    if params.get("app_id").map(String::as_str) != Some(APP_ID) {
        return json(error_body(
            "error_response",
            "40002",
            "Invalid Arguments",
            "isv.invalid-app-id",
            "无效的AppID参数",
        ));
    }
    if params.get("sign_type").map(String::as_str) != Some("RSA2") || !signature_valid {
        return json(error_body(
            "error_response",
            "40002",
            "Invalid Arguments",
            "isv.invalid-signature",
            "验签出错",
        ));
    }

    match api_method.as_str() {
        // The cashier page: a browser would land here; the signature was all there was to check.
        "alipay.trade.wap.pay" => (
            [("content-type", "text/html; charset=utf-8")],
            "<html><body>fake alipay cashier</body></html>",
        )
            .into_response(),
        "alipay.trade.refund" => json(refund(&inner, &node_name, &biz_content)),
        "alipay.trade.query" => json(query(&inner, &node_name, &biz_content)),
        _ => json(error_body(
            "error_response",
            "40004",
            "Business Failed",
            "isv.invalid-method",
            "不存在的方法名",
        )),
    }
}

fn refund(inner: &Mutex<Inner>, node_name: &str, biz: &serde_json::Value) -> String {
    let field = |k: &str| {
        biz.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let out_trade_no = field("out_trade_no");
    let out_request_no = field("out_request_no");
    let Some(amount) = parse_yuan(&field("refund_amount")).filter(|a| *a > 0) else {
        return error_body(
            node_name,
            "40004",
            "Business Failed",
            "ACQ.INVALID_PARAMETER",
            "参数无效",
        );
    };
    if out_request_no.is_empty() {
        return error_body(
            node_name,
            "40004",
            "Business Failed",
            "ACQ.INVALID_PARAMETER",
            "参数无效",
        );
    }
    let mut inner = inner.lock();
    let Some(trade) = inner.trades.get_mut(&out_trade_no) else {
        return error_body(
            node_name,
            "40004",
            "Business Failed",
            "ACQ.TRADE_NOT_EXIST",
            "交易不存在",
        );
    };
    let fund_change = match trade.refunds.get(&out_request_no) {
        // A retry of a refund that went through: same answer, no money moves.
        Some(_) => false,
        None => {
            if trade.status != "TRADE_SUCCESS" {
                return error_body(
                    node_name,
                    "40004",
                    "Business Failed",
                    "ACQ.TRADE_STATUS_ERROR",
                    "交易状态不合法",
                );
            }
            if trade.refunded_fen + amount > trade.total_fen {
                return error_body(
                    node_name,
                    "40004",
                    "Business Failed",
                    "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                    "退款金额超限",
                );
            }
            trade.refunds.insert(out_request_no, amount);
            trade.refunded_fen += amount;
            if trade.refunded_fen == trade.total_fen {
                trade.status = "TRADE_CLOSED";
            }
            true
        }
    };
    let node = node_text(&[
        ("code", "10000".into()),
        ("msg", "Success".into()),
        ("trade_no", trade.trade_no.clone().into()),
        ("out_trade_no", out_trade_no.into()),
        ("buyer_logon_id", "159****5620".into()),
        ("fund_change", if fund_change { "Y" } else { "N" }.into()),
        ("refund_fee", yuan(trade.refunded_fen).into()),
        ("send_back_fee", yuan(amount).into()),
        ("gmt_refund_pay", "2024-05-21 10:00:00".into()),
    ]);
    signed_body(node_name, &node)
}

fn query(inner: &Mutex<Inner>, node_name: &str, biz: &serde_json::Value) -> String {
    let out_trade_no = biz
        .get("out_trade_no")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let inner = inner.lock();
    let Some(trade) = inner.trades.get(out_trade_no) else {
        return error_body(
            node_name,
            "40004",
            "Business Failed",
            "ACQ.TRADE_NOT_EXIST",
            "交易不存在",
        );
    };
    let node = node_text(&[
        ("code", "10000".into()),
        ("msg", "Success".into()),
        ("trade_no", trade.trade_no.clone().into()),
        ("out_trade_no", out_trade_no.into()),
        ("buyer_logon_id", "159****5620".into()),
        ("trade_status", trade.status.into()),
        ("total_amount", yuan(trade.total_fen).into()),
        ("buyer_pay_amount", yuan(trade.total_fen).into()),
        ("send_pay_date", "2024-05-20 10:00:04".into()),
        (
            "fund_bill_list",
            serde_json::json!([{ "amount": yuan(trade.total_fen), "fund_channel": "ALIPAYACCOUNT" }]),
        ),
    ]);
    signed_body(node_name, &node)
}

/// The node's JSON in Alipay's field order (code and msg first, not sorted), with non-ASCII
/// text left unescaped: a client that re-serialises the node instead of cutting it out of the
/// body gets different bytes and a failed signature check.
fn node_text(fields: &[(&str, serde_json::Value)]) -> String {
    let inner: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn error_body(node_name: &str, code: &str, msg: &str, sub_code: &str, sub_msg: &str) -> String {
    let node = node_text(&[
        ("code", code.into()),
        ("msg", msg.into()),
        ("sub_code", sub_code.into()),
        ("sub_msg", sub_msg.into()),
    ]);
    signed_body(node_name, &node)
}

fn signed_body(node_name: &str, node: &str) -> String {
    format!(
        r#"{{"{node_name}":{node},"sign":"{}"}}"#,
        sign(&key_pairs().alipay_private, node)
    )
}

fn json(body: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    ([("content-type", "application/json;charset=utf-8")], body).into_response()
}

fn verify_app_signature(params: &BTreeMap<String, String>) -> bool {
    let Some(sign) = params.get("sign") else {
        return false;
    };
    let Ok(bytes) = BASE64.decode(sign) else {
        return false;
    };
    let Ok(signature) = Signature::try_from(bytes.as_slice()) else {
        return false;
    };
    // Requests are signed over everything except sign (sign_type included).
    let content = sorted_content(params, &["sign"]);
    VerifyingKey::<Sha256>::new(key_pairs().app_public.clone())
        .verify(content.as_bytes(), &signature)
        .is_ok()
}

fn sorted_content(params: &BTreeMap<String, String>, excluded: &[&str]) -> String {
    params
        .iter()
        .filter(|(k, v)| !excluded.contains(&k.as_str()) && !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn sign(key: &RsaPrivateKey, content: &str) -> String {
    let signing = SigningKey::<Sha256>::new(key.clone());
    BASE64.encode(signing.sign(content.as_bytes()).to_bytes())
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// Strict yuan parsing, as Alipay applies it to refund_amount: at most two decimals.
fn parse_yuan(s: &str) -> Option<i64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (s.contains('.') && frac.is_empty())
    {
        return None;
    }
    let cents = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse::<i64>().ok()?,
    };
    int.parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}
