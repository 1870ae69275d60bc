//! WeChat Pay API v3 client for a direct merchant (微信支付 APIv3, 直连商户).
//!
//! What it does, and nothing more: JSAPI / mini-program prepay, the parameters the mini-program
//! passes to `wx.requestPayment`, refunds, the order query used to reconcile, and verifying and
//! decrypting the notifications WeChat Pay posts to `notify_url`.
//!
//! Trust model, because that is what this module is for:
//! - every request is signed with the merchant API private key (SHA256withRSA, PKCS#1 v1.5) in
//!   the `Authorization` header, so WeChat Pay can tell it is us;
//! - every 2xx answer and every notification is verified against a platform key configured up
//!   front (a platform certificate's public key, or the newer "WeChat Pay public key"), picked by
//!   the `Wechatpay-Serial` header. An unknown serial is refused rather than fetched, so a
//!   man-in-the-middle cannot introduce a key of its own;
//! - a notification's payload is additionally AES-256-GCM encrypted with the API v3 key; the
//!   decrypted transaction must still be matched against our own order (`Transaction::check`)
//!   before the order is marked paid, because a genuine notification for a different order or a
//!   different amount is still not a payment of this order.
//!
//! Money is integer fen (`i64`) throughout, as in the API itself.
//!
//! The module is self-contained (no `crate::` imports) so it can be tested on its own.

use std::collections::HashMap;
use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, FixedOffset, Utc};
use rand::Rng;
use rand::distributions::Alphanumeric;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Production API host. `api2.mch.weixin.qq.com` is the documented backup host.
pub const DEFAULT_BASE_URL: &str = "https://api.mch.weixin.qq.com";

/// The only signature scheme API v3 uses; it prefixes the `Authorization` header and is what
/// WeChat Pay sends in `Wechatpay-Signature-Type`.
pub const AUTH_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// How far a response's `Wechatpay-Timestamp` may be from our clock. Five minutes is what the
/// official SDKs allow; it bounds how long a captured answer could be replayed to us.
pub const RESPONSE_MAX_SKEW_SECS: i64 = 300;

/// The only currency a mainland direct merchant can charge in.
const CURRENCY: &str = "CNY";

/// WeChat Pay expresses every time in China Standard Time with an explicit offset
/// (`2018-06-08T10:34:56+08:00`); a UTC `Z` form is not what the API documents.
const CHINA_OFFSET_SECS: i32 = 8 * 3600;

/// Merchant API keys shorter than this are not issued by WeChat Pay; requiring it also means
/// PKCS#1 v1.5 signing with SHA-256 cannot fail for lack of modulus room, which is why the
/// signing functions below return plain values.
const MIN_RSA_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum WechatPayError {
    /// Messages name the field only: key material never goes into an error.
    #[error("invalid WeChat Pay configuration: {0}")]
    Config(String),
    #[error("invalid WeChat Pay request: {0}")]
    InvalidRequest(String),
    #[error("WeChat Pay could not be reached: {0}")]
    Http(#[from] reqwest::Error),
    /// A non-2xx answer. `code`/`message` are WeChat Pay's own (e.g. `PARAM_ERROR`,
    /// `SIGN_ERROR`, `NOT_ENOUGH`); `request_id` is what WeChat Pay support asks for.
    #[error("WeChat Pay answered HTTP {status} {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    #[error("WeChat Pay message lacks the {0} header")]
    MissingHeader(&'static str),
    #[error("WeChat Pay message is signed with an unknown platform key serial {0}")]
    UnknownSerial(String),
    #[error("WeChat Pay signature does not verify")]
    BadSignature,
    #[error("WeChat Pay timestamp {timestamp} is outside the accepted window")]
    StaleTimestamp { timestamp: i64 },
    #[error("unsupported encryption algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("WeChat Pay notification resource could not be decrypted")]
    Decrypt,
    #[error("unexpected WeChat Pay payload: {0}")]
    Malformed(String),
}

type Result<T, E = WechatPayError> = std::result::Result<T, E>;

/// Everything needed to talk to WeChat Pay as one merchant.
#[derive(Clone)]
pub struct WechatPayConfig {
    /// The AppID the payer's openid belongs to (the mini-program's).
    pub app_id: String,
    pub mch_id: String,
    /// Serial number of the merchant API certificate whose private key is below.
    pub merchant_serial_no: String,
    /// `apiclient_key.pem`: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub merchant_private_key_pem: String,
    /// The 32-character API v3 key set in the merchant platform; used as the AES-256 key.
    pub api_v3_key: String,
    /// `(serial, public key PEM)`: platform certificate serials or `PUB_KEY_ID_…` ids of the
    /// WeChat Pay public key, with the SPKI (`BEGIN PUBLIC KEY`) PEM. Several entries allow a
    /// key rotation without downtime.
    pub platform_public_keys: Vec<(String, String)>,
    /// [`DEFAULT_BASE_URL`] in production; tests point it at a fake.
    pub base_url: String,
    /// Where WeChat Pay posts payment and refund notifications (https, no query string).
    pub notify_url: String,
}

// Hand-written so that logging a config cannot leak the private key or the API v3 key.
impl fmt::Debug for WechatPayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatPayConfig")
            .field("app_id", &self.app_id)
            .field("mch_id", &self.mch_id)
            .field("merchant_serial_no", &self.merchant_serial_no)
            .field("merchant_private_key_pem", &"<redacted>")
            .field("api_v3_key", &"<redacted>")
            .field(
                "platform_public_keys",
                &self
                    .platform_public_keys
                    .iter()
                    .map(|(serial, _)| serial.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("base_url", &self.base_url)
            .field("notify_url", &self.notify_url)
            .finish()
    }
}

/// The four headers WeChat Pay signs a response or a notification with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationHeaders {
    /// `Wechatpay-Timestamp`, kept as sent: the signed message contains the header's text.
    pub timestamp: String,
    /// `Wechatpay-Nonce`
    pub nonce: String,
    /// `Wechatpay-Signature` (base64)
    pub signature: String,
    /// `Wechatpay-Serial`
    pub serial: String,
}

impl NotificationHeaders {
    /// Reads the headers from an HTTP header map (axum's and reqwest's are the same type).
    pub fn from_header_map(headers: &reqwest::header::HeaderMap) -> Result<Self> {
        let get = |name: &'static str| -> Result<String> {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
                .ok_or(WechatPayError::MissingHeader(name))
        };
        Ok(NotificationHeaders {
            timestamp: get("Wechatpay-Timestamp")?,
            nonce: get("Wechatpay-Nonce")?,
            signature: get("Wechatpay-Signature")?,
            serial: get("Wechatpay-Serial")?,
        })
    }
}

/// A verified, decrypted notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// WeChat Pay retries a notification until it gets a 2xx, always with the same id: handle it
    /// idempotently.
    pub id: String,
    /// `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`, `REFUND.ABNORMAL`, `REFUND.CLOSED`, …
    pub event_type: String,
    pub create_time: String,
    /// `transaction` or `refund`: which parser below applies.
    pub original_type: String,
    /// The decrypted JSON of the resource.
    pub resource_plaintext: String,
}

