//! Payment providers behind one trait, so orders neither know nor care which one took the
//! money: `start` tells the client how to pay, `refund` sends money back. The ones this
//! installation is configured for are built once at start, so a bad key or a half-finished
//! configuration stops the server instead of failing the first buyer.
use std::{collections::HashMap, path::Path, sync::Arc};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use super::payments::ProviderKind;
use crate::{
    config::Config,
    payments::{
        alipay::{Alipay, AlipayConfig},
        wechatpay::{self, WechatPay, WechatPayConfig},
    },
};

/// A payment to start.
pub struct PaymentStart<'a> {
    pub out_trade_no: &'a str,
    pub amount_fen: i64,
    /// What the cashier shows, e.g. "保温杯 等3件".
    pub subject: &'a str,
    /// The buyer's openid in the mini-program (WeChat Pay JSAPI needs it).
    pub payer_openid: Option<&'a str>,
    /// The order is cancelled after this; the provider should refuse payment too.
    pub expires_at: DateTime<Utc>,
}

/// How the client pays.
pub enum Started {
    /// Paid already (the dev provider): record it under this transaction id.
    Completed { provider_txn_id: String },
    /// JSON the client hands to the provider's SDK or cashier.
    Client(String),
}

/// Money to send back.
pub struct RefundCall<'a> {
    pub out_trade_no: &'a str,
    /// Our refund number: the provider's idempotency key, so a retry never pays twice.
    pub out_refund_no: &'a str,
    pub amount_fen: i64,
    /// What the original payment was.
    pub total_fen: i64,
    pub reason: &'a str,
}

/// A provider's failure, in words fit for staff (never key material).
pub type ProviderError = String;

