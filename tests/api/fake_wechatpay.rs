//! A fake WeChat Pay API v3 server for black-box tests.
//!
//! It speaks the real protocol, so the server under test is exercised end to end: it verifies
//! the merchant's `Authorization` signature on every request (401 `SIGN_ERROR` otherwise), signs
//! every answer with its platform key in the `Wechatpay-*` headers, and builds notifications the
//! way WeChat Pay does (signed envelope, AES-256-GCM encrypted resource). It keeps just enough
//! state to behave like the real thing where tests care: orders from prepay, paid or not, and
//! refunds that cannot add up to more than the order.
//!
//! Configure the server under test with `app_id`, `mch_id`, `merchant_serial`,
//! `merchant_private_key_pem`, `api_v3_key`, `(platform_serial, platform_public_key_pem)` and
//! `base_url`.

// A toolkit: each test binary uses some of the helpers, not all of them.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicBool, Ordering},
};

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use chrono::{FixedOffset, Utc};
use parking_lot::Mutex;
use rand::{Rng, distributions::Alphanumeric};
use rsa::{
    RsaPrivateKey,
    pkcs1v15::{Signature, SigningKey, VerifyingKey},
    pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding},
    signature::{RandomizedSigner, SignatureEncoding, Verifier},
};
use serde_json::{Value, json};
use sha2::Sha256;

/// WeChat Pay refuses requests whose timestamp is further than this from its clock.
const REQUEST_MAX_SKEW_SECS: i64 = 300;

struct Keys {
    platform: RsaPrivateKey,
    merchant: RsaPrivateKey,
    /// Signs forged notifications and answers: a real key that is not WeChat Pay's.
    forger: RsaPrivateKey,
}

/// Generating 2048-bit keys takes a while, so every fake in a test binary shares one set; each
/// fake still has its own serials, API v3 key and state.
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::thread_rng();
        let mut generate = || RsaPrivateKey::new(&mut rng, 2048).expect("RSA key generation");
        Keys {
            platform: generate(),
            merchant: generate(),
            forger: generate(),
        }
    })
}

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, as signed.
    pub path_and_query: String,
    pub authorization: Option<String>,
    pub body: String,
    /// The body as JSON (`Null` for an empty or non-JSON body).
    pub json: Value,
    /// Whether the merchant signature verified; unsigned or badly signed requests are recorded
    /// too, so a test can see that one was refused.
    pub signature_valid: bool,
}

#[derive(Clone, Debug)]
struct Order {
    total: i64,
    openid: String,
    description: String,
    prepay_id: String,
    /// `Some` once paid.
    transaction_id: Option<String>,
    success_time: Option<String>,
    refunded: i64,
}

#[derive(Clone, Debug)]
struct RefundRecord {
    refund_id: String,
    out_trade_no: String,
    refund: i64,
    total: i64,
    create_time: String,
}

#[derive(Default)]
struct Ledger {
    requests: Vec<RecordedRequest>,
    orders: HashMap<String, Order>,
    refunds: HashMap<String, RefundRecord>,
}

struct Shared {
    app_id: String,
    mch_id: String,
    merchant_serial: String,
    platform_serial: String,
    api_v3_key: String,
    forge_responses: AtomicBool,
    ledger: Mutex<Ledger>,
}

#[derive(Clone)]
pub struct FakeWechatPay {
    pub base_url: String,
    pub app_id: String,
    pub mch_id: String,
    pub merchant_serial: String,
    /// PKCS#8 PEM, as in the merchant's `apiclient_key.pem`.
    pub merchant_private_key_pem: String,
    pub platform_serial: String,
    /// SPKI PEM.
    pub platform_public_key_pem: String,
    /// 32 random alphanumeric characters.
    pub api_v3_key: String,
    shared: Arc<Shared>,
}