impl Notification {
    pub fn parse_transaction(&self) -> Result<Transaction> {
        parse_transaction(&self.resource_plaintext)
    }

    pub fn parse_refund(&self) -> Result<RefundNotification> {
        parse_refund(&self.resource_plaintext)
    }
}

#[derive(Deserialize)]
struct NotificationEnvelope {
    id: String,
    #[serde(default)]
    create_time: String,
    event_type: String,
    #[serde(default)]
    #[allow(dead_code)] // "encrypt-resource"; parsed so the shape is checked, not needed
    resource_type: String,
    resource: EncryptedResource,
}

#[derive(Deserialize)]
struct EncryptedResource {
    algorithm: String,
    ciphertext: String,
    #[serde(default)]
    associated_data: String,
    nonce: String,
    #[serde(default)]
    original_type: String,
}

/// Order state as WeChat Pay reports it (`trade_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TradeState {
    Success,
    /// Paid, then (partly) refunded.
    Refund,
    NotPay,
    Closed,
    Revoked,
    UserPaying,
    PayError,
    /// A state this client does not know: never treat it as paid.
    #[serde(other)]
    Unknown,
}

/// A transaction from a payment notification or an order query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Transaction {
    pub appid: String,
    pub mchid: String,
    pub out_trade_no: String,
    /// Absent until paid.
    #[serde(default)]
    pub transaction_id: Option<String>,
    pub trade_state: TradeState,
    #[serde(default)]
    pub trade_state_desc: Option<String>,
    /// RFC 3339 with `+08:00`; kept as text so an unusual format cannot make a real payment
    /// unreadable. See [`Transaction::success_time_utc`].
    #[serde(default)]
    pub success_time: Option<String>,
    #[serde(default)]
    pub amount: TransactionAmount,
    #[serde(default)]
    pub payer: Option<Payer>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TransactionAmount {
    /// Order total in fen: what we asked for.
    #[serde(default)]
    pub total: Option<i64>,
    /// What the payer paid in fen; lower than `total` when a WeChat coupon covered part.
    #[serde(default)]
    pub payer_total: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub payer_currency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Payer {
    pub openid: String,
}

/// One way a transaction does not belong to the order it claims to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    OutTradeNo {
        expected: String,
        actual: String,
    },
    /// The caller alerts staff on this one: the payer paid a different amount than the order.
    Amount {
        expected_fen: i64,
        actual_fen: Option<i64>,
    },
    Currency {
        actual: String,
    },
    AppId {
        expected: String,
        actual: String,
    },
    MchId {
        expected: String,
        actual: String,
    },
}

/// Every mismatch found, so an alert can say all of what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("WeChat Pay transaction does not match the order: {0:?}")]
pub struct TransactionMismatch(pub Vec<Mismatch>);

impl TransactionMismatch {
    pub fn is_amount_mismatch(&self) -> bool {
        self.0.iter().any(|m| matches!(m, Mismatch::Amount { .. }))
    }
}

impl Transaction {
    /// Whether money was received for this order (a later refund does not undo that it was paid).
    pub fn is_paid(&self) -> bool {
        matches!(self.trade_state, TradeState::Success | TradeState::Refund)
    }

    pub fn success_time_utc(&self) -> Option<DateTime<Utc>> {
        self.success_time
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    }

    /// Compares the transaction with the order it is supposed to pay. The amount compared is
    /// `amount.total` (the order amount we requested), not `payer_total`, which legitimately
    /// differs when a WeChat coupon paid part of it.
    pub fn check(
        &self,
        expected_out_trade_no: &str,
        expected_total_fen: i64,
        app_id: &str,
        mch_id: &str,
    ) -> Result<(), TransactionMismatch> {
        let mut mismatches = Vec::new();
        if self.out_trade_no != expected_out_trade_no {
            mismatches.push(Mismatch::OutTradeNo {
                expected: expected_out_trade_no.to_string(),
                actual: self.out_trade_no.clone(),
            });
        }
        if self.amount.total != Some(expected_total_fen) {
            mismatches.push(Mismatch::Amount {
                expected_fen: expected_total_fen,
                actual_fen: self.amount.total,
            });
        }
        // An absent currency is the API default, CNY; anything else was not charged in fen.
        if let Some(currency) = &self.amount.currency
            && currency != CURRENCY
        {
            mismatches.push(Mismatch::Currency {
                actual: currency.clone(),
            });
        }
        if self.appid != app_id {
            mismatches.push(Mismatch::AppId {
                expected: app_id.to_string(),
                actual: self.appid.clone(),
            });
        }
        if self.mchid != mch_id {
            mismatches.push(Mismatch::MchId {
                expected: mch_id.to_string(),
                actual: self.mchid.clone(),
            });
        }
        if mismatches.is_empty() {
            Ok(())
        } else {
            Err(TransactionMismatch(mismatches))
        }
    }
}

/// Refund state (`status` in the refund answer, `refund_status` in refund notifications).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RefundStatus {
    Success,
    /// Accepted; the outcome arrives by notification or query.
    Processing,
    /// The payer's card or account could not take the money back; needs a manual transfer.
    Abnormal,
    Closed,
    #[serde(other)]
    Unknown,
}

/// The answer to a refund request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Refund {
    pub refund_id: String,
    pub out_refund_no: String,
    #[serde(default)]
    pub out_trade_no: Option<String>,
    pub status: RefundStatus,
}

/// The decrypted resource of a `REFUND.*` notification.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RefundNotification {
    pub mchid: String,
    pub out_trade_no: String,
    #[serde(default)]
    pub transaction_id: Option<String>,
    pub out_refund_no: String,
    pub refund_id: String,
    pub refund_status: RefundStatus,
    #[serde(default)]
    pub success_time: Option<String>,
    #[serde(default)]
    pub user_received_account: Option<String>,
    pub amount: RefundNotificationAmount,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RefundNotificationAmount {
    /// Order total in fen.
    pub total: i64,
    /// This refund in fen.
    pub refund: i64,
    #[serde(default)]
    pub payer_total: Option<i64>,
    #[serde(default)]
    pub payer_refund: Option<i64>,
}

pub fn parse_transaction(plaintext: &str) -> Result<Transaction> {
    serde_json::from_str(plaintext)
        .map_err(|e| WechatPayError::Malformed(format!("transaction resource: {e}")))
}

pub fn parse_refund(plaintext: &str) -> Result<RefundNotification> {
    serde_json::from_str(plaintext)
        .map_err(|e| WechatPayError::Malformed(format!("refund resource: {e}")))
}

/// What the mini-program passes to `wx.requestPayment` (and a JSAPI page to
/// `WeixinJSBridge.invoke('getBrandWCPayRequest')`, which also needs `appId`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsapiPayParams {
    #[serde(rename = "appId")]
    pub app_id: String,
    /// Seconds since the epoch, as a string: the client API insists on a string.
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    /// `prepay_id=…`
    pub package: String,
    /// Always `RSA` for API v3 (SHA256withRSA).
    #[serde(rename = "signType")]
    pub sign_type: String,
    #[serde(rename = "paySign")]
    pub pay_sign: String,
}

