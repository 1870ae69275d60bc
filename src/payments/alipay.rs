//! Alipay open platform client (支付宝开放平台, `gateway.do`, RSA2 keys in public-key mode).
//!
//! What it covers: the mobile-web payment URL (`alipay.trade.wap.pay`), the asynchronous payment
//! notification (verified against Alipay's public key), refunds (`alipay.trade.refund`) and trade
//! queries (`alipay.trade.query`). Money is integer fen everywhere; Alipay's yuan strings are
//! converted here with integer arithmetic only, so "0.1 + 0.2" never happens to an order total.
//!
//! The wire rules this module relies on (Alipay's "签名与验签" rules, public-key mode):
//! * Requests are signed over every parameter except `sign`, empty values left out, sorted by key
//!   in ASCII order, joined as `k=v&k=v` with raw (not URL-encoded) values, SHA256withRSA
//!   (PKCS#1 v1.5), base64.
//! * Notifications are verified the same way, except that `sign_type` is left out as well.
//! * Synchronous responses look like `{"<method>_response":{...},"sign":"..."}` and the signature
//!   covers the exact bytes of the `<method>_response` value as they appear in the body, so the
//!   node is cut out of the body rather than re-serialised (key order and escaping would differ).
//!
//! The module is self-contained (no `crate::` imports) so it can be tested on its own.
use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;
use sha2::Sha256;

/// Alipay's production gateway. The sandbox is `https://openapi-sandbox.dl.alipaydev.com/gateway.do`.
pub const DEFAULT_GATEWAY_URL: &str = "https://openapi.alipay.com/gateway.do";

/// The body the notification handler must answer with (plain text, HTTP 200) once it has
/// verified and durably recorded a notification. Anything else makes Alipay redeliver it
/// (about eight times over 25 hours: 4m, 10m, 10m, 1h, 2h, 6h, 15h), so answer it only after the
/// payment is committed, and answer it again for a notification already processed.
pub const NOTIFY_ACK: &str = "success";

/// Alipay's upper bound on one trade: ¥100,000,000.00.
const MAX_TRADE_FEN: i64 = 10_000_000_000;

/// Alipay's request timestamp format; it is read as Beijing time (UTC+8).
const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// The code Alipay puts in a response node when the call succeeded.
const SUCCESS_CODE: &str = "10000";

#[derive(Debug, thiserror::Error)]
pub enum AlipayError {
    #[error("alipay key: {0}")]
    Key(String),
    #[error("alipay request: {0}")]
    InvalidRequest(String),
    #[error("alipay signing failed: {0}")]
    Signing(String),
    /// The signature is missing, not base64, or does not verify with Alipay's public key.
    #[error("alipay signature does not verify")]
    BadSignature,
    /// Only RSA2 (SHA256withRSA) is accepted; RSA (SHA1) notifications are refused.
    #[error("alipay sign_type {0:?} refused: only RSA2 is accepted")]
    UnsupportedSignType(String),
    #[error("alipay field {0} is missing")]
    MissingField(&'static str),
    #[error("alipay message malformed: {0}")]
    Malformed(String),
    /// An amount that is not a yuan string with at most two decimals (or is out of range).
    #[error("alipay amount {0:?} is not a valid yuan amount")]
    Amount(String),
    #[error("alipay http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("alipay gateway answered HTTP {0}")]
    HttpStatus(u16),
    /// Alipay answered, but with a code other than 10000. `sub_code` is the actionable part,
    /// e.g. `ACQ.TRADE_NOT_EXIST`, `ACQ.REFUND_AMT_NOT_EQUAL_TOTAL`, `isv.invalid-signature`.
    #[error("alipay refused: {code} {msg} ({sub_code}: {sub_msg})")]
    Api {
        code: String,
        msg: String,
        sub_code: String,
        sub_msg: String,
    },
}

impl AlipayError {
    /// The Alipay `sub_code`, when Alipay answered with a business error.
    pub fn sub_code(&self) -> Option<&str> {
        match self {
            AlipayError::Api { sub_code, .. } => Some(sub_code),
            _ => None,
        }
    }

    /// The trade does not exist on Alipay's side: for a query, the buyer never opened the
    /// payment page, so the order is simply unpaid.
    pub fn is_trade_not_exist(&self) -> bool {
        self.sub_code() == Some("ACQ.TRADE_NOT_EXIST")
    }
}

pub type Result<T, E = AlipayError> = std::result::Result<T, E>;

#[derive(Clone)]
pub struct AlipayConfig {
    pub app_id: String,
    /// The application's private key: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`) PEM, or the bare base64 that Alipay's key tool prints.
    pub app_private_key_pem: String,
    /// Alipay's public key (not the application's): SPKI PEM (`BEGIN PUBLIC KEY`) or bare base64.
    pub alipay_public_key_pem: String,
    /// Usually [`DEFAULT_GATEWAY_URL`].
    pub gateway_url: String,
    /// Where Alipay posts payment notifications.
    pub notify_url: String,
}

// The private key must never reach a log line through `{:?}`.
impl fmt::Debug for AlipayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlipayConfig")
            .field("app_id", &self.app_id)
            .field("app_private_key_pem", &"<redacted>")
            .field("gateway_url", &self.gateway_url)
            .field("notify_url", &self.notify_url)
            .finish()
    }
}

/// An Alipay trade status, as notifications and queries report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradeStatus {
    /// Created, waiting for the buyer to pay.
    WaitBuyerPay,
    /// Paid; refunds are still possible.
    TradeSuccess,
    /// Paid and no longer refundable (the refund window has passed).
    TradeFinished,
    /// Closed unpaid on timeout, or fully refunded.
    TradeClosed,
}