impl FakeWechatPay {
    pub async fn start() -> FakeWechatPay {
        let keys = keys();
        let shared = Arc::new(Shared {
            app_id: format!("wx{}", random_hex(16).to_lowercase()),
            mch_id: format!("19{}", random_digits(8)),
            merchant_serial: random_hex(40),
            platform_serial: format!("PUB_KEY_ID_01{}", random_digits(30)),
            api_v3_key: random_alphanumeric(32),
            forge_responses: AtomicBool::new(false),
            ledger: Mutex::default(),
        });
        let router = Router::new()
            .route("/v3/pay/transactions/jsapi", post(jsapi))
            .route("/v3/refund/domestic/refunds", post(refund))
            .route(
                "/v3/pay/transactions/out-trade-no/{out_trade_no}",
                get(query),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        FakeWechatPay {
            base_url: format!("http://127.0.0.1:{port}"),
            app_id: shared.app_id.clone(),
            mch_id: shared.mch_id.clone(),
            merchant_serial: shared.merchant_serial.clone(),
            merchant_private_key_pem: keys
                .merchant
                .to_pkcs8_pem(LineEnding::LF)
                .unwrap()
                .to_string(),
            platform_serial: shared.platform_serial.clone(),
            platform_public_key_pem: keys
                .platform
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap(),
            api_v3_key: shared.api_v3_key.clone(),
            shared,
        }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.ledger.lock().requests.clone()
    }

    /// From now on, answers are signed with a key that is not the platform key (under the
    /// platform serial): a client that verifies answers must refuse them.
    pub fn forge_responses(&self, forge: bool) {
        self.shared.forge_responses.store(forge, Ordering::SeqCst);
    }

    /// Marks an order paid, as if the payer completed `wx.requestPayment`. Creates the order if
    /// no prepay was made for it. Returns the WeChat transaction id.
    pub fn mark_paid(&self, out_trade_no: &str, total_fen: i64) -> String {
        let mut ledger = self.shared.ledger.lock();
        let order = ledger
            .orders
            .entry(out_trade_no.to_string())
            .or_insert_with(|| Order {
                total: total_fen,
                openid: default_openid(),
                description: String::new(),
                prepay_id: new_prepay_id(),
                transaction_id: None,
                success_time: None,
                refunded: 0,
            });
        if order.transaction_id.is_none() {
            order.transaction_id = Some(format!("42000{}", random_digits(23)));
            order.success_time = Some(china_time(Utc::now().timestamp()));
        }
        order.transaction_id.clone().unwrap()
    }

    /// Refunded total so far for an order, in fen.
    pub fn refunded(&self, out_trade_no: &str) -> i64 {
        self.shared
            .ledger
            .lock()
            .orders
            .get(out_trade_no)
            .map_or(0, |order| order.refunded)
    }

    /// A `TRANSACTION.SUCCESS` notification exactly as WeChat Pay posts it, for an order paid in
    /// full; the order becomes paid in the fake too (so queries and refunds see it paid).
    /// `total_fen` is what the notification claims was paid: pass a different amount than the
    /// order's to test the amount-mismatch alarm.
    pub fn payment_notification(
        &self,
        out_trade_no: &str,
        total_fen: i64,
    ) -> (Vec<(String, String)>, String) {
        self.mark_paid(out_trade_no, total_fen);
        let body = self.payment_notification_body(out_trade_no, total_fen);
        let headers =
            self.sign_notification(Utc::now().timestamp(), &random_alphanumeric(32), &body);
        (headers, body)
    }

    /// The same notification signed by another key under the platform serial: a forgery. The
    /// order is not marked paid.
    pub fn forged_payment_notification(
        &self,
        out_trade_no: &str,
        total_fen: i64,
    ) -> (Vec<(String, String)>, String) {
        let body = self.payment_notification_body(out_trade_no, total_fen);
        let headers = signed_headers(
            &keys().forger,
            &self.platform_serial,
            Utc::now().timestamp(),
            &random_alphanumeric(32),
            &body,
        );
        (headers, body)
    }

    /// A genuine notification whose timestamp is ten minutes old: a replay. The order is not
    /// marked paid.
    pub fn stale_payment_notification(
        &self,
        out_trade_no: &str,
        total_fen: i64,
    ) -> (Vec<(String, String)>, String) {
        let body = self.payment_notification_body(out_trade_no, total_fen);
        let headers = self.sign_notification(
            Utc::now().timestamp() - 600,
            &random_alphanumeric(32),
            &body,
        );
        (headers, body)
    }

    /// A `REFUND.SUCCESS` notification for a refund the fake accepted.
    pub fn refund_notification(&self, out_refund_no: &str) -> (Vec<(String, String)>, String) {
        let (refund, transaction_id) = {
            let ledger = self.shared.ledger.lock();
            let refund = ledger
                .refunds
                .get(out_refund_no)
                .unwrap_or_else(|| panic!("no refund {out_refund_no} was requested"))
                .clone();
            let transaction_id = ledger
                .orders
                .get(&refund.out_trade_no)
                .and_then(|o| o.transaction_id.clone());
            (refund, transaction_id)
        };
        let plaintext = json!({
            "mchid": self.mch_id,
            "transaction_id": transaction_id,
            "out_trade_no": refund.out_trade_no,
            "refund_id": refund.refund_id,
            "out_refund_no": out_refund_no,
            "refund_status": "SUCCESS",
            "success_time": china_time(Utc::now().timestamp()),
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": refund.total,
                "refund": refund.refund,
                "payer_total": refund.total,
                "payer_refund": refund.refund
            }
        })
        .to_string();
        let body = self.notification_body("REFUND.SUCCESS", "退款成功", "refund", &plaintext);
        let headers =
            self.sign_notification(Utc::now().timestamp(), &random_alphanumeric(32), &body);
        (headers, body)
    }