#[derive(Serialize)]
struct Amount<'a> {
    total: i64,
    currency: &'a str,
}

#[derive(Serialize)]
struct JsapiPrepayRequest<'a> {
    appid: &'a str,
    mchid: &'a str,
    description: &'a str,
    out_trade_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_expire: Option<String>,
    notify_url: &'a str,
    amount: Amount<'a>,
    payer: PayerRequest<'a>,
}

#[derive(Serialize)]
struct PayerRequest<'a> {
    openid: &'a str,
}

#[derive(Deserialize)]
struct PrepayResponse {
    prepay_id: String,
}

#[derive(Serialize)]
struct RefundRequest<'a> {
    out_trade_no: &'a str,
    out_refund_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    notify_url: &'a str,
    amount: RefundAmount<'a>,
}

#[derive(Serialize)]
struct RefundAmount<'a> {
    refund: i64,
    total: i64,
    currency: &'a str,
}

#[derive(Deserialize, Default)]
struct ApiErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// A WeChat Pay API v3 client for one merchant. Keys are parsed once, in [`WechatPay::new`].
#[derive(Clone)]
pub struct WechatPay {
    app_id: String,
    mch_id: String,
    merchant_serial_no: String,
    signing_key: SigningKey<Sha256>,
    api_v3_key: [u8; 32],
    platform_keys: HashMap<String, VerifyingKey<Sha256>>,
    base_url: reqwest::Url,
    notify_url: String,
    http: reqwest::Client,
}

impl fmt::Debug for WechatPay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatPay")
            .field("app_id", &self.app_id)
            .field("mch_id", &self.mch_id)
            .field("merchant_serial_no", &self.merchant_serial_no)
            .field("platform_serials", &self.platform_keys.keys())
            .field("base_url", &self.base_url.as_str())
            .finish_non_exhaustive()
    }
}

impl WechatPay {
    /// Parses and checks the keys, so a bad configuration fails at start-up rather than at the
    /// first customer's payment. The client's timeouts are the caller's choice.
    pub fn new(config: WechatPayConfig, http: reqwest::Client) -> Result<Self> {
        for (name, value) in [
            ("app_id", &config.app_id),
            ("mch_id", &config.mch_id),
            ("merchant_serial_no", &config.merchant_serial_no),
            ("notify_url", &config.notify_url),
        ] {
            if value.trim().is_empty() {
                return Err(WechatPayError::Config(format!("{name} is empty")));
            }
        }
        // WeChat Pay refuses a notify_url carrying a query string; say so before the first order.
        if config.notify_url.contains('?') {
            return Err(WechatPayError::Config(
                "notify_url must not have a query string".into(),
            ));
        }
        let private_key = parse_private_key(&config.merchant_private_key_pem)?;
        if private_key.size() * 8 < MIN_RSA_BITS {
            return Err(WechatPayError::Config(format!(
                "merchant private key is shorter than {MIN_RSA_BITS} bits"
            )));
        }
        let key = config.api_v3_key.as_bytes();
        if key.len() != 32 || !config.api_v3_key.is_ascii() {
            return Err(WechatPayError::Config(
                "api_v3_key must be exactly 32 ASCII characters".into(),
            ));
        }
        let mut api_v3_key = [0u8; 32];
        api_v3_key.copy_from_slice(key);

        if config.platform_public_keys.is_empty() {
            return Err(WechatPayError::Config(
                "no platform public key: answers and notifications could not be verified".into(),
            ));
        }
        let mut platform_keys = HashMap::new();
        for (serial, pem) in &config.platform_public_keys {
            let public_key = parse_public_key(pem).map_err(|()| {
                WechatPayError::Config(format!(
                    "platform public key {serial} is not an RSA public key PEM (SPKI or PKCS#1)"
                ))
            })?;
            platform_keys.insert(serial.trim().to_string(), VerifyingKey::new(public_key));
        }

        let base_url = reqwest::Url::parse(config.base_url.trim_end_matches('/'))
            .map_err(|_| WechatPayError::Config("base_url is not a URL".into()))?;

        Ok(WechatPay {
            app_id: config.app_id,
            mch_id: config.mch_id,
            merchant_serial_no: config.merchant_serial_no,
            signing_key: SigningKey::new(private_key),
            api_v3_key,
            platform_keys,
            base_url,
            notify_url: config.notify_url,
            http,
        })
    }

    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    pub fn mch_id(&self) -> &str {
        &self.mch_id
    }

    /// SHA256withRSA (PKCS#1 v1.5) over `message`, base64.
    fn sign(&self, message: &str) -> String {
        // Cannot fail: the key is at least 2048 bits, far more than a SHA-256 DigestInfo needs.
        // The randomized form is used for RSA blinding (the signature itself is deterministic),
        // so the private-key operation's timing does not depend on the key alone.
        let signature: Signature = self
            .signing_key
            .sign_with_rng(&mut rand::thread_rng(), message.as_bytes());
        BASE64.encode(signature.to_bytes())
    }

    /// The `Authorization` header for one request. `path_and_query` is the URL without scheme
    /// and host, exactly as sent; `body` is the exact JSON sent (empty for GET).
    pub fn authorization(
        &self,
        method: &str,
        path_and_query: &str,
        timestamp: i64,
        nonce: &str,
        body: &str,
    ) -> String {
        let message = format!("{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body}\n");
        let signature = self.sign(&message);
        format!(
            "{AUTH_SCHEME} mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{}\"",
            self.mch_id, self.merchant_serial_no
        )
    }