impl TradeStatus {
    pub fn parse(s: &str) -> Result<TradeStatus> {
        Ok(match s {
            "WAIT_BUYER_PAY" => TradeStatus::WaitBuyerPay,
            "TRADE_SUCCESS" => TradeStatus::TradeSuccess,
            "TRADE_FINISHED" => TradeStatus::TradeFinished,
            "TRADE_CLOSED" => TradeStatus::TradeClosed,
            other => {
                return Err(AlipayError::Malformed(format!(
                    "unknown trade_status {other:?}"
                )));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TradeStatus::WaitBuyerPay => "WAIT_BUYER_PAY",
            TradeStatus::TradeSuccess => "TRADE_SUCCESS",
            TradeStatus::TradeFinished => "TRADE_FINISHED",
            TradeStatus::TradeClosed => "TRADE_CLOSED",
        }
    }

    /// The buyer's money has reached the merchant (Alipay's own rule: both statuses mean paid).
    pub fn is_paid(self) -> bool {
        matches!(self, TradeStatus::TradeSuccess | TradeStatus::TradeFinished)
    }
}

/// A verified asynchronous notification. Verification proves Alipay sent it; it does not prove
/// it is about this merchant's order for this amount: call [`AlipayNotification::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlipayNotification {
    pub notify_id: String,
    pub app_id: String,
    pub out_trade_no: String,
    /// Alipay's trade number.
    pub trade_no: String,
    pub trade_status: TradeStatus,
    pub total_amount_fen: i64,
    /// When the buyer paid; absent before payment and on some closing notifications.
    pub gmt_payment: Option<DateTime<Utc>>,
    /// Cumulative refunded amount, present on notifications caused by a refund.
    pub refund_fee_fen: Option<i64>,
    /// The refund request number (`out_request_no`) on refund notifications.
    pub out_biz_no: Option<String>,
}

/// Why a verified notification does not belong to the order it names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotificationMismatch {
    #[error("notification is for app {got}, not {expected}")]
    AppId { expected: String, got: String },
    #[error("notification is for trade {got}, not {expected}")]
    OutTradeNo { expected: String, got: String },
    #[error("notification amount is {got_fen} fen, order total is {expected_fen} fen")]
    TotalAmount { expected_fen: i64, got_fen: i64 },
}

impl AlipayNotification {
    /// The checks Alipay tells merchants to make after verifying the signature: the app is ours,
    /// the trade is the order we looked up, and the amount is the order's total. The first
    /// mismatch is returned (app first: a foreign app's notification says nothing about ours).
    pub fn check(
        &self,
        expected_out_trade_no: &str,
        expected_total_fen: i64,
        app_id: &str,
    ) -> Result<(), NotificationMismatch> {
        if self.app_id != app_id {
            return Err(NotificationMismatch::AppId {
                expected: app_id.to_string(),
                got: self.app_id.clone(),
            });
        }
        if self.out_trade_no != expected_out_trade_no {
            return Err(NotificationMismatch::OutTradeNo {
                expected: expected_out_trade_no.to_string(),
                got: self.out_trade_no.clone(),
            });
        }
        if self.total_amount_fen != expected_total_fen {
            return Err(NotificationMismatch::TotalAmount {
                expected_fen: expected_total_fen,
                got_fen: self.total_amount_fen,
            });
        }
        Ok(())
    }
}

/// The outcome of a successful `alipay.trade.refund` call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlipayRefund {
    pub trade_no: String,
    /// The trade's cumulative refunded amount as Alipay reports it (not this request's amount).
    pub refund_fee_fen: i64,
    /// Whether this call moved money. `false` on a retry of an `out_request_no` that already
    /// succeeded: the refund happened earlier, nothing was refunded twice.
    pub fund_change: bool,
}

/// The outcome of `alipay.trade.query`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlipayTrade {
    pub trade_no: String,
    pub trade_status: TradeStatus,
    pub total_amount_fen: i64,
}

/// Alipay client. Keys are parsed once here; the HTTP client is shared with the rest of the
/// application (its timeouts apply to refunds and queries).
pub struct Alipay {
    config: AlipayConfig,
    signing_key: SigningKey<Sha256>,
    verifying_key: VerifyingKey<Sha256>,
    http: reqwest::Client,
}