    /// The decrypted resource of a successful payment, as WeChat Pay encrypts it.
    pub fn transaction_plaintext(&self, out_trade_no: &str, total_fen: i64) -> String {
        let (transaction_id, openid, success_time) = {
            let ledger = self.shared.ledger.lock();
            match ledger.orders.get(out_trade_no) {
                Some(order) => (
                    order.transaction_id.clone(),
                    order.openid.clone(),
                    order.success_time.clone(),
                ),
                None => (None, default_openid(), None),
            }
        };
        json!({
            "mchid": self.mch_id,
            "appid": self.app_id,
            "out_trade_no": out_trade_no,
            "transaction_id": transaction_id.unwrap_or_else(|| format!("42000{}", random_digits(23))),
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": success_time.unwrap_or_else(|| china_time(Utc::now().timestamp())),
            "payer": {"openid": openid},
            "amount": {
                "total": total_fen,
                "payer_total": total_fen,
                "currency": "CNY",
                "payer_currency": "CNY"
            }
        })
        .to_string()
    }

    fn payment_notification_body(&self, out_trade_no: &str, total_fen: i64) -> String {
        let plaintext = self.transaction_plaintext(out_trade_no, total_fen);
        self.notification_body("TRANSACTION.SUCCESS", "支付成功", "transaction", &plaintext)
    }

    /// A notification envelope around `plaintext`, encrypted with the API v3 key; for custom
    /// bodies (sign it with [`Self::sign_notification`]).
    pub fn notification_body(
        &self,
        event_type: &str,
        summary: &str,
        original_type: &str,
        plaintext: &str,
    ) -> String {
        json!({
            "id": format!("EV-{}", random_digits(19)),
            "create_time": china_time(Utc::now().timestamp()),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": self.encrypt_resource(original_type, plaintext),
        })
        .to_string()
    }

    /// `{original_type, algorithm, ciphertext, associated_data, nonce}` with AEAD_AES_256_GCM:
    /// key = API v3 key bytes, 12-character nonce, associated data = `original_type`, and the
    /// 16-byte tag appended to the ciphertext before base64.
    pub fn encrypt_resource(&self, original_type: &str, plaintext: &str) -> Value {
        let nonce = random_alphanumeric(12);
        let cipher = Aes256Gcm::new_from_slice(self.api_v3_key.as_bytes()).unwrap();
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(nonce.as_bytes()),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: original_type.as_bytes(),
                },
            )
            .unwrap();
        json!({
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": BASE64.encode(ciphertext),
            "associated_data": original_type,
            "nonce": nonce,
        })
    }

    /// The headers WeChat Pay sends with a notification whose body is `body`.
    pub fn sign_notification(
        &self,
        timestamp: i64,
        nonce: &str,
        body: &str,
    ) -> Vec<(String, String)> {
        signed_headers(
            &keys().platform,
            &self.platform_serial,
            timestamp,
            nonce,
            body,
        )
    }
}