    /// Verifies a response's or notification's signature: the key is chosen by serial, the
    /// signed message is `"{timestamp}\n{nonce}\n{body}\n"`, and the timestamp must be within
    /// `max_skew_secs` of `now`. The signature is checked before the clock so that
    /// `StaleTimestamp` means "genuine but old" (a replay), not "anything with an old date".
    ///
    /// WeChat Pay occasionally sends probes whose signature starts with `WECHATPAY/SIGNTEST/`
    /// to check that merchants verify; they fail here as `BadSignature`, as they should.
    pub fn verify_signature(
        &self,
        headers: &NotificationHeaders,
        body: &[u8],
        now: DateTime<Utc>,
        max_skew_secs: i64,
    ) -> Result<()> {
        let timestamp: i64 = headers
            .timestamp
            .parse()
            .map_err(|_| WechatPayError::Malformed("Wechatpay-Timestamp is not a number".into()))?;
        let key = self
            .platform_keys
            .get(headers.serial.as_str())
            .ok_or_else(|| WechatPayError::UnknownSerial(headers.serial.clone()))?;
        let signature = BASE64
            .decode(headers.signature.as_bytes())
            .ok()
            .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
            .ok_or(WechatPayError::BadSignature)?;
        let mut message =
            Vec::with_capacity(headers.timestamp.len() + headers.nonce.len() + body.len() + 3);
        message.extend_from_slice(headers.timestamp.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(headers.nonce.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(body);
        message.push(b'\n');
        key.verify(&message, &signature)
            .map_err(|_| WechatPayError::BadSignature)?;
        if (now.timestamp() - timestamp).abs() > max_skew_secs {
            return Err(WechatPayError::StaleTimestamp { timestamp });
        }
        Ok(())
    }

    /// Verifies a notification exactly as received (raw body, before any JSON parsing, since the
    /// signature covers the bytes) and decrypts its resource.
    pub fn verify_and_decrypt_notification(
        &self,
        headers: &NotificationHeaders,
        body: &str,
        now: DateTime<Utc>,
        max_skew_secs: i64,
    ) -> Result<Notification> {
        self.verify_signature(headers, body.as_bytes(), now, max_skew_secs)?;
        let envelope: NotificationEnvelope = serde_json::from_str(body)
            .map_err(|e| WechatPayError::Malformed(format!("notification: {e}")))?;
        let resource = envelope.resource;
        if resource.algorithm != "AEAD_AES_256_GCM" {
            return Err(WechatPayError::UnsupportedAlgorithm(resource.algorithm));
        }
        let plaintext = self.decrypt_resource(
            &resource.ciphertext,
            &resource.nonce,
            &resource.associated_data,
        )?;
        Ok(Notification {
            id: envelope.id,
            event_type: envelope.event_type,
            create_time: envelope.create_time,
            original_type: resource.original_type,
            resource_plaintext: plaintext,
        })
    }

    /// AEAD_AES_256_GCM as WeChat Pay uses it: the key is the API v3 key's bytes, the nonce and
    /// associated data are the strings' bytes, and the base64 ciphertext ends with the 16-byte tag
    /// (which is the layout `aes-gcm` expects).
    fn decrypt_resource(
        &self,
        ciphertext_b64: &str,
        nonce: &str,
        associated_data: &str,
    ) -> Result<String> {
        if nonce.len() != 12 {
            return Err(WechatPayError::Decrypt);
        }
        let ciphertext = BASE64
            .decode(ciphertext_b64.as_bytes())
            .map_err(|_| WechatPayError::Decrypt)?;
        let cipher =
            Aes256Gcm::new_from_slice(&self.api_v3_key).map_err(|_| WechatPayError::Decrypt)?;
        let plaintext = cipher
            .decrypt(
                Nonce::from_slice(nonce.as_bytes()),
                Payload {
                    msg: &ciphertext,
                    aad: associated_data.as_bytes(),
                },
            )
            .map_err(|_| WechatPayError::Decrypt)?;
        String::from_utf8(plaintext).map_err(|_| WechatPayError::Decrypt)
    }

    /// Creates a JSAPI / mini-program order and returns its `prepay_id` (valid two hours).
    ///
    /// Calling it again with the same `out_trade_no` and the same parameters is safe, which is
    /// how a timed-out call is retried; different parameters under the same number are refused
    /// by WeChat Pay.
    pub async fn jsapi_prepay(
        &self,
        out_trade_no: &str,
        description: &str,
        amount_fen: i64,
        payer_openid: &str,
        expire_at: Option<DateTime<Utc>>,
    ) -> Result<String> {
        check_out_trade_no(out_trade_no)?;
        if description.trim().is_empty() {
            return Err(WechatPayError::InvalidRequest(
                "description is empty".into(),
            ));
        }
        if amount_fen <= 0 {
            return Err(WechatPayError::InvalidRequest(format!(
                "amount must be at least 1 fen, got {amount_fen}"
            )));
        }
        if payer_openid.trim().is_empty() {
            return Err(WechatPayError::InvalidRequest(
                "payer openid is empty".into(),
            ));
        }
        let request = JsapiPrepayRequest {
            appid: &self.app_id,
            mchid: &self.mch_id,
            description,
            out_trade_no,
            time_expire: expire_at.map(format_china_time),
            notify_url: &self.notify_url,
            amount: Amount {
                total: amount_fen,
                currency: CURRENCY,
            },
            payer: PayerRequest {
                openid: payer_openid,
            },
        };
        let body = serde_json::to_string(&request)
            .map_err(|e| WechatPayError::InvalidRequest(e.to_string()))?;
        let response: PrepayResponse = self
            .call(reqwest::Method::POST, "/v3/pay/transactions/jsapi", body)
            .await?;
        if response.prepay_id.is_empty() {
            return Err(WechatPayError::Malformed("empty prepay_id".into()));
        }
        Ok(response.prepay_id)
    }

    /// Signs the parameters for `wx.requestPayment` with a fresh timestamp and nonce.
    pub fn jsapi_pay_params(&self, prepay_id: &str) -> JsapiPayParams {
        self.jsapi_pay_params_at(prepay_id, Utc::now().timestamp(), &random_nonce())
    }

    /// [`Self::jsapi_pay_params`] with the timestamp and nonce given, for deterministic tests.
    pub fn jsapi_pay_params_at(
        &self,
        prepay_id: &str,
        timestamp: i64,
        nonce: &str,
    ) -> JsapiPayParams {
        let time_stamp = timestamp.to_string();
        let package = format!("prepay_id={prepay_id}");
        let message = format!("{}\n{time_stamp}\n{nonce}\n{package}\n", self.app_id);
        JsapiPayParams {
            app_id: self.app_id.clone(),
            time_stamp,
            nonce_str: nonce.to_string(),
            package,
            sign_type: "RSA".to_string(),
            pay_sign: self.sign(&message),
        }
    }

    /// Requests a refund of `refund_fen` out of an order of `total_fen`.
    ///
    /// `out_refund_no` is the idempotency key: WeChat Pay refunds once per number however often
    /// it is sent, so after a timeout or a 5xx the caller must retry with the same number rather
    /// than make up a new one (which could refund twice).
    pub async fn refund(
        &self,
        out_trade_no: &str,
        out_refund_no: &str,
        refund_fen: i64,
        total_fen: i64,
        reason: Option<&str>,
    ) -> Result<Refund> {
        check_out_trade_no(out_trade_no)?;
        check_out_refund_no(out_refund_no)?;
        if refund_fen <= 0 || total_fen <= 0 || refund_fen > total_fen {
            return Err(WechatPayError::InvalidRequest(format!(
                "refund of {refund_fen} fen out of an order of {total_fen} fen"
            )));
        }
        let request = RefundRequest {
            out_trade_no,
            out_refund_no,
            reason: reason.filter(|r| !r.trim().is_empty()),
            notify_url: &self.notify_url,
            amount: RefundAmount {
                refund: refund_fen,
                total: total_fen,
                currency: CURRENCY,
            },
        };
        let body = serde_json::to_string(&request)
            .map_err(|e| WechatPayError::InvalidRequest(e.to_string()))?;
        let refund: Refund = self
            .call(reqwest::Method::POST, "/v3/refund/domestic/refunds", body)
            .await?;
        // A signed answer about another refund would be a WeChat Pay bug, but acting on it would
        // mark the wrong refund done.
        if refund.out_refund_no != out_refund_no {
            return Err(WechatPayError::Malformed(format!(
                "refund answer is for {} instead of {out_refund_no}",
                refund.out_refund_no
            )));
        }
        Ok(refund)
    }

    /// Looks an order up by our own number: what reconciliation uses when a notification is late
    /// or lost. The caller still runs [`Transaction::check`] on the result.
    pub async fn query_by_out_trade_no(&self, out_trade_no: &str) -> Result<Transaction> {
        check_out_trade_no(out_trade_no)?;
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}",
            self.mch_id
        );
        let transaction: Transaction = self
            .call(reqwest::Method::GET, &path, String::new())
            .await?;
        if transaction.out_trade_no != out_trade_no {
            return Err(WechatPayError::Malformed(format!(
                "query answer is for order {} instead of {out_trade_no}",
                transaction.out_trade_no
            )));
        }
        Ok(transaction)
    }