impl fmt::Debug for Alipay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alipay")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Alipay {
    pub fn new(config: AlipayConfig, http: reqwest::Client) -> Result<Alipay> {
        if config.app_id.trim().is_empty() {
            return Err(AlipayError::Key("app_id is empty".into()));
        }
        let private = parse_private_key(&config.app_private_key_pem)?;
        let public = parse_public_key(&config.alipay_public_key_pem)?;
        Ok(Alipay {
            signing_key: SigningKey::<Sha256>::new(private),
            verifying_key: VerifyingKey::<Sha256>::new(public),
            config,
            http,
        })
    }

    pub fn config(&self) -> &AlipayConfig {
        &self.config
    }

    /// A signed GET URL on the gateway that opens Alipay's mobile-web cashier for the order.
    ///
    /// `timeout` is Alipay's relative `timeout_express` (`"30m"`, `"2h"`, `"1d"`, or `"1c"` for
    /// "end of today"); Alipay closes the trade when it runs out.
    pub fn wap_pay_url(
        &self,
        out_trade_no: &str,
        subject: &str,
        total_fen: i64,
        return_url: Option<&str>,
        timeout: Option<&str>,
    ) -> Result<String> {
        require_non_empty("out_trade_no", out_trade_no)?;
        require_non_empty("subject", subject)?;
        check_trade_amount(total_fen)?;
        if let Some(t) = timeout
            && !is_timeout_express(t)
        {
            return Err(AlipayError::InvalidRequest(format!(
                "timeout {t:?} is not Alipay's timeout_express form (e.g. 30m, 2h, 1d, 1c)"
            )));
        }

        let mut biz = serde_json::Map::new();
        biz.insert("out_trade_no".into(), out_trade_no.into());
        biz.insert("total_amount".into(), fen_to_yuan(total_fen).into());
        biz.insert("subject".into(), subject.into());
        biz.insert("product_code".into(), "QUICK_WAP_WAY".into());
        if let Some(t) = timeout {
            biz.insert("timeout_express".into(), t.into());
        }
        let biz_content = serde_json::Value::Object(biz).to_string();

        let mut params = self.common_params("alipay.trade.wap.pay", &biz_content);
        params.insert("notify_url".into(), self.config.notify_url.clone());
        if let Some(r) = return_url {
            params.insert("return_url".into(), r.to_string());
        }
        let sign = self.sign_params(&params)?;
        params.insert("sign".into(), sign);

        let query = serde_urlencoded::to_string(&params)
            .map_err(|e| AlipayError::InvalidRequest(e.to_string()))?;
        let separator = if self.config.gateway_url.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(format!("{}{separator}{query}", self.config.gateway_url))
    }

    /// Verifies an asynchronous notification (the raw `application/x-www-form-urlencoded` body
    /// Alipay POSTs to `notify_url`) and extracts what the order flow needs.
    ///
    /// The handler then calls [`AlipayNotification::check`] against the order, applies it
    /// idempotently (Alipay redelivers), and answers [`NOTIFY_ACK`].
    pub fn verify_notification(&self, form_body: &str) -> Result<AlipayNotification> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(form_body)
            .map_err(|e| AlipayError::Malformed(format!("form body: {e}")))?;
        let mut params = BTreeMap::new();
        for (k, v) in pairs {
            // A repeated key would make "the" signed value ambiguous.
            if params.insert(k.clone(), v).is_some() {
                return Err(AlipayError::Malformed(format!("parameter {k} repeated")));
            }
        }
        match params.get("sign_type").map(String::as_str) {
            Some("RSA2") => {}
            Some(other) => return Err(AlipayError::UnsupportedSignType(other.to_string())),
            None => return Err(AlipayError::MissingField("sign_type")),
        }
        let sign = params.get("sign").ok_or(AlipayError::BadSignature)?;
        let signature = decode_signature(sign)?;

        let content = notification_sign_content(&params, false);
        let verified = self.verify_bytes(content.as_bytes(), &signature)
            // Alipay's Java SDK (rsaCheckV1) keeps empty values when it rebuilds the content of
            // a notification, while the documented rule and the PHP SDK drop them. Alipay does
            // not normally send empty fields; should it, either reading is Alipay's own
            // signature, so accepting the second one admits nothing unsigned.
            || (params.values().any(String::is_empty)
                && self.verify_bytes(
                    notification_sign_content(&params, true).as_bytes(),
                    &signature,
                ));
        if !verified {
            return Err(AlipayError::BadSignature);
        }

        let get = |k: &'static str| -> Result<String> {
            params
                .get(k)
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or(AlipayError::MissingField(k))
        };
        let opt = |k: &str| params.get(k).filter(|v| !v.is_empty()).cloned();
        Ok(AlipayNotification {
            notify_id: get("notify_id")?,
            app_id: get("app_id")?,
            out_trade_no: get("out_trade_no")?,
            trade_no: get("trade_no")?,
            trade_status: TradeStatus::parse(&get("trade_status")?)?,
            total_amount_fen: yuan_to_fen(&get("total_amount")?)?,
            gmt_payment: opt("gmt_payment")
                .map(|t| parse_beijing_time(&t))
                .transpose()?,
            refund_fee_fen: opt("refund_fee").map(|f| yuan_to_fen(&f)).transpose()?,
            out_biz_no: opt("out_biz_no"),
        })
    }

    /// Refunds `refund_fen` of a paid trade.
    ///
    /// `out_request_no` identifies this refund: retrying with the same number after a timeout
    /// is safe (Alipay answers success with `fund_change = false` and refunds nothing more),
    /// while a new number is a new, additional refund. Alipay refuses a refund that would take
    /// the cumulative total over the trade amount (`ACQ.REFUND_AMT_NOT_EQUAL_TOTAL`).
    pub async fn refund(
        &self,
        out_trade_no: &str,
        out_request_no: &str,
        refund_fen: i64,
        reason: Option<&str>,
    ) -> Result<AlipayRefund> {
        require_non_empty("out_trade_no", out_trade_no)?;
        require_non_empty("out_request_no", out_request_no)?;
        check_trade_amount(refund_fen)?;
        let mut biz = serde_json::Map::new();
        biz.insert("out_trade_no".into(), out_trade_no.into());
        biz.insert("refund_amount".into(), fen_to_yuan(refund_fen).into());
        biz.insert("out_request_no".into(), out_request_no.into());
        if let Some(r) = reason.filter(|r| !r.is_empty()) {
            biz.insert("refund_reason".into(), r.into());
        }
        let node = self
            .call(
                "alipay.trade.refund",
                &serde_json::Value::Object(biz).to_string(),
            )
            .await?;

        #[derive(Deserialize)]
        struct RefundNode {
            trade_no: Option<String>,
            refund_fee: Option<String>,
            fund_change: Option<String>,
        }
        let parsed: RefundNode = serde_json::from_str(&node)
            .map_err(|e| AlipayError::Malformed(format!("refund response: {e}")))?;
        Ok(AlipayRefund {
            trade_no: parsed
                .trade_no
                .ok_or(AlipayError::MissingField("trade_no"))?,
            refund_fee_fen: yuan_to_fen(
                &parsed
                    .refund_fee
                    .ok_or(AlipayError::MissingField("refund_fee"))?,
            )?,
            fund_change: match parsed.fund_change.as_deref() {
                Some("Y") => true,
                Some("N") => false,
                Some(other) => {
                    return Err(AlipayError::Malformed(format!(
                        "fund_change {other:?} is neither Y nor N"
                    )));
                }
                None => return Err(AlipayError::MissingField("fund_change")),
            },
        })
    }

    /// Asks Alipay for the trade's state: the fallback when a notification is late or lost.
    /// A trade the buyer never opened answers `ACQ.TRADE_NOT_EXIST`
    /// ([`AlipayError::is_trade_not_exist`]).
    pub async fn query(&self, out_trade_no: &str) -> Result<AlipayTrade> {
        require_non_empty("out_trade_no", out_trade_no)?;
        let biz = serde_json::json!({ "out_trade_no": out_trade_no }).to_string();
        let node = self.call("alipay.trade.query", &biz).await?;

        #[derive(Deserialize)]
        struct QueryNode {
            trade_no: Option<String>,
            trade_status: Option<String>,
            total_amount: Option<String>,
        }
        let parsed: QueryNode = serde_json::from_str(&node)
            .map_err(|e| AlipayError::Malformed(format!("query response: {e}")))?;
        Ok(AlipayTrade {
            trade_no: parsed
                .trade_no
                .ok_or(AlipayError::MissingField("trade_no"))?,
            trade_status: TradeStatus::parse(
                &parsed
                    .trade_status
                    .ok_or(AlipayError::MissingField("trade_status"))?,
            )?,
            total_amount_fen: yuan_to_fen(
                &parsed
                    .total_amount
                    .ok_or(AlipayError::MissingField("total_amount"))?,
            )?,
        })
    }

    /// POSTs one API call and returns the verified raw JSON of its response node, with
    /// `code == 10000` already checked.
    async fn call(&self, method: &str, biz_content: &str) -> Result<String> {
        let mut params = self.common_params(method, biz_content);
        let sign = self.sign_params(&params)?;
        params.insert("sign".into(), sign);

        let response = self
            .http
            .post(&self.config.gateway_url)
            .form(&params)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(AlipayError::HttpStatus(status.as_u16()));
        }
        let body = response.text().await?;
        self.verify_response(method, &body)
    }

    /// Locates `<method>_response` (or `error_response`, which Alipay uses for gateway-level
    /// errors such as a bad app signature), verifies the signature over its raw text, and maps a
    /// non-10000 code to [`AlipayError::Api`].
    fn verify_response(&self, method: &str, body: &str) -> Result<String> {
        let outer: serde_json::Value = serde_json::from_str(body)
            .map_err(|e| AlipayError::Malformed(format!("response is not JSON: {e}")))?;
        let node_name = format!("{}_response", method.replace('.', "_"));
        let raw = match raw_top_level_value(body, &node_name)? {
            Some(raw) => raw,
            None => raw_top_level_value(body, "error_response")?.ok_or_else(|| {
                AlipayError::Malformed(format!(
                    "response has neither {node_name} nor error_response"
                ))
            })?,
        };

        #[derive(Deserialize)]
        struct Status {
            code: Option<String>,
            msg: Option<String>,
            sub_code: Option<String>,
            sub_msg: Option<String>,
        }
        let status: Status = serde_json::from_str(raw)
            .map_err(|e| AlipayError::Malformed(format!("{node_name}: {e}")))?;
        let success = status.code.as_deref() == Some(SUCCESS_CODE);

        match outer.get("sign").and_then(|s| s.as_str()) {
            Some(sign) => {
                let signature = decode_signature(sign)?;
                if !self.verify_bytes(raw.as_bytes(), &signature) {
                    return Err(AlipayError::BadSignature);
                }
            }
            // A success must be signed. A failure may come unsigned (Alipay cannot always sign
            // gateway errors); it is reported as the error it is. Trusting an unsigned failure
            // is harmless: it can only make us retry, and retries reuse the same request number.
            None if success => return Err(AlipayError::BadSignature),
            None => {}
        }

        if !success {
            return Err(AlipayError::Api {
                code: status.code.unwrap_or_default(),
                msg: status.msg.unwrap_or_default(),
                sub_code: status.sub_code.unwrap_or_default(),
                sub_msg: status.sub_msg.unwrap_or_default(),
            });
        }
        Ok(raw.to_string())
    }

    fn common_params(&self, method: &str, biz_content: &str) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        p.insert("app_id".into(), self.config.app_id.clone());
        p.insert("method".into(), method.to_string());
        p.insert("format".into(), "JSON".into());
        p.insert("charset".into(), "utf-8".into());
        p.insert("sign_type".into(), "RSA2".into());
        p.insert("timestamp".into(), beijing_now());
        p.insert("version".into(), "1.0".into());
        p.insert("biz_content".into(), biz_content.to_string());
        p
    }

    fn sign_params(&self, params: &BTreeMap<String, String>) -> Result<String> {
        let content = request_sign_content(params);
        let signature: Signature = self
            .signing_key
            .try_sign(content.as_bytes())
            .map_err(|e| AlipayError::Signing(e.to_string()))?;
        Ok(BASE64.encode(signature.to_bytes()))
    }

    fn verify_bytes(&self, content: &[u8], signature: &Signature) -> bool {
        self.verifying_key.verify(content, signature).is_ok()
    }
}