#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Whether the buyer must have signed in with WeChat (an openid) to pay this way.
    fn needs_openid(&self) -> bool {
        false
    }
    async fn start(&self, payment: &PaymentStart<'_>) -> Result<Started, ProviderError>;
    /// Sends money back; returns the provider's refund id.
    async fn refund(&self, refund: &RefundCall<'_>) -> Result<String, ProviderError>;
}

/// Completes payments at once and refunds without money: demos and development only.
struct Dev;

#[async_trait::async_trait]
impl PaymentProvider for Dev {
    async fn start(&self, _: &PaymentStart<'_>) -> Result<Started, ProviderError> {
        Ok(Started::Completed {
            provider_txn_id: format!("DEV{}", uuid::Uuid::now_v7().simple()),
        })
    }

    async fn refund(&self, r: &RefundCall<'_>) -> Result<String, ProviderError> {
        Ok(format!("DEVREFUND-{}", r.out_refund_no))
    }
}

#[async_trait::async_trait]
impl PaymentProvider for WechatPay {
    fn needs_openid(&self) -> bool {
        true
    }

    async fn start(&self, p: &PaymentStart<'_>) -> Result<Started, ProviderError> {
        let prepay_id = self
            .jsapi_prepay(
                p.out_trade_no,
                p.subject,
                p.amount_fen,
                p.payer_openid.unwrap_or_default(),
                Some(p.expires_at),
            )
            .await
            .map_err(|e| e.to_string())?;
        let params =
            serde_json::to_string(&self.jsapi_pay_params(&prepay_id)).map_err(|e| e.to_string())?;
        Ok(Started::Client(params))
    }

    async fn refund(&self, r: &RefundCall<'_>) -> Result<String, ProviderError> {
        let done = WechatPay::refund(
            self,
            r.out_trade_no,
            r.out_refund_no,
            r.amount_fen,
            r.total_fen,
            Some(r.reason),
        )
        .await
        .map_err(|e| e.to_string())?;
        match done.status {
            // PROCESSING: accepted, the money is on its way to the buyer.
            wechatpay::RefundStatus::Success | wechatpay::RefundStatus::Processing => {
                Ok(done.refund_id)
            }
            other => Err(format!("WeChat Pay answered {other:?}")),
        }
    }
}

/// Alipay's H5 cashier, returning the buyer to `return_url`.
struct AlipayCashier {
    client: Arc<Alipay>,
    return_url: Option<String>,
}

#[async_trait::async_trait]
impl PaymentProvider for AlipayCashier {
    async fn start(&self, p: &PaymentStart<'_>) -> Result<Started, ProviderError> {
        let minutes = Ord::max((p.expires_at - Utc::now()).num_minutes(), 1);
        let url = self
            .client
            .wap_pay_url(
                p.out_trade_no,
                p.subject,
                p.amount_fen,
                self.return_url.as_deref(),
                Some(&format!("{minutes}m")),
            )
            .map_err(|e| e.to_string())?;
        Ok(Started::Client(
            serde_json::json!({ "payUrl": url }).to_string(),
        ))
    }

    async fn refund(&self, r: &RefundCall<'_>) -> Result<String, ProviderError> {
        let done = self
            .client
            .refund(
                r.out_trade_no,
                r.out_refund_no,
                r.amount_fen,
                Some(r.reason),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(done.trade_no)
    }
}

/// The providers available here; the protocol clients stay reachable for the webhooks, which
/// verify notifications with them.
#[derive(Default)]
pub struct PaymentProviders {
    pub wechat: Option<Arc<WechatPay>>,
    pub alipay: Option<Arc<Alipay>>,
    available: HashMap<ProviderKind, Arc<dyn PaymentProvider>>,
}

impl PaymentProviders {
    /// The provider of `kind`, if it is available here.
    pub fn get(&self, kind: ProviderKind) -> Option<&Arc<dyn PaymentProvider>> {
        self.available.get(&kind)
    }
}

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

fn notify_url(config: &Config, provider: &str) -> anyhow::Result<String> {
    match &config.public_url {
        Some(base) => Ok(format!(
            "{}/webhooks/{provider}",
            base.trim_end_matches('/')
        )),
        None => bail!("{provider} needs public_url to tell the provider where to notify"),
    }
}

impl PaymentProviders {
    pub fn from_config(config: &Config, http: &reqwest::Client) -> anyhow::Result<Self> {
        let wechat = wechat(config, http)?.map(Arc::new);
        let alipay = alipay(config, http)?.map(Arc::new);
        let mut available: HashMap<ProviderKind, Arc<dyn PaymentProvider>> = HashMap::new();
        // Refused in production: it would hand out goods for free.
        if !config.is_production() {
            available.insert(ProviderKind::Dev, Arc::new(Dev));
        }
        if let Some(w) = &wechat {
            available.insert(ProviderKind::WechatPay, w.clone());
        }
        if let Some(a) = &alipay {
            available.insert(
                ProviderKind::Alipay,
                Arc::new(AlipayCashier {
                    client: a.clone(),
                    return_url: config.alipay_return_url.clone(),
                }),
            );
        }
        Ok(PaymentProviders {
            wechat,
            alipay,
            available,
        })
    }
}

fn wechat(config: &Config, http: &reqwest::Client) -> anyhow::Result<Option<WechatPay>> {
    let (
        Some(mch_id),
        Some(serial),
        Some(key_path),
        Some(api_v3_key),
        Some(platform_serial),
        Some(platform_path),
    ) = (
        &config.wechatpay_mch_id,
        &config.wechatpay_merchant_serial_no,
        &config.wechatpay_private_key_path,
        &config.wechatpay_api_v3_key,
        &config.wechatpay_platform_key_serial,
        &config.wechatpay_platform_key_path,
    )
    else {
        if config.wechatpay_mch_id.is_some() {
            bail!(
                "WeChat Pay is half configured: set wechatpay_merchant_serial_no, \
                 wechatpay_private_key_path, wechatpay_api_v3_key, \
                 wechatpay_platform_key_serial and wechatpay_platform_key_path"
            );
        }
        return Ok(None);
    };
    let Some(app_id) = &config.wechat_appid else {
        bail!("WeChat Pay needs wechat_appid (the mini-program's AppID)");
    };
    let client = WechatPay::new(
        WechatPayConfig {
            app_id: app_id.clone(),
            mch_id: mch_id.clone(),
            merchant_serial_no: serial.clone(),
            merchant_private_key_pem: read(key_path, "the WeChat Pay merchant key")?,
            api_v3_key: api_v3_key.clone(),
            platform_public_keys: vec![(
                platform_serial.clone(),
                read(platform_path, "the WeChat Pay platform key")?,
            )],
            base_url: config.wechatpay_base_url.clone(),
            notify_url: notify_url(config, "wechatpay")?,
        },
        http.clone(),
    )
    .map_err(|e| anyhow::anyhow!("WeChat Pay configuration: {e}"))?;
    Ok(Some(client))
}

fn alipay(config: &Config, http: &reqwest::Client) -> anyhow::Result<Option<Alipay>> {
    let (Some(app_id), Some(key_path), Some(public_path)) = (
        &config.alipay_app_id,
        &config.alipay_private_key_path,
        &config.alipay_public_key_path,
    ) else {
        if config.alipay_app_id.is_some() {
            bail!(
                "Alipay is half configured: set alipay_private_key_path and alipay_public_key_path"
            );
        }
        return Ok(None);
    };
    let client = Alipay::new(
        AlipayConfig {
            app_id: app_id.clone(),
            app_private_key_pem: read(key_path, "the Alipay application key")?,
            alipay_public_key_pem: read(public_path, "the Alipay public key")?,
            gateway_url: config.alipay_gateway_url.clone(),
            notify_url: notify_url(config, "alipay")?,
        },
        http.clone(),
    )
    .map_err(|e| anyhow::anyhow!("Alipay configuration: {e}"))?;
    Ok(Some(client))
}