    /// Sends one signed request and returns the verified, parsed answer.
    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: String,
    ) -> Result<T> {
        let mut url = self.base_url.clone();
        {
            // The signed URL must be what goes on the wire, so it is taken back from the parsed
            // URL rather than from the string we built.
            let (path, query) = match path_and_query.split_once('?') {
                Some((path, query)) => (path, Some(query)),
                None => (path_and_query, None),
            };
            let base_path = url.path().trim_end_matches('/').to_string();
            url.set_path(&format!("{base_path}{path}"));
            url.set_query(query);
        }
        let signed_path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let authorization = self.authorization(
            method.as_str(),
            &signed_path,
            Utc::now().timestamp(),
            &random_nonce(),
            &body,
        );
        let mut request = self
            .http
            .request(method.clone(), url)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(reqwest::header::ACCEPT, "application/json")
            // WeChat Pay rejects requests without a User-Agent.
            .header(
                reqwest::header::USER_AGENT,
                concat!("distmall-wechatpay/", env!("CARGO_PKG_VERSION")),
            );
        if method != reqwest::Method::GET {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;

        if !status.is_success() {
            // Not verified: an error answer is only ever acted on as a failure, and WeChat Pay's
            // gateway does not sign every error (e.g. some 401s and 5xx).
            let error: ApiErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
            let message = if error.message.is_empty() {
                String::from_utf8_lossy(&bytes).chars().take(200).collect()
            } else {
                error.message
            };
            return Err(WechatPayError::Api {
                status: status.as_u16(),
                code: error.code,
                message,
                request_id: headers
                    .get("Request-ID")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            });
        }

        let signature_headers = NotificationHeaders::from_header_map(&headers)?;
        self.verify_signature(
            &signature_headers,
            &bytes,
            Utc::now(),
            RESPONSE_MAX_SKEW_SECS,
        )?;
        serde_json::from_slice(&bytes)
            .map_err(|e| WechatPayError::Malformed(format!("answer: {e}")))
    }
}

fn parse_private_key(pem: &str) -> Result<RsaPrivateKey> {
    let pem = pem.trim();
    RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|_| {
            WechatPayError::Config(
                "merchant private key is not an RSA private key PEM (PKCS#8 or PKCS#1)".into(),
            )
        })
}

fn parse_public_key(pem: &str) -> std::result::Result<RsaPublicKey, ()> {
    let pem = pem.trim();
    RsaPublicKey::from_public_key_pem(pem)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
        .map_err(|_| ())
}

/// 32 random alphanumeric characters: the nonce length the official SDKs use.
fn random_nonce() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// `2018-06-08T10:34:56+08:00`: whole seconds, China time, explicit offset.
fn format_china_time(time: DateTime<Utc>) -> String {
    let offset = FixedOffset::east_opt(CHINA_OFFSET_SECS).expect("+08:00 is a valid offset");
    time.with_timezone(&offset)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// `out_trade_no`: 6 to 32 of digits, ASCII letters, `_`, `-`, `*`. Checked here because the
/// number also goes into the query URL, where anything else would need escaping.
fn check_out_trade_no(no: &str) -> Result<()> {
    let ok = (6..=32).contains(&no.len())
        && no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'*'));
    if ok {
        Ok(())
    } else {
        Err(WechatPayError::InvalidRequest(format!(
            "out_trade_no {no:?} must be 6-32 characters of 0-9, A-Z, a-z, _ - *"
        )))
    }
}