/// The string a request is signed over: every parameter but `sign`, empty values dropped,
/// sorted by key (a `BTreeMap` iterates in byte order, which is Alipay's ASCII order), raw values.
pub fn request_sign_content(params: &BTreeMap<String, String>) -> String {
    join_sorted(params, |k, v| k != "sign" && !v.is_empty())
}

/// The string a notification is verified over: as for requests, but `sign_type` is left out
/// too. `keep_empty` reproduces the Java SDK's variant (see `verify_notification`).
pub fn notification_sign_content(params: &BTreeMap<String, String>, keep_empty: bool) -> String {
    join_sorted(params, |k, v| {
        k != "sign" && k != "sign_type" && (keep_empty || !v.is_empty())
    })
}

fn join_sorted(params: &BTreeMap<String, String>, keep: impl Fn(&str, &str) -> bool) -> String {
    let mut out = String::new();
    for (k, v) in params {
        if !keep(k, v) {
            continue;
        }
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Fen to Alipay's yuan string with exactly two decimals: 1 → "0.01", 10000 → "100.00".
pub fn fen_to_yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Alipay's yuan string to fen, exactly: digits, optionally a dot and one or two digits.
/// Signs, exponents, blanks, a third decimal and amounts beyond Alipay's trade limit are refused
/// rather than rounded: an amount that does not parse exactly is not one we can reconcile.
pub fn yuan_to_fen(s: &str) -> Result<i64> {
    let bad = || AlipayError::Amount(s.to_string());
    let (int_part, frac_part) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // Anything longer than 11 integer digits is past the limit; checking first keeps the
    // arithmetic below far from overflow.
    if int_part.len() > 11 {
        return Err(bad());
    }
    let yuan: i64 = int_part.parse().map_err(|_| bad())?;
    let cents: i64 = match frac_part {
        None => 0,
        Some(f) if (1..=2).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()) => {
            let n: i64 = f.parse().map_err(|_| bad())?;
            if f.len() == 1 { n * 10 } else { n }
        }
        Some(_) => return Err(bad()),
    };
    let fen = yuan * 100 + cents;
    if fen > MAX_TRADE_FEN {
        return Err(bad());
    }
    Ok(fen)
}

/// Alipay's `yyyy-MM-dd HH:mm:ss` timestamps are Beijing time.
pub fn parse_beijing_time(s: &str) -> Result<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(s, TIMESTAMP_FORMAT)
        .map_err(|_| AlipayError::Malformed(format!("time {s:?} is not yyyy-MM-dd HH:mm:ss")))?;
    beijing()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| AlipayError::Malformed(format!("time {s:?}")))
}

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

fn beijing_now() -> String {
    Utc::now()
        .with_timezone(&beijing())
        .format(TIMESTAMP_FORMAT)
        .to_string()
}

