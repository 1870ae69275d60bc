//! WeChat mini-program login: exchanges the `code` from `wx.login()` for the user's openid (and
//! unionid, when the mini-program is bound to an open platform account) through the
//! `jscode2session` API. The base URL is configurable so tests run against a local fake.
use serde::Deserialize;

#[derive(Debug)]
pub struct WechatSession {
    pub openid: String,
    pub unionid: Option<String>,
}

#[derive(Debug)]
pub enum WechatError {
    /// WeChat refused the code (expired, used, or forged): the user should retry `wx.login()`.
    InvalidCode(String),
    /// WeChat could not be reached or answered with something unexpected.
    Unavailable(String),
}

#[derive(Deserialize)]
struct Code2SessionResponse {
    openid: Option<String>,
    unionid: Option<String>,
    errcode: Option<i64>,
    errmsg: Option<String>,
}

/// Codes WeChat documents for a bad `js_code` (invalid, already used, or from a blocked user).
const CODE_ERRORS: [i64; 3] = [40029, 40163, 40226];

pub async fn code2session(
    http: &reqwest::Client,
    api_base: &str,
    appid: &str,
    secret: &str,
    code: &str,
) -> Result<WechatSession, WechatError> {
    let url = format!("{}/sns/jscode2session", api_base.trim_end_matches('/'));
    let resp = http
        .get(url)
        .query(&[
            ("appid", appid),
            ("secret", secret),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ])
        .send()
        .await
        .map_err(|e| WechatError::Unavailable(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(WechatError::Unavailable(format!("HTTP {}", resp.status())));
    }
    // WeChat answers JSON with a `text/plain` content type, so parse the bytes ourselves.
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| WechatError::Unavailable(e.to_string()))?;
    let body: Code2SessionResponse = serde_json::from_slice(&bytes)
        .map_err(|e| WechatError::Unavailable(format!("unreadable answer: {e}")))?;
    match (body.errcode.unwrap_or(0), body.openid) {
        (0, Some(openid)) if !openid.is_empty() => Ok(WechatSession {
            openid,
            unionid: body.unionid.filter(|u| !u.is_empty()),
        }),
        (code, _) if CODE_ERRORS.contains(&code) => Err(WechatError::InvalidCode(
            body.errmsg.unwrap_or_else(|| format!("errcode {code}")),
        )),
        (code, _) => Err(WechatError::Unavailable(format!(
            "errcode {code}: {}",
            body.errmsg.unwrap_or_default()
        ))),
    }
}