/// `out_refund_no`: 1 to 64 of digits, ASCII letters, `_`, `-`, `|`, `*`, `@`.
fn check_out_refund_no(no: &str) -> Result<()> {
    let ok = (1..=64).contains(&no.len())
        && no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(WechatPayError::InvalidRequest(format!(
            "out_refund_no {no:?} must be 1-64 characters of 0-9, A-Z, a-z, _ - | * @"
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use aes_gcm::aead::AeadCore;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

    use rsa::signature::Signer;

    use super::*;

    const APP_ID: &str = "wxd678efh567hg6787";
    const MCH_ID: &str = "1230000109";
    const MERCHANT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
    const PLATFORM_SERIAL: &str = "PUB_KEY_ID_0112345678900000000000000000000";
    const API_V3_KEY: &str = "0123456789abcdefghijABCDEFGHIJ01";

    struct Keys {
        merchant: RsaPrivateKey,
        platform: RsaPrivateKey,
        /// Signs forgeries: a valid RSA key that is not WeChat Pay's.
        other: RsaPrivateKey,
    }

    /// 2048-bit key generation takes a noticeable time; every test shares one set.
    fn keys() -> &'static Keys {
        static KEYS: OnceLock<Keys> = OnceLock::new();
        KEYS.get_or_init(|| {
            let mut rng = rand::thread_rng();
            let mut generate = || RsaPrivateKey::new(&mut rng, 2048).expect("RSA key generation");
            Keys {
                merchant: generate(),
                platform: generate(),
                other: generate(),
            }
        })
    }

    fn public_pem(key: &RsaPrivateKey) -> String {
        key.to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    }

    fn config() -> WechatPayConfig {
        WechatPayConfig {
            app_id: APP_ID.into(),
            mch_id: MCH_ID.into(),
            merchant_serial_no: MERCHANT_SERIAL.into(),
            merchant_private_key_pem: keys()
                .merchant
                .to_pkcs8_pem(LineEnding::LF)
                .unwrap()
                .to_string(),
            api_v3_key: API_V3_KEY.into(),
            platform_public_keys: vec![(PLATFORM_SERIAL.into(), public_pem(&keys().platform))],
            base_url: DEFAULT_BASE_URL.into(),
            notify_url: "https://shop.example.com/payments/wechat/notify".into(),
        }
    }

    fn client() -> WechatPay {
        WechatPay::new(config(), reqwest::Client::new()).unwrap()
    }

    fn sign_with(key: &RsaPrivateKey, message: &str) -> String {
        let signature: Signature = SigningKey::<Sha256>::new(key.clone()).sign(message.as_bytes());
        BASE64.encode(signature.to_bytes())
    }

    fn verify_with(key: &RsaPrivateKey, message: &str, signature_b64: &str) -> bool {
        let signature =
            Signature::try_from(BASE64.decode(signature_b64).unwrap().as_slice()).unwrap();
        VerifyingKey::<Sha256>::new(key.to_public_key())
            .verify(message.as_bytes(), &signature)
            .is_ok()
    }

    /// Splits `SCHEME k="v",k="v"` into the scheme and its parameters.
    fn parse_authorization(header: &str) -> (String, HashMap<String, String>) {
        let (scheme, params) = header.split_once(' ').unwrap();
        let params = params
            .split(',')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (k.to_string(), v.trim_matches('"').to_string())
            })
            .collect();
        (scheme.to_string(), params)
    }

    fn encrypt(key: &[u8], nonce: &str, aad: &str, plaintext: &str) -> String {
        let cipher = Aes256Gcm::new_from_slice(key).unwrap();
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(nonce.as_bytes()),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .unwrap();
        BASE64.encode(ciphertext)
    }

    fn transaction_json(out_trade_no: &str, total: i64) -> String {
        serde_json::json!({
            "mchid": MCH_ID,
            "appid": APP_ID,
            "out_trade_no": out_trade_no,
            "transaction_id": "1217752501201407033233368018",
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "CMC",
            "attach": "",
            "success_time": "2018-06-08T10:34:56+08:00",
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"}
        })
        .to_string()
    }

    fn notification_body(
        event_type: &str,
        original_type: &str,
        plaintext: &str,
        key: &[u8],
    ) -> String {
        let nonce = "fdasflkja484";
        serde_json::json!({
            "id": "EV-2018022511223320873",
            "create_time": "2015-05-20T13:29:35+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功",
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": encrypt(key, nonce, original_type, plaintext),
                "associated_data": original_type,
                "nonce": nonce
            }
        })
        .to_string()
    }

    /// Headers as WeChat Pay would send them, signed by `key` under `serial`.
    fn signed_headers(
        key: &RsaPrivateKey,
        serial: &str,
        timestamp: i64,
        body: &str,
    ) -> NotificationHeaders {
        let nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";
        NotificationHeaders {
            timestamp: timestamp.to_string(),
            nonce: nonce.into(),
            signature: sign_with(key, &format!("{timestamp}\n{nonce}\n{body}\n")),
            serial: serial.into(),
        }
    }

    #[test]
    fn authorization_header_has_the_api_v3_format_and_a_verifiable_signature() {
        let pay = client();
        let body = r#"{"appid":"wxd678efh567hg6787"}"#;
        let header = pay.authorization(
            "POST",
            "/v3/pay/transactions/jsapi",
            1554208460,
            "593BEC0C930BF1AFEB40B4A08C8FB242",
            body,
        );
        let prefix = format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"{MCH_ID}\",nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\",signature=\""
        );
        assert!(header.starts_with(&prefix), "{header}");
        assert!(
            header.ends_with(&format!(
                "\",timestamp=\"1554208460\",serial_no=\"{MERCHANT_SERIAL}\""
            )),
            "{header}"
        );
        let (scheme, params) = parse_authorization(&header);
        assert_eq!(scheme, AUTH_SCHEME);
        let message = format!(
            "POST\n/v3/pay/transactions/jsapi\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{body}\n"
        );
        assert!(verify_with(
            &keys().merchant,
            &message,
            &params["signature"]
        ));
        // The signature covers the body: a different body does not verify.
        let tampered = message.replace("wxd678efh567hg6787", "wx0000000000000000");
        assert!(!verify_with(
            &keys().merchant,
            &tampered,
            &params["signature"]
        ));
    }

    #[test]
    fn get_requests_sign_an_empty_body_line() {
        let pay = client();
        let path =
            "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109";
        let header = pay.authorization("GET", path, 1554208460, "abc", "");
        let (_, params) = parse_authorization(&header);
        assert!(verify_with(
            &keys().merchant,
            &format!("GET\n{path}\n1554208460\nabc\n\n"),
            &params["signature"]
        ));
    }

    #[test]
    fn pay_params_are_signed_for_the_mini_program() {
        let pay = client();
        let params = pay.jsapi_pay_params_at(
            "wx201410272009395522657a690389285100",
            1414561699,
            "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        );
        assert_eq!(
            params.package,
            "prepay_id=wx201410272009395522657a690389285100"
        );
        assert_eq!(params.time_stamp, "1414561699");
        assert_eq!(params.sign_type, "RSA");
        let message = format!(
            "{APP_ID}\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx201410272009395522657a690389285100\n"
        );
        assert!(verify_with(&keys().merchant, &message, &params.pay_sign));

        let json = serde_json::to_value(&params).unwrap();
        let mut names: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "appId",
                "nonceStr",
                "package",
                "paySign",
                "signType",
                "timeStamp"
            ]
        );
        assert_eq!(
            json["timeStamp"], "1414561699",
            "timeStamp must be a string"
        );

        // The fresh variant uses a new nonce each time and still verifies.
        let fresh = pay.jsapi_pay_params("wx1");
        assert_eq!(fresh.nonce_str.len(), 32);
        assert_ne!(fresh.nonce_str, pay.jsapi_pay_params("wx1").nonce_str);
        let message = format!(
            "{APP_ID}\n{}\n{}\nprepay_id=wx1\n",
            fresh.time_stamp, fresh.nonce_str
        );
        assert!(verify_with(&keys().merchant, &message, &fresh.pay_sign));
    }

    #[test]
    fn pkcs1_private_keys_are_accepted_too() {
        let mut config = config();
        config.merchant_private_key_pem = keys()
            .merchant
            .to_pkcs1_pem(LineEnding::LF)
            .unwrap()
            .to_string();
        let pay = WechatPay::new(config, reqwest::Client::new()).unwrap();
        let params = pay.jsapi_pay_params_at("wx1", 1, "n");
        assert!(verify_with(
            &keys().merchant,
            &format!("{APP_ID}\n1\nn\nprepay_id=wx1\n"),
            &params.pay_sign
        ));
    }

    #[test]
    fn bad_configuration_fails_at_construction_without_revealing_keys() {
        let mut short_key = config();
        short_key.api_v3_key = "too-short".into();
        let err = WechatPay::new(short_key, reqwest::Client::new()).unwrap_err();
        assert!(matches!(err, WechatPayError::Config(_)), "{err}");
        assert!(!err.to_string().contains("too-short"));

        let mut bad_pem = config();
        bad_pem.merchant_private_key_pem =
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----".into();
        let err = WechatPay::new(bad_pem, reqwest::Client::new()).unwrap_err();
        assert!(matches!(err, WechatPayError::Config(_)));
        assert!(!err.to_string().contains("c2VjcmV0"));

        let mut bad_platform = config();
        bad_platform.platform_public_keys[0].1 = "not a key".into();
        assert!(matches!(
            WechatPay::new(bad_platform, reqwest::Client::new()),
            Err(WechatPayError::Config(_))
        ));

        let mut no_platform = config();
        no_platform.platform_public_keys.clear();
        assert!(WechatPay::new(no_platform, reqwest::Client::new()).is_err());

        let debug = format!("{:?} {:?}", config(), client());
        assert!(!debug.contains(API_V3_KEY));
        assert!(!debug.contains("PRIVATE KEY"));
    }

    #[test]
    fn genuine_notification_is_verified_and_decrypted() {
        let pay = client();
        let plaintext = transaction_json("1217752501201407033233368018", 100);
        let body = notification_body(
            "TRANSACTION.SUCCESS",
            "transaction",
            &plaintext,
            API_V3_KEY.as_bytes(),
        );
        let now = Utc::now();
        let headers = signed_headers(&keys().platform, PLATFORM_SERIAL, now.timestamp(), &body);
        let notification = pay
            .verify_and_decrypt_notification(&headers, &body, now, 300)
            .unwrap();
        assert_eq!(notification.id, "EV-2018022511223320873");
        assert_eq!(notification.event_type, "TRANSACTION.SUCCESS");
        assert_eq!(notification.original_type, "transaction");
        assert_eq!(notification.resource_plaintext, plaintext);

        let transaction = notification.parse_transaction().unwrap();
        assert_eq!(transaction.trade_state, TradeState::Success);
        assert!(transaction.is_paid());
        assert_eq!(transaction.amount.total, Some(100));
        assert_eq!(transaction.amount.payer_total, Some(100));
        assert_eq!(
            transaction.transaction_id.as_deref(),
            Some("1217752501201407033233368018")
        );
        assert_eq!(
            transaction.success_time_utc().unwrap().to_rfc3339(),
            "2018-06-08T02:34:56+00:00"
        );
        transaction
            .check("1217752501201407033233368018", 100, APP_ID, MCH_ID)
            .unwrap();
    }

    #[test]
    fn tampered_notification_body_is_refused() {
        let pay = client();
        let body = notification_body(
            "TRANSACTION.SUCCESS",
            "transaction",
            &transaction_json("ORDER000001", 100),
            API_V3_KEY.as_bytes(),
        );
        let now = Utc::now();
        let headers = signed_headers(&keys().platform, PLATFORM_SERIAL, now.timestamp(), &body);
        let tampered = body.replace("TRANSACTION.SUCCESS", "TRANSACTION.SUCCESs");
        assert!(matches!(
            pay.verify_and_decrypt_notification(&headers, &tampered, now, 300),
            Err(WechatPayError::BadSignature)
        ));
        // A nonce other than the signed one breaks the signature too.
        let mut other_nonce = headers.clone();
        other_nonce.nonce.push('x');
        assert!(matches!(
            pay.verify_and_decrypt_notification(&other_nonce, &body, now, 300),
            Err(WechatPayError::BadSignature)
        ));
    }

    #[test]
    fn notification_signed_by_another_key_is_refused() {
        let pay = client();
        let body = notification_body(
            "TRANSACTION.SUCCESS",
            "transaction",
            &transaction_json("ORDER000001", 100),
            API_V3_KEY.as_bytes(),
        );
        let now = Utc::now();
        let forged = signed_headers(&keys().other, PLATFORM_SERIAL, now.timestamp(), &body);
        assert!(matches!(
            pay.verify_and_decrypt_notification(&forged, &body, now, 300),
            Err(WechatPayError::BadSignature)
        ));
        // WeChat Pay's own verification probes look like this and must fail the same way.
        let mut probe = signed_headers(&keys().platform, PLATFORM_SERIAL, now.timestamp(), &body);
        probe.signature = format!("WECHATPAY/SIGNTEST/{}", probe.signature);
        assert!(matches!(
            pay.verify_and_decrypt_notification(&probe, &body, now, 300),
            Err(WechatPayError::BadSignature)
        ));
    }

    #[test]
    fn notification_with_unknown_serial_is_refused() {
        let pay = client();
        let body = notification_body(
            "TRANSACTION.SUCCESS",
            "transaction",
            &transaction_json("ORDER000001", 100),
            API_V3_KEY.as_bytes(),
        );
        let now = Utc::now();
        // Signed by the attacker's key and naming it: only configured serials are trusted.
        let headers = signed_headers(&keys().other, "ATTACKER0001", now.timestamp(), &body);
        match pay.verify_and_decrypt_notification(&headers, &body, now, 300) {
            Err(WechatPayError::UnknownSerial(serial)) => assert_eq!(serial, "ATTACKER0001"),
            other => panic!("expected UnknownSerial, got {other:?}"),
        }
    }

    #[test]
    fn stale_or_future_notification_is_refused() {
        let pay = client();
        let body = notification_body(
            "TRANSACTION.SUCCESS",
            "transaction",
            &transaction_json("ORDER000001", 100),
            API_V3_KEY.as_bytes(),
        );
        let now = Utc::now();
        let ten_minutes_ago = now.timestamp() - 600;
        let stale = signed_headers(&keys().platform, PLATFORM_SERIAL, ten_minutes_ago, &body);
        match pay.verify_and_decrypt_notification(&stale, &body, now, 300) {
            Err(WechatPayError::StaleTimestamp { timestamp }) => {
                assert_eq!(timestamp, ten_minutes_ago)
            }
            other => panic!("expected StaleTimestamp, got {other:?}"),
        }
        let future = signed_headers(
            &keys().platform,
            PLATFORM_SERIAL,
            now.timestamp() + 600,
            &body,
        );
        assert!(matches!(
            pay.verify_and_decrypt_notification(&future, &body, now, 300),
            Err(WechatPayError::StaleTimestamp { .. })
        ));
        // Inside the window is fine.
        let recent = signed_headers(
            &keys().platform,
            PLATFORM_SERIAL,
            now.timestamp() - 299,
            &body,
        );
        pay.verify_and_decrypt_notification(&recent, &body, now, 300)
            .unwrap();
    }

    #[test]
    fn notification_encrypted_with_another_api_v3_key_does_not_decrypt() {
        let pay = client();
        let body = notification_body(
            "TRANSACTION.SUCCESS",
            "transaction",
            &transaction_json("ORDER000001", 100),
            b"ffffffffffffffffffffffffffffffff",
        );
        let now = Utc::now();
        let headers = signed_headers(&keys().platform, PLATFORM_SERIAL, now.timestamp(), &body);
        assert!(matches!(
            pay.verify_and_decrypt_notification(&headers, &body, now, 300),
            Err(WechatPayError::Decrypt)
        ));
    }

    #[test]
    fn ciphertext_or_associated_data_altered_before_signing_does_not_decrypt() {
        // The signature only proves WeChat Pay sent it; GCM's tag is what binds ciphertext, nonce
        // and associated data together.
        let pay = client();
        let nonce = "0123456789ab";
        let ciphertext = encrypt(API_V3_KEY.as_bytes(), nonce, "transaction", "{}");
        let mut bytes = BASE64.decode(&ciphertext).unwrap();
        bytes[0] ^= 1;
        assert!(matches!(
            pay.decrypt_resource(&BASE64.encode(&bytes), nonce, "transaction"),
            Err(WechatPayError::Decrypt)
        ));
        assert!(matches!(
            pay.decrypt_resource(&ciphertext, nonce, "refund"),
            Err(WechatPayError::Decrypt)
        ));
        assert!(matches!(
            pay.decrypt_resource(&ciphertext, "short", "transaction"),
            Err(WechatPayError::Decrypt)
        ));
        assert_eq!(
            pay.decrypt_resource(&ciphertext, nonce, "transaction")
                .unwrap(),
            "{}"
        );
        // A random nonce from the library is 12 bytes as well, the size WeChat Pay uses.
        assert_eq!(Aes256Gcm::generate_nonce(&mut rand::thread_rng()).len(), 12);
    }

    #[test]
    fn unsupported_algorithm_is_refused() {
        let pay = client();
        let body = notification_body(
            "TRANSACTION.SUCCESS",
            "transaction",
            "{}",
            API_V3_KEY.as_bytes(),
        )
        .replace("AEAD_AES_256_GCM", "AEAD_SM4_GCM");
        let now = Utc::now();
        let headers = signed_headers(&keys().platform, PLATFORM_SERIAL, now.timestamp(), &body);
        assert!(matches!(
            pay.verify_and_decrypt_notification(&headers, &body, now, 300),
            Err(WechatPayError::UnsupportedAlgorithm(a)) if a == "AEAD_SM4_GCM"
        ));
    }

    #[test]
    fn mismatched_transactions_are_reported_field_by_field() {
        let transaction = parse_transaction(&transaction_json("ORDER000001", 100)).unwrap();
        transaction
            .check("ORDER000001", 100, APP_ID, MCH_ID)
            .unwrap();

        let err = transaction
            .check("ORDER000001", 10_000, APP_ID, MCH_ID)
            .unwrap_err();
        assert!(err.is_amount_mismatch());
        assert_eq!(
            err.0,
            [Mismatch::Amount {
                expected_fen: 10_000,
                actual_fen: Some(100)
            }]
        );

        let err = transaction
            .check("ORDER000002", 100, APP_ID, MCH_ID)
            .unwrap_err();
        assert!(!err.is_amount_mismatch());
        assert_eq!(
            err.0,
            [Mismatch::OutTradeNo {
                expected: "ORDER000002".into(),
                actual: "ORDER000001".into()
            }]
        );

        let err = transaction
            .check("ORDER000001", 100, "wxother", "999")
            .unwrap_err();
        assert_eq!(err.0.len(), 2);
        assert!(matches!(err.0[0], Mismatch::AppId { .. }));
        assert!(matches!(err.0[1], Mismatch::MchId { .. }));

        let mut foreign = transaction.clone();
        foreign.amount.currency = Some("USD".into());
        assert_eq!(
            foreign
                .check("ORDER000001", 100, APP_ID, MCH_ID)
                .unwrap_err()
                .0,
            [Mismatch::Currency {
                actual: "USD".into()
            }]
        );

        // An unpaid order's query answer carries no transaction id and may lack the total.
        let unpaid = parse_transaction(&format!(
            r#"{{"appid":"{APP_ID}","mchid":"{MCH_ID}","out_trade_no":"ORDER000001","trade_state":"NOTPAY","trade_state_desc":"订单未支付"}}"#
        ))
        .unwrap();
        assert!(!unpaid.is_paid());
        assert_eq!(unpaid.transaction_id, None);
        assert!(
            unpaid
                .check("ORDER000001", 100, APP_ID, MCH_ID)
                .unwrap_err()
                .is_amount_mismatch()
        );

        let unknown = parse_transaction(&format!(
            r#"{{"appid":"{APP_ID}","mchid":"{MCH_ID}","out_trade_no":"ORDER000001","trade_state":"SOMETHING_NEW"}}"#
        ))
        .unwrap();
        assert_eq!(unknown.trade_state, TradeState::Unknown);
        assert!(!unknown.is_paid());
    }

    #[test]
    fn refund_notification_is_parsed() {
        let pay = client();
        let plaintext = serde_json::json!({
            "mchid": MCH_ID,
            "transaction_id": "1217752501201407033233368018",
            "out_trade_no": "ORDER000001",
            "refund_id": "50000000382019052709732678859",
            "out_refund_no": "RF000001",
            "refund_status": "SUCCESS",
            "success_time": "2018-06-08T10:34:56+08:00",
            "user_received_account": "招商银行信用卡0403",
            "amount": {"total": 999, "refund": 999, "payer_total": 999, "payer_refund": 999}
        })
        .to_string();
        let body = notification_body(
            "REFUND.SUCCESS",
            "refund",
            &plaintext,
            API_V3_KEY.as_bytes(),
        );
        let now = Utc::now();
        let headers = signed_headers(&keys().platform, PLATFORM_SERIAL, now.timestamp(), &body);
        let refund = pay
            .verify_and_decrypt_notification(&headers, &body, now, 300)
            .unwrap()
            .parse_refund()
            .unwrap();
        assert_eq!(refund.out_refund_no, "RF000001");
        assert_eq!(refund.refund_id, "50000000382019052709732678859");
        assert_eq!(refund.refund_status, RefundStatus::Success);
        assert_eq!(refund.amount.refund, 999);
        assert_eq!(refund.amount.total, 999);
    }

    #[test]
    fn headers_are_read_from_an_http_header_map() {
        let mut map = reqwest::header::HeaderMap::new();
        map.insert("wechatpay-timestamp", "1554208460".parse().unwrap());
        map.insert("Wechatpay-Nonce", "abc".parse().unwrap());
        map.insert("Wechatpay-Signature", "c2ln".parse().unwrap());
        assert!(matches!(
            NotificationHeaders::from_header_map(&map),
            Err(WechatPayError::MissingHeader("Wechatpay-Serial"))
        ));
        map.insert("Wechatpay-Serial", "PUB_KEY_ID_1".parse().unwrap());
        let headers = NotificationHeaders::from_header_map(&map).unwrap();
        assert_eq!(headers.timestamp, "1554208460");
        assert_eq!(headers.serial, "PUB_KEY_ID_1");
    }

    #[test]
    fn times_are_sent_in_china_time_with_offset() {
        let time = DateTime::parse_from_rfc3339("2018-06-08T02:34:56.789Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_china_time(time), "2018-06-08T10:34:56+08:00");
    }

    #[test]
    fn order_numbers_are_checked_before_sending() {
        assert!(check_out_trade_no("ORDER_2024-0001*").is_ok());
        assert!(check_out_trade_no("short").is_err());
        assert!(check_out_trade_no("has/slash00").is_err());
        assert!(check_out_trade_no(&"9".repeat(33)).is_err());
        assert!(check_out_refund_no("R|1@2*").is_ok());
        assert!(check_out_refund_no("").is_err());
        assert!(check_out_refund_no("退款1").is_err());
    }
}
