//! The payment providers this installation is configured for, built once at start so a bad key
//! or a half-finished configuration stops the server instead of failing the first buyer.
use std::path::Path;

use anyhow::{Context, bail};

use crate::{
    config::Config,
    payments::{
        alipay::{Alipay, AlipayConfig},
        wechatpay::{WechatPay, WechatPayConfig},
    },
};

#[derive(Default)]
pub struct PaymentProviders {
    pub wechat: Option<WechatPay>,
    pub alipay: Option<Alipay>,
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
        Ok(PaymentProviders {
            wechat: wechat(config, http)?,
            alipay: alipay(config, http)?,
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