fn signed_headers(
    key: &RsaPrivateKey,
    serial: &str,
    timestamp: i64,
    nonce: &str,
    body: &str,
) -> Vec<(String, String)> {
    let signature = sign(key, format!("{timestamp}\n{nonce}\n{body}\n").as_bytes());
    vec![
        ("Wechatpay-Timestamp".into(), timestamp.to_string()),
        ("Wechatpay-Nonce".into(), nonce.to_string()),
        ("Wechatpay-Signature".into(), signature),
        ("Wechatpay-Serial".into(), serial.to_string()),
        (
            "Wechatpay-Signature-Type".into(),
            "WECHATPAY2-SHA256-RSA2048".into(),
        ),
    ]
}

fn sign(key: &RsaPrivateKey, message: &[u8]) -> String {
    let signature: Signature =
        SigningKey::<Sha256>::new(key.clone()).sign_with_rng(&mut rand::thread_rng(), message);
    BASE64.encode(signature.to_bytes())
}

/// Checks the merchant `Authorization` header the way WeChat Pay does.
fn verify_merchant(
    shared: &Shared,
    method: &Method,
    path_and_query: &str,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<(), String> {
    let header = authorization.ok_or("missing Authorization")?;
    let params = header
        .strip_prefix("WECHATPAY2-SHA256-RSA2048 ")
        .ok_or("unknown authorization scheme")?;
    let mut fields = HashMap::new();
    for pair in params.split(',') {
        let (name, value) = pair.split_once('=').ok_or("malformed Authorization")?;
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or("Authorization values must be quoted")?;
        fields.insert(name.trim(), value);
    }
    let field = |name: &str| {
        fields
            .get(name)
            .copied()
            .ok_or(format!("Authorization lacks {name}"))
    };
    if field("mchid")? != shared.mch_id {
        return Err("mchid does not match".into());
    }
    if field("serial_no")? != shared.merchant_serial {
        return Err("unknown merchant certificate serial".into());
    }
    let timestamp_text = field("timestamp")?;
    let timestamp: i64 = timestamp_text.parse().map_err(|_| "bad timestamp")?;
    if (Utc::now().timestamp() - timestamp).abs() > REQUEST_MAX_SKEW_SECS {
        return Err("request timestamp expired".into());
    }
    let nonce = field("nonce_str")?;
    let signature = BASE64
        .decode(field("signature")?)
        .ok()
        .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
        .ok_or("signature is not base64")?;
    let mut message =
        format!("{method}\n{path_and_query}\n{timestamp_text}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    VerifyingKey::<Sha256>::new(keys().merchant.to_public_key())
        .verify(&message, &signature)
        .map_err(|_| "signature does not verify".to_string())
}

/// Verifies and records a request; on failure returns why, for the 401 (see [`sign_error`]).
fn admit(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, String> {
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |pq| pq.as_str().to_string());
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let verdict = verify_merchant(
        shared,
        method,
        &path_and_query,
        authorization.as_deref(),
        body,
    );
    let text = String::from_utf8_lossy(body).into_owned();
    let json_body = serde_json::from_slice(body).unwrap_or(Value::Null);
    shared.ledger.lock().requests.push(RecordedRequest {
        method: method.to_string(),
        path_and_query,
        authorization,
        body: text,
        json: json_body.clone(),
        signature_valid: verdict.is_ok(),
    });
    verdict.map(|()| json_body)
}

/// What WeChat Pay answers a request whose signature it cannot verify.
fn sign_error(shared: &Shared, message: &str) -> Response {
    error(shared, StatusCode::UNAUTHORIZED, "SIGN_ERROR", message)
}

/// A JSON answer signed with the platform key (or the forger's, when forging is on).
fn answer(shared: &Shared, status: StatusCode, body: Value) -> Response {
    let body = body.to_string();
    let key = if shared.forge_responses.load(Ordering::SeqCst) {
        &keys().forger
    } else {
        &keys().platform
    };
    let mut headers = HeaderMap::new();
    for (name, value) in signed_headers(
        key,
        &shared.platform_serial,
        Utc::now().timestamp(),
        &random_alphanumeric(32),
        &body,
    ) {
        headers.insert(
            axum::http::HeaderName::try_from(name).unwrap(),
            HeaderValue::try_from(value).unwrap(),
        );
    }
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "request-id",
        HeaderValue::try_from(format!("08{}", random_hex(30))).unwrap(),
    );
    (status, headers, body).into_response()
}

fn error(shared: &Shared, status: StatusCode, code: &str, message: &str) -> Response {
    answer(shared, status, json!({"code": code, "message": message}))
}

async fn jsapi(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match admit(&shared, &method, &uri, &headers, &body) {
        Ok(request) => request,
        Err(message) => return sign_error(&shared, &message),
    };
    let text = |name: &str| request[name].as_str().unwrap_or_default().to_string();
    if text("appid") != shared.app_id || text("mchid") != shared.mch_id {
        return error(
            &shared,
            StatusCode::BAD_REQUEST,
            "APPID_MCHID_NOT_MATCH",
            "appid和mch_id不匹配",
        );
    }
    let out_trade_no = text("out_trade_no");
    let description = text("description");
    let openid = request["payer"]["openid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let total = request["amount"]["total"].as_i64().unwrap_or(0);
    let currency = request["amount"]["currency"].as_str().unwrap_or("CNY");
    if out_trade_no.is_empty()
        || description.is_empty()
        || openid.is_empty()
        || text("notify_url").is_empty()
        || total <= 0
        || currency != "CNY"
    {
        return error(&shared, StatusCode::BAD_REQUEST, "PARAM_ERROR", "参数错误");
    }
    if let Some(time_expire) = request.get("time_expire").and_then(Value::as_str)
        && chrono::DateTime::parse_from_rfc3339(time_expire).is_err()
    {
        return error(
            &shared,
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "time_expire格式错误",
        );
    }
    let mut ledger = shared.ledger.lock();
    if let Some(order) = ledger.orders.get(&out_trade_no) {
        if order.transaction_id.is_some() {
            return error(
                &shared,
                StatusCode::BAD_REQUEST,
                "ORDERPAID",
                "该订单已支付",
            );
        }
        // The same number with the same parameters is a retry; anything else is a clash.
        if order.total != total || order.description != description || order.openid != openid {
            return error(
                &shared,
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "订单号重复",
            );
        }
        let prepay_id = order.prepay_id.clone();
        drop(ledger);
        return answer(&shared, StatusCode::OK, json!({"prepay_id": prepay_id}));
    }
    let prepay_id = new_prepay_id();
    ledger.orders.insert(
        out_trade_no,
        Order {
            total,
            openid,
            description,
            prepay_id: prepay_id.clone(),
            transaction_id: None,
            success_time: None,
            refunded: 0,
        },
    );
    drop(ledger);
    answer(&shared, StatusCode::OK, json!({"prepay_id": prepay_id}))
}

async fn refund(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match admit(&shared, &method, &uri, &headers, &body) {
        Ok(request) => request,
        Err(message) => return sign_error(&shared, &message),
    };
    let out_trade_no = request["out_trade_no"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let out_refund_no = request["out_refund_no"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let refund = request["amount"]["refund"].as_i64().unwrap_or(0);
    let total = request["amount"]["total"].as_i64().unwrap_or(0);
    let currency = request["amount"]["currency"].as_str().unwrap_or_default();
    if out_trade_no.is_empty()
        || out_refund_no.is_empty()
        || refund <= 0
        || total <= 0
        || currency != "CNY"
    {
        return error(&shared, StatusCode::BAD_REQUEST, "PARAM_ERROR", "参数错误");
    }

    let mut ledger = shared.ledger.lock();
    // The same refund number is the same refund, however often it is sent.
    if let Some(existing) = ledger.refunds.get(&out_refund_no).cloned() {
        if existing.out_trade_no != out_trade_no || existing.refund != refund {
            return error(
                &shared,
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "退款单号重复",
            );
        }
        let transaction_id = ledger
            .orders
            .get(&out_trade_no)
            .and_then(|o| o.transaction_id.clone());
        drop(ledger);
        return answer(
            &shared,
            StatusCode::OK,
            refund_answer(&out_refund_no, &existing, transaction_id),
        );
    }
    let Some(order) = ledger.orders.get_mut(&out_trade_no) else {
        return error(
            &shared,
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_EXISTS",
            "订单不存在",
        );
    };
    if order.transaction_id.is_none() {
        return error(
            &shared,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "订单未支付",
        );
    }
    if total != order.total {
        return error(
            &shared,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "订单金额不一致",
        );
    }
    if order.refunded + refund > order.total {
        return error(
            &shared,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "申请退款金额超过订单可退金额",
        );
    }
    order.refunded += refund;
    let transaction_id = order.transaction_id.clone();
    let record = RefundRecord {
        refund_id: format!("50000{}", random_digits(24)),
        out_trade_no,
        refund,
        total,
        create_time: china_time(Utc::now().timestamp()),
    };
    ledger.refunds.insert(out_refund_no.clone(), record.clone());
    drop(ledger);
    answer(
        &shared,
        StatusCode::OK,
        refund_answer(&out_refund_no, &record, transaction_id),
    )
}

fn refund_answer(
    out_refund_no: &str,
    record: &RefundRecord,
    transaction_id: Option<String>,
) -> Value {
    json!({
        "refund_id": record.refund_id,
        "out_refund_no": out_refund_no,
        "transaction_id": transaction_id,
        "out_trade_no": record.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "success_time": record.create_time,
        "create_time": record.create_time,
        "status": "SUCCESS",
        "funds_account": "AVAILABLE",
        "amount": {
            "total": record.total,
            "refund": record.refund,
            "payer_total": record.total,
            "payer_refund": record.refund,
            "settlement_refund": record.refund,
            "settlement_total": record.total,
            "discount_refund": 0,
            "currency": "CNY",
            "refund_fee": 0
        },
        "promotion_detail": []
    })
}

async fn query(
    State(shared): State<Arc<Shared>>,
    Path(out_trade_no): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(message) = admit(&shared, &method, &uri, &headers, b"") {
        return sign_error(&shared, &message);
    }
    let mchid = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("mchid="));
    if mchid != Some(shared.mch_id.as_str()) {
        return error(
            &shared,
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "mchid参数错误",
        );
    }
    let Some(order) = shared.ledger.lock().orders.get(&out_trade_no).cloned() else {
        return error(
            &shared,
            StatusCode::NOT_FOUND,
            "ORDER_NOT_EXIST",
            "订单不存在",
        );
    };
    let body = match &order.transaction_id {
        None => json!({
            "appid": shared.app_id,
            "mchid": shared.mch_id,
            "out_trade_no": out_trade_no,
            "trade_state": "NOTPAY",
            "trade_state_desc": "订单未支付",
            "amount": {"total": order.total, "currency": "CNY"},
        }),
        Some(transaction_id) => {
            let refunded = order.refunded > 0;
            json!({
                "appid": shared.app_id,
                "mchid": shared.mch_id,
                "out_trade_no": out_trade_no,
                "transaction_id": transaction_id,
                "trade_type": "JSAPI",
                "trade_state": if refunded { "REFUND" } else { "SUCCESS" },
                "trade_state_desc": if refunded { "转入退款" } else { "支付成功" },
                "bank_type": "OTHERS",
                "attach": "",
                "success_time": order.success_time,
                "payer": {"openid": order.openid},
                "amount": {
                    "total": order.total,
                    "payer_total": order.total,
                    "currency": "CNY",
                    "payer_currency": "CNY"
                }
            })
        }
    };
    answer(&shared, StatusCode::OK, body)
}

fn china_time(timestamp: i64) -> String {
    let offset = FixedOffset::east_opt(8 * 3600).unwrap();
    chrono::DateTime::from_timestamp(timestamp, 0)
        .unwrap()
        .with_timezone(&offset)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn new_prepay_id() -> String {
    format!(
        "wx{}{}",
        Utc::now()
            .with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
            .format("%Y%m%d%H%M%S"),
        random_hex(20).to_lowercase()
    )
}

fn default_openid() -> String {
    format!("o{}", random_alphanumeric(27))
}

fn random_alphanumeric(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

fn random_digits(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(b'0' + rng.gen_range(0..10)))
        .collect()
}

fn random_hex(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| {
            char::from_digit(rng.gen_range(0..16), 16)
                .unwrap()
                .to_ascii_uppercase()
        })
        .collect()
}
