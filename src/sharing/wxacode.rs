//! WeChat mini-program codes (小程序码) for posters, through WeChat's `getwxacodeunlimit`: a
//! code for any `scene` (our share code) that opens `page` in the mini-program. The access
//! token comes from `stable_token`, which hands every instance the same token until it
//! expires (the older `token` API would make each instance invalidate the others'). The base
//! URL is configurable so tests run against a local fake, as login's is.
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum WxaError {
    #[error("WeChat could not be reached: {0}")]
    Unavailable(String),
    #[error("WeChat refused: errcode {code}: {message}")]
    Refused { code: i64, message: String },
}

/// Tokens WeChat says are invalid or expired: fetch a fresh one and try once more.
const TOKEN_ERRORS: [i64; 3] = [40001, 40014, 42001];

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
    errcode: Option<i64>,
    errmsg: Option<String>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    errcode: Option<i64>,
    errmsg: Option<String>,
}

/// Where WeChat is and who we are to it.
pub struct WechatApp<'a> {
    pub http: &'a reqwest::Client,
    pub api_base: &'a str,
    pub appid: &'a str,
    pub secret: &'a str,
}

/// The access token, kept until shortly before it expires.
#[derive(Default)]
pub struct AccessToken {
    current: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl AccessToken {
    async fn get(&self, app: &WechatApp<'_>, force_refresh: bool) -> Result<String, WxaError> {
        let mut current = self.current.lock().await;
        if !force_refresh
            && let Some((token, until)) = current.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let url = format!(
            "{}/cgi-bin/stable_token",
            app.api_base.trim_end_matches('/')
        );
        let answer: TokenAnswer = read_json(
            app.http
                .post(url)
                .json(&json!({
                    "grant_type": "client_credential",
                    "appid": app.appid,
                    "secret": app.secret,
                    "force_refresh": force_refresh,
                }))
                .send()
                .await,
        )
        .await?;
        match (answer.errcode.unwrap_or(0), answer.access_token) {
            (0, Some(token)) if !token.is_empty() => {
                // Renewed five minutes early, so a request never carries one about to expire.
                let lifetime = answer.expires_in.unwrap_or(7200).saturating_sub(300);
                *current = Some((
                    token.clone(),
                    Instant::now() + Duration::from_secs(lifetime),
                ));
                Ok(token)
            }
            (code, _) => Err(WxaError::Refused {
                code,
                message: answer.errmsg.unwrap_or_default(),
            }),
        }
    }

    /// The mini-program code (PNG or JPEG bytes) opening `page` with `scene`.
    pub async fn unlimited_code(
        &self,
        app: &WechatApp<'_>,
        scene: &str,
        page: &str,
    ) -> Result<Vec<u8>, WxaError> {
        let mut force_refresh = false;
        loop {
            let token = self.get(app, force_refresh).await?;
            match fetch_code(app, &token, scene, page).await {
                Err(WxaError::Refused { code, .. })
                    if TOKEN_ERRORS.contains(&code) && !force_refresh =>
                {
                    force_refresh = true;
                }
                other => return other,
            }
        }
    }
}

async fn fetch_code(
    app: &WechatApp<'_>,
    token: &str,
    scene: &str,
    page: &str,
) -> Result<Vec<u8>, WxaError> {
    let url = format!(
        "{}/wxa/getwxacodeunlimit",
        app.api_base.trim_end_matches('/')
    );
    let resp = app
        .http
        .post(url)
        .query(&[("access_token", token)])
        .json(&json!({
            "scene": scene,
            "page": page,
            // The page may not be published yet (a trial version): do not make WeChat check it.
            "check_path": false,
            "width": 280,
        }))
        .send()
        .await
        .map_err(|e| WxaError::Unavailable(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(WxaError::Unavailable(format!("HTTP {}", resp.status())));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| WxaError::Unavailable(e.to_string()))?;
    // An image on success; a JSON error otherwise (whatever the content type says).
    if bytes.first() == Some(&b'{') {
        let e: ErrorAnswer = serde_json::from_slice(&bytes)
            .map_err(|e| WxaError::Unavailable(format!("unreadable answer: {e}")))?;
        return Err(WxaError::Refused {
            code: e.errcode.unwrap_or(-1),
            message: e.errmsg.unwrap_or_default(),
        });
    }
    Ok(bytes.to_vec())
}

async fn read_json<T: serde::de::DeserializeOwned>(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, WxaError> {
    let resp = sent.map_err(|e| WxaError::Unavailable(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(WxaError::Unavailable(format!("HTTP {}", resp.status())));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| WxaError::Unavailable(e.to_string()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| WxaError::Unavailable(format!("unreadable answer: {e}")))
}