/// The exact text of the value under `key` in the top-level JSON object `body`, or `None` when
/// the key is absent. Alipay signs the response node as it sent it; this cuts it out byte for
/// byte instead of re-serialising, which would reorder keys and change escapes. Scanning the
/// object's structure (strings with escapes, nesting) keeps a key that merely appears inside a
/// string or a nested object from being mistaken for the node. A key present twice is refused:
/// a JSON parser would keep the last one while a signature check might see the first.
pub fn raw_top_level_value<'a>(body: &'a str, key: &str) -> Result<Option<&'a str>> {
    let bytes = body.as_bytes();
    let malformed = |what: &str| AlipayError::Malformed(format!("response JSON: {what}"));
    let mut i = skip_ws(bytes, 0);
    if bytes.get(i) != Some(&b'{') {
        return Err(malformed("not an object"));
    }
    i = skip_ws(bytes, i + 1);
    let mut found: Option<&'a str> = None;
    if bytes.get(i) == Some(&b'}') {
        return Ok(None);
    }
    loop {
        if bytes.get(i) != Some(&b'"') {
            return Err(malformed("expected a key"));
        }
        let key_end = skip_string(bytes, i).ok_or_else(|| malformed("unterminated key"))?;
        let this_key: String =
            serde_json::from_str(&body[i..key_end]).map_err(|_| malformed("invalid key"))?;
        i = skip_ws(bytes, key_end);
        if bytes.get(i) != Some(&b':') {
            return Err(malformed("expected ':'"));
        }
        let value_start = skip_ws(bytes, i + 1);
        let value_end = skip_value(bytes, value_start).ok_or_else(|| malformed("bad value"))?;
        if this_key == key {
            if found.is_some() {
                return Err(malformed(&format!("key {key} repeated")));
            }
            found = Some(&body[value_start..value_end]);
        }
        i = skip_ws(bytes, value_end);
        match bytes.get(i) {
            Some(b',') => i = skip_ws(bytes, i + 1),
            Some(b'}') => return Ok(found),
            _ => return Err(malformed("expected ',' or '}'")),
        }
    }
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while matches!(bytes.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// `bytes[start]` is an opening quote; returns the index just past the closing quote. Working on
/// bytes is safe for UTF-8: no byte of a multi-byte character equals `"` or `\`.
fn skip_string(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Returns the index just past the JSON value starting at `start`.
fn skip_value(bytes: &[u8], start: usize) -> Option<usize> {
    match bytes.get(start)? {
        b'"' => skip_string(bytes, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            while i < bytes.len() {
                match bytes[i] {
                    b'"' => {
                        i = skip_string(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            // A number, true, false or null: runs up to the next delimiter.
            let mut i = start;
            while i < bytes.len()
                && !matches!(bytes[i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                i += 1;
            }
            (i > start).then_some(i)
        }
    }
}

fn decode_signature(sign: &str) -> Result<Signature> {
    let bytes = BASE64
        .decode(sign.trim())
        .map_err(|_| AlipayError::BadSignature)?;
    Signature::try_from(bytes.as_slice()).map_err(|_| AlipayError::BadSignature)
}

fn parse_private_key(text: &str) -> Result<RsaPrivateKey> {
    let text = text.trim();
    if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        return RsaPrivateKey::from_pkcs1_pem(text)
            .map_err(|e| AlipayError::Key(format!("app private key (PKCS#1): {e}")));
    }
    if text.contains("-----BEGIN PRIVATE KEY-----") {
        return RsaPrivateKey::from_pkcs8_pem(text)
            .map_err(|e| AlipayError::Key(format!("app private key (PKCS#8): {e}")));
    }
    // Alipay's key tool prints the key as one base64 line with no PEM armour; it is PKCS#8 by
    // default and PKCS#1 after its "format conversion".
    let der = bare_base64(text).map_err(|e| AlipayError::Key(format!("app private key: {e}")))?;
    RsaPrivateKey::from_pkcs8_der(&der)
        .or_else(|_| RsaPrivateKey::from_pkcs1_der(&der))
        .map_err(|_| AlipayError::Key("app private key is neither PKCS#8 nor PKCS#1".into()))
}

fn parse_public_key(text: &str) -> Result<RsaPublicKey> {
    let text = text.trim();
    if text.contains("-----BEGIN") {
        return RsaPublicKey::from_public_key_pem(text)
            .map_err(|e| AlipayError::Key(format!("alipay public key (SPKI PEM): {e}")));
    }
    let der = bare_base64(text).map_err(|e| AlipayError::Key(format!("alipay public key: {e}")))?;
    RsaPublicKey::from_public_key_der(&der)
        .map_err(|e| AlipayError::Key(format!("alipay public key (SPKI): {e}")))
}

fn bare_base64(text: &str) -> std::result::Result<Vec<u8>, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err("empty".into());
    }
    BASE64
        .decode(compact)
        .map_err(|_| "neither PEM nor base64".to_string())
}

fn require_non_empty(name: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(AlipayError::InvalidRequest(format!("{name} is empty")));
    }
    Ok(())
}

fn check_trade_amount(fen: i64) -> Result<()> {
    if !(1..=MAX_TRADE_FEN).contains(&fen) {
        return Err(AlipayError::InvalidRequest(format!(
            "amount {fen} fen is outside Alipay's range of 0.01 to 100000000.00 yuan"
        )));
    }
    Ok(())
}

fn is_timeout_express(t: &str) -> bool {
    if t == "1c" {
        return true;
    }
    match t.char_indices().last() {
        Some((idx, 'm' | 'h' | 'd')) => {
            let n = &t[..idx];
            !n.is_empty() && !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    use std::sync::OnceLock;

    struct Keys {
        app_private_pkcs8: String,
        app_private_pkcs1: String,
        alipay_private: RsaPrivateKey,
        alipay_public_pem: String,
        other_private: RsaPrivateKey,
    }

    // 2048-bit generation takes a moment even optimised; every test shares one set.
    fn keys() -> &'static Keys {
        static KEYS: OnceLock<Keys> = OnceLock::new();
        KEYS.get_or_init(|| {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            let mut rng = rand::thread_rng();
            let app = RsaPrivateKey::new(&mut rng, 2048).unwrap();
            let alipay = RsaPrivateKey::new(&mut rng, 2048).unwrap();
            let other = RsaPrivateKey::new(&mut rng, 2048).unwrap();
            Keys {
                app_private_pkcs8: app.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
                app_private_pkcs1: app.to_pkcs1_pem(LineEnding::LF).unwrap().to_string(),
                alipay_public_pem: alipay
                    .to_public_key()
                    .to_public_key_pem(LineEnding::LF)
                    .unwrap(),
                alipay_private: alipay,
                other_private: other,
            }
        })
    }

    fn config() -> AlipayConfig {
        AlipayConfig {
            app_id: "2021000000000001".into(),
            app_private_key_pem: keys().app_private_pkcs8.clone(),
            alipay_public_key_pem: keys().alipay_public_pem.clone(),
            gateway_url: "https://openapi.alipay.com/gateway.do".into(),
            notify_url: "https://mall.example.com/payments/alipay/notify".into(),
        }
    }

    fn client() -> Alipay {
        Alipay::new(config(), reqwest::Client::new()).unwrap()
    }

    fn sign_with(key: &RsaPrivateKey, content: &str) -> String {
        let sk = SigningKey::<Sha256>::new(key.clone());
        BASE64.encode(sk.sign(content.as_bytes()).to_bytes())
    }

    /// A notification as Alipay sends it, signed with `key` over the documented content.
    fn notification(key: &RsaPrivateKey, fields: &[(&str, &str)]) -> String {
        let mut params: BTreeMap<String, String> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let content = notification_sign_content(&params, false);
        params.insert("sign".into(), sign_with(key, &content));
        serde_urlencoded::to_string(&params).unwrap()
    }

    fn paid_fields() -> Vec<(&'static str, &'static str)> {
        vec![
            ("notify_time", "2024-05-20 10:00:05"),
            ("notify_type", "trade_status_sync"),
            ("notify_id", "ac05099524730693a8b330c5ecf72da9786"),
            ("app_id", "2021000000000001"),
            ("charset", "utf-8"),
            ("version", "1.0"),
            ("sign_type", "RSA2"),
            ("trade_no", "2024052022001400000000000001"),
            ("out_trade_no", "DM20240520000001"),
            ("trade_status", "TRADE_SUCCESS"),
            ("total_amount", "100.00"),
            ("receipt_amount", "100.00"),
            ("subject", "连衣裙 & 衬衫 = 套装"),
            ("gmt_create", "2024-05-20 09:59:50"),
            ("gmt_payment", "2024-05-20 10:00:04"),
            (
                "fund_bill_list",
                r#"[{"amount":"100.00","fundChannel":"ALIPAYACCOUNT"}]"#,
            ),
        ]
    }

    #[test]
    fn request_sign_content_sorts_drops_empty_and_excludes_sign() {
        let mut p = BTreeMap::new();
        p.insert("method".to_string(), "alipay.trade.query".to_string());
        p.insert("app_id".to_string(), "2021".to_string());
        p.insert("sign".to_string(), "SHOULD-NOT-APPEAR".to_string());
        p.insert("sign_type".to_string(), "RSA2".to_string());
        p.insert("notify_url".to_string(), String::new());
        p.insert("biz_content".to_string(), r#"{"a":"x&y=z"}"#.to_string());
        p.insert("Zeta".to_string(), "upper sorts first".to_string());
        assert_eq!(
            request_sign_content(&p),
            r#"Zeta=upper sorts first&app_id=2021&biz_content={"a":"x&y=z"}&method=alipay.trade.query&sign_type=RSA2"#
        );
        // Notifications leave sign_type out as well.
        assert_eq!(
            notification_sign_content(&p, false),
            r#"Zeta=upper sorts first&app_id=2021&biz_content={"a":"x&y=z"}&method=alipay.trade.query"#
        );
        assert_eq!(
            notification_sign_content(&p, true),
            r#"Zeta=upper sorts first&app_id=2021&biz_content={"a":"x&y=z"}&method=alipay.trade.query&notify_url="#
        );
    }

    #[test]
    fn keys_are_read_in_every_form_alipay_hands_out() {
        assert!(Alipay::new(config(), reqwest::Client::new()).is_ok());
        let mut pkcs1 = config();
        pkcs1.app_private_key_pem = keys().app_private_pkcs1.clone();
        assert!(Alipay::new(pkcs1, reqwest::Client::new()).is_ok());
        // Bare base64 as Alipay's key tool prints it.
        let mut bare = config();
        bare.app_private_key_pem = keys()
            .app_private_pkcs8
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        bare.alipay_public_key_pem = keys()
            .alipay_public_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert!(Alipay::new(bare, reqwest::Client::new()).is_ok());
        let mut broken = config();
        broken.alipay_public_key_pem = "not a key".into();
        assert!(matches!(
            Alipay::new(broken, reqwest::Client::new()),
            Err(AlipayError::Key(_))
        ));
    }

    #[test]
    fn notification_verifies_and_extracts_fields() {
        let body = notification(&keys().alipay_private, &paid_fields());
        let n = client().verify_notification(&body).unwrap();
        assert_eq!(n.notify_id, "ac05099524730693a8b330c5ecf72da9786");
        assert_eq!(n.app_id, "2021000000000001");
        assert_eq!(n.out_trade_no, "DM20240520000001");
        assert_eq!(n.trade_no, "2024052022001400000000000001");
        assert_eq!(n.trade_status, TradeStatus::TradeSuccess);
        assert!(n.trade_status.is_paid());
        assert_eq!(n.total_amount_fen, 10000);
        // 10:00:04 in Beijing is 02:00:04 UTC.
        assert_eq!(
            n.gmt_payment.unwrap().to_rfc3339(),
            "2024-05-20T02:00:04+00:00"
        );
        assert_eq!(n.refund_fee_fen, None);
        assert_eq!(n.out_biz_no, None);
        assert_eq!(
            n.check("DM20240520000001", 10000, "2021000000000001"),
            Ok(())
        );
    }

    #[test]
    fn notification_check_names_the_mismatch() {
        let body = notification(&keys().alipay_private, &paid_fields());
        let n = client().verify_notification(&body).unwrap();
        assert!(matches!(
            n.check("DM20240520000001", 10000, "2021999999999999"),
            Err(NotificationMismatch::AppId { .. })
        ));
        assert!(matches!(
            n.check("DM-OTHER", 10000, "2021000000000001"),
            Err(NotificationMismatch::OutTradeNo { .. })
        ));
        assert_eq!(
            n.check("DM20240520000001", 9999, "2021000000000001"),
            Err(NotificationMismatch::TotalAmount {
                expected_fen: 9999,
                got_fen: 10000
            })
        );
    }

    #[test]
    fn notification_with_tampered_amount_is_refused() {
        let body = notification(&keys().alipay_private, &paid_fields());
        let tampered = body.replace("total_amount=100.00", "total_amount=1.00");
        assert_ne!(body, tampered);
        assert!(matches!(
            client().verify_notification(&tampered),
            Err(AlipayError::BadSignature)
        ));
    }

    #[test]
    fn notification_signed_with_another_key_is_refused() {
        let body = notification(&keys().other_private, &paid_fields());
        assert!(matches!(
            client().verify_notification(&body),
            Err(AlipayError::BadSignature)
        ));
        // Nor is one without a signature at all.
        let mut params: BTreeMap<String, String> = paid_fields()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let unsigned = serde_urlencoded::to_string(&params).unwrap();
        assert!(matches!(
            client().verify_notification(&unsigned),
            Err(AlipayError::BadSignature)
        ));
        params.insert("sign".into(), "!!!not base64".into());
        assert!(matches!(
            client().verify_notification(&serde_urlencoded::to_string(&params).unwrap()),
            Err(AlipayError::BadSignature)
        ));
    }

    #[test]
    fn notification_with_sign_type_rsa_is_refused_even_when_validly_signed() {
        let fields: Vec<_> = paid_fields()
            .into_iter()
            .map(|(k, v)| if k == "sign_type" { (k, "RSA") } else { (k, v) })
            .collect();
        // sign_type is outside the signed content, so this signature is valid; the sign_type
        // still has to be refused, as SHA1 is not acceptable.
        let body = notification(&keys().alipay_private, &fields);
        assert!(matches!(
            client().verify_notification(&body),
            Err(AlipayError::UnsupportedSignType(t)) if t == "RSA"
        ));
    }

    #[test]
    fn refund_notification_carries_refund_fields() {
        let mut fields = paid_fields();
        fields.push(("refund_fee", "12.30"));
        fields.push(("out_biz_no", "RF-1"));
        fields.push(("gmt_refund", "2024-05-21 08:00:00.123"));
        let body = notification(&keys().alipay_private, &fields);
        let n = client().verify_notification(&body).unwrap();
        assert_eq!(n.refund_fee_fen, Some(1230));
        assert_eq!(n.out_biz_no.as_deref(), Some("RF-1"));
    }

    #[test]
    fn notification_with_an_empty_field_verifies_under_either_sdk_reading() {
        let mut fields = paid_fields();
        fields.push(("passback_params", ""));
        // Signed the Java SDK way: the empty value is part of the content.
        let mut params: BTreeMap<String, String> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let content = notification_sign_content(&params, true);
        params.insert("sign".into(), sign_with(&keys().alipay_private, &content));
        let body = serde_urlencoded::to_string(&params).unwrap();
        assert!(client().verify_notification(&body).is_ok());
        // And the documented way.
        assert!(
            client()
                .verify_notification(&notification(&keys().alipay_private, &fields))
                .is_ok()
        );
    }

    #[test]
    fn notification_with_malformed_amount_is_refused() {
        let fields: Vec<_> = paid_fields()
            .into_iter()
            .map(|(k, v)| {
                if k == "total_amount" {
                    (k, "100.001")
                } else {
                    (k, v)
                }
            })
            .collect();
        let body = notification(&keys().alipay_private, &fields);
        assert!(matches!(
            client().verify_notification(&body),
            Err(AlipayError::Amount(_))
        ));
    }

    #[test]
    fn fen_and_yuan_convert_exactly() {
        assert_eq!(fen_to_yuan(1), "0.01");
        assert_eq!(fen_to_yuan(10), "0.10");
        assert_eq!(fen_to_yuan(10000), "100.00");
        assert_eq!(fen_to_yuan(1234560), "12345.60");
        assert_eq!(fen_to_yuan(0), "0.00");
        assert_eq!(fen_to_yuan(-5), "-0.05");
        assert_eq!(fen_to_yuan(MAX_TRADE_FEN), "100000000.00");

        assert_eq!(yuan_to_fen("0.01").unwrap(), 1);
        assert_eq!(yuan_to_fen("100.00").unwrap(), 10000);
        assert_eq!(yuan_to_fen("12345.60").unwrap(), 1234560);
        assert_eq!(yuan_to_fen("12345.6").unwrap(), 1234560);
        assert_eq!(yuan_to_fen("7").unwrap(), 700);
        assert_eq!(yuan_to_fen("100000000.00").unwrap(), MAX_TRADE_FEN);
        for bad in [
            "1.234",
            "-1",
            "abc",
            "",
            ".5",
            "5.",
            "1,00",
            " 1.00",
            "1.00 ",
            "+1.00",
            "1e2",
            "100000000.01",
            "99999999999999999999",
            "1.-1",
            "0x10",
        ] {
            assert!(
                matches!(yuan_to_fen(bad), Err(AlipayError::Amount(_))),
                "{bad:?} should be refused"
            );
        }
        for fen in [1, 99, 100, 101, 123_456_789, MAX_TRADE_FEN] {
            assert_eq!(yuan_to_fen(&fen_to_yuan(fen)).unwrap(), fen);
        }
    }

    #[test]
    fn raw_node_is_cut_out_byte_for_byte() {
        let body = r#"{"alipay_trade_refund_response":{"code":"10000","msg":"Success","nested":{"a":[1,{"b":"}"}]},"quote":"he said \"}\" and \\","zh":"退款成功","u":"\u9000"} , "sign":"abc"}"#;
        let raw = raw_top_level_value(body, "alipay_trade_refund_response")
            .unwrap()
            .unwrap();
        assert_eq!(
            raw,
            r#"{"code":"10000","msg":"Success","nested":{"a":[1,{"b":"}"}]},"quote":"he said \"}\" and \\","zh":"退款成功","u":"\u9000"}"#
        );
        assert_eq!(raw_top_level_value(body, "sign").unwrap(), Some(r#""abc""#));
        assert_eq!(raw_top_level_value(body, "error_response").unwrap(), None);
    }

    #[test]
    fn raw_node_ignores_lookalike_keys_inside_strings_and_nested_objects() {
        let body = r#"{"x":"\"alipay_trade_query_response\":{\"code\":\"10000\"}","y":{"alipay_trade_query_response":{"code":"10000"}},"alipay_trade_query_response":{"code":"40004"},"sign":"s"}"#;
        assert_eq!(
            raw_top_level_value(body, "alipay_trade_query_response").unwrap(),
            Some(r#"{"code":"40004"}"#)
        );
    }

    #[test]
    fn raw_node_refuses_repeated_keys_and_garbage() {
        let twice = r#"{"k":{"code":"40004"},"k":{"code":"10000"},"sign":"s"}"#;
        assert!(raw_top_level_value(twice, "k").is_err());
        assert!(raw_top_level_value("[1,2]", "k").is_err());
        assert!(raw_top_level_value(r#"{"k":{"a":1}"#, "k").is_err());
        assert!(raw_top_level_value(r#"{"k":"unterminated}"#, "k").is_err());
        assert_eq!(
            raw_top_level_value(r#"{"k":123,"z":null}"#, "k").unwrap(),
            Some("123")
        );
        assert_eq!(raw_top_level_value(" { } ", "k").unwrap(), None);
    }

    fn signed_response(method_node: &str, node: &str, key: &RsaPrivateKey) -> String {
        format!(
            r#"{{"{method_node}":{node},"sign":"{}"}}"#,
            sign_with(key, node)
        )
    }

    #[test]
    fn response_signature_covers_the_raw_node() {
        let alipay = client();
        // Keys in Alipay's order (not sorted), a space and a non-ASCII value: re-serialising
        // would change every one of these and break the signature.
        let node = r#"{"code":"10000","msg":"Success","trade_no":"2024","buyer_logon_id":"159****5620", "fund_change":"Y","refund_fee":"1.00","zh":"张三"}"#;
        let body = signed_response("alipay_trade_refund_response", node, &keys().alipay_private);
        assert_eq!(
            alipay
                .verify_response("alipay.trade.refund", &body)
                .unwrap(),
            node
        );

        let forged = signed_response("alipay_trade_refund_response", node, &keys().other_private);
        assert!(matches!(
            alipay.verify_response("alipay.trade.refund", &forged),
            Err(AlipayError::BadSignature)
        ));

        let tampered = body.replace(r#""refund_fee":"1.00""#, r#""refund_fee":"9.00""#);
        assert!(matches!(
            alipay.verify_response("alipay.trade.refund", &tampered),
            Err(AlipayError::BadSignature)
        ));

        let unsigned = format!(r#"{{"alipay_trade_refund_response":{node}}}"#);
        assert!(matches!(
            alipay.verify_response("alipay.trade.refund", &unsigned),
            Err(AlipayError::BadSignature)
        ));
    }

    #[test]
    fn response_errors_carry_sub_code() {
        let alipay = client();
        let node = r#"{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}"#;
        let body = signed_response("alipay_trade_query_response", node, &keys().alipay_private);
        let err = alipay
            .verify_response("alipay.trade.query", &body)
            .unwrap_err();
        assert!(err.is_trade_not_exist(), "{err:?}");

        // Gateway errors come under error_response, sometimes unsigned.
        let unsigned = r#"{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature","sub_msg":"验签出错"}}"#;
        let err = alipay
            .verify_response("alipay.trade.query", unsigned)
            .unwrap_err();
        assert_eq!(err.sub_code(), Some("isv.invalid-signature"));

        // A signed error with a bad signature is still a bad signature.
        let forged = signed_response("alipay_trade_query_response", node, &keys().other_private);
        assert!(matches!(
            alipay.verify_response("alipay.trade.query", &forged),
            Err(AlipayError::BadSignature)
        ));
    }

    #[test]
    fn wap_pay_url_is_signed_over_its_parameters() {
        let alipay = client();
        let url = alipay
            .wap_pay_url(
                "DM20240520000001",
                "连衣裙 & 衬衫",
                12345,
                Some("https://mall.example.com/orders/1?from=alipay"),
                Some("30m"),
            )
            .unwrap();
        let (base, query) = url.split_once('?').unwrap();
        assert_eq!(base, "https://openapi.alipay.com/gateway.do");
        let mut params: BTreeMap<String, String> = serde_urlencoded::from_str(query).unwrap();
        assert_eq!(params["method"], "alipay.trade.wap.pay");
        assert_eq!(params["app_id"], "2021000000000001");
        assert_eq!(params["format"], "JSON");
        assert_eq!(params["charset"], "utf-8");
        assert_eq!(params["sign_type"], "RSA2");
        assert_eq!(params["version"], "1.0");
        assert_eq!(
            params["notify_url"],
            "https://mall.example.com/payments/alipay/notify"
        );
        assert_eq!(
            params["return_url"],
            "https://mall.example.com/orders/1?from=alipay"
        );
        let ts = NaiveDateTime::parse_from_str(&params["timestamp"], TIMESTAMP_FORMAT).unwrap();
        let drift = Utc::now().with_timezone(&beijing()).naive_local() - ts;
        assert!(drift.num_seconds().abs() < 60, "timestamp is Beijing time");
        let biz: serde_json::Value = serde_json::from_str(&params["biz_content"]).unwrap();
        assert_eq!(biz["out_trade_no"], "DM20240520000001");
        assert_eq!(biz["total_amount"], "123.45");
        assert_eq!(biz["subject"], "连衣裙 & 衬衫");
        assert_eq!(biz["product_code"], "QUICK_WAP_WAY");
        assert_eq!(biz["timeout_express"], "30m");

        // The signature verifies with the app's public key over the documented content.
        let sign = params.remove("sign").unwrap();
        let app_public = RsaPrivateKey::from_pkcs8_pem(&keys().app_private_pkcs8)
            .unwrap()
            .to_public_key();
        let content = request_sign_content(&params);
        assert!(content.contains("sign_type=RSA2"));
        VerifyingKey::<Sha256>::new(app_public)
            .verify(content.as_bytes(), &decode_signature(&sign).unwrap())
            .unwrap();
    }

    #[test]
    fn wap_pay_url_refuses_bad_input() {
        let alipay = client();
        assert!(alipay.wap_pay_url("A1", "s", 0, None, None).is_err());
        assert!(alipay.wap_pay_url("A1", "s", -100, None, None).is_err());
        assert!(
            alipay
                .wap_pay_url("A1", "s", MAX_TRADE_FEN + 1, None, None)
                .is_err()
        );
        assert!(alipay.wap_pay_url("", "s", 100, None, None).is_err());
        assert!(alipay.wap_pay_url("A1", " ", 100, None, None).is_err());
        for bad in ["30", "m", "1.5h", "030m", "30s", ""] {
            assert!(
                alipay.wap_pay_url("A1", "s", 100, None, Some(bad)).is_err(),
                "{bad:?}"
            );
        }
        for good in ["1m", "90m", "15d", "1c"] {
            assert!(alipay.wap_pay_url("A1", "s", 100, None, Some(good)).is_ok());
        }
    }

    #[test]
    fn debug_output_never_shows_the_private_key() {
        let shown = format!("{:?} {:?}", config(), client());
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
