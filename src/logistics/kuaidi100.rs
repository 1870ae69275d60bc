//! Kuaidi100 (快递100) parcel tracking: subscription with signed push callbacks, and the
//! real-time query as a polling fallback.
//!
//! * Subscribe (`POST {base}/poll`, form `schema=json&param=<json>`): Kuaidi100 then tracks the
//!   parcel and POSTs every change to `callbackurl`.
//! * Push (订阅推送): form `param=<json>&sign=<MD5(param + salt), upper-case hex>`; the salt is the
//!   one given when subscribing, so only Kuaidi100 (and we) can produce the sign. The callback
//!   must answer [`push_ack`]; Kuaidi100 retries a push that is not acknowledged.
//! * Query (`POST {base}/poll/query.do`, form `customer`, `sign=MD5(param + key + customer)`,
//!   `param`): the current tracking for one parcel.
//!
//! Tracking times are Beijing time without an offset; they are converted to UTC here.
//! The module is self-contained (no `crate::` imports) so it can be tested on its own.
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use md5::{Digest, Md5};
use serde::{Deserialize, Deserializer};

/// Kuaidi100's production host for both subscription and query.
pub const DEFAULT_BASE_URL: &str = "https://poll.kuaidi100.com";

#[derive(Debug, thiserror::Error)]
pub enum Kuaidi100Error {
    /// `sign` missing or not MD5(param + salt): not from Kuaidi100, or a different salt.
    #[error("kuaidi100 push signature does not verify")]
    BadSignature,
    #[error("kuaidi100 message malformed: {0}")]
    Malformed(String),
    #[error("kuaidi100 request: {0}")]
    InvalidRequest(String),
    #[error("kuaidi100 http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("kuaidi100 answered HTTP {0}")]
    HttpStatus(u16),
    /// Kuaidi100 refused the call. Subscription codes: 700 bad data, 701 carrier refused,
    /// 600 invalid key, 500 server error. Query codes: 400 incomplete data or unknown carrier,
    /// 500 no result yet, 503 bad sign, 601 key expired or out of quota.
    #[error("kuaidi100 refused: {return_code} {message}")]
    Api {
        return_code: String,
        message: String,
    },
}

impl Kuaidi100Error {
    /// A query found nothing (yet): normal for a parcel the carrier has not scanned.
    pub fn is_no_result(&self) -> bool {
        matches!(self, Kuaidi100Error::Api { return_code, .. } if return_code == "500")
    }
}

pub type Result<T, E = Kuaidi100Error> = std::result::Result<T, E>;

/// Kuaidi100's tracking state, from the `state` code. With `resultv2=1` (which this module
/// requests) Kuaidi100 may send the finer three- and four-digit codes; each belongs to one of the
/// basic states (e.g. 301 本人签收 and 304 投柜或站签收 are both 3 签收), per Kuaidi100's state table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackingState {
    /// 0 在途, and 1001 到达派件城市 / 1002 干线 / 1003 转递; also 7 转投 (handed to another
    /// carrier, still on its way).
    InTransit,
    /// 1 揽收, and 101 已下单 / 102 待揽收 / 103 已揽收.
    PickedUp,
    /// 2 疑难 and 201–210 (overdue, refused pending confirmation, unreachable, damaged, …):
    /// someone should look at the order.
    Problem,
    /// 3 签收, and 301 本人签收 / 302 派件异常后签收 / 303 代签 / 304 投柜或站签收.
    Delivered,
    /// 4 退签 (returned and signed for by the sender), and 401 已销单.
    ReturnedToSender,
    /// 5 派件, and 501 投柜或驿站 (in a locker or pickup station, not yet collected).
    Dispatching,
    /// 6 退回: on its way back to the sender.
    Returning,
    /// 8 清关, and 10 待清关 / 11 清关中 / 12 已清关 / 13 清关异常.
    Customs,
    /// 14 拒签: the recipient refused the parcel.
    Rejected,
    /// A code this module does not know, kept verbatim.
    Other(String),
}

impl TrackingState {
    pub fn from_code(code: &str) -> TrackingState {
        match code {
            "0" | "1001" | "1002" | "1003" | "7" => TrackingState::InTransit,
            "1" | "101" | "102" | "103" => TrackingState::PickedUp,
            "2" | "201" | "202" | "203" | "204" | "205" | "206" | "207" | "208" | "209" | "210" => {
                TrackingState::Problem
            }
            "3" | "301" | "302" | "303" | "304" => TrackingState::Delivered,
            "4" | "401" => TrackingState::ReturnedToSender,
            "5" | "501" => TrackingState::Dispatching,
            "6" => TrackingState::Returning,
            "8" | "10" | "11" | "12" | "13" => TrackingState::Customs,
            "14" => TrackingState::Rejected,
            other => TrackingState::Other(other.to_string()),
        }
    }

    /// The parcel reached the buyer: the order moves to DELIVERED. Only the 签收 family counts;
    /// `ischeck` is not used because a parcel signed back by the sender (退签) is "checked" too.
    pub fn is_delivered(&self) -> bool {
        matches!(self, TrackingState::Delivered)
    }

    /// The carrier has the parcel and it is moving toward the buyer: the order moves from
    /// SHIPPED to IN_TRANSIT.
    pub fn is_in_transit(&self) -> bool {
        matches!(
            self,
            TrackingState::PickedUp
                | TrackingState::InTransit
                | TrackingState::Dispatching
                | TrackingState::Customs
        )
    }

    /// The parcel is stuck, refused or going back: a person has to look at the order.
    pub fn needs_attention(&self) -> bool {
        matches!(
            self,
            TrackingState::Problem
                | TrackingState::Rejected
                | TrackingState::Returning
                | TrackingState::ReturnedToSender
        )
    }
}

/// Kuaidi100's monitoring status in a push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushStatus {
    /// Still being tracked.
    Polling,
    /// Tracking ended, normally because the parcel was signed for.
    Shutdown,
    /// Tracking gave up ("3天查询无记录" or "60天无变化"); if the carrier code and number are
    /// right, subscribe again about half an hour later.
    Abort,
    /// A full re-push of the tracking history.
    UpdateAll,
    Other(String),
}

impl PushStatus {
    fn parse(s: &str) -> PushStatus {
        match s {
            "polling" => PushStatus::Polling,
            "shutdown" => PushStatus::Shutdown,
            "abort" => PushStatus::Abort,
            "updateall" => PushStatus::UpdateAll,
            other => PushStatus::Other(other.to_string()),
        }
    }
}

/// One scan event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackingEntry {
    pub context: String,
    /// When the event happened, converted from Beijing time.
    pub time: DateTime<Utc>,
    /// The formatted time as Kuaidi100 sent it (`yyyy-MM-dd HH:mm:ss`, Beijing time).
    pub ftime: String,
    /// The event's state name (e.g. "在途", "签收"), present with `resultv2`.
    pub status: Option<String>,
    /// The event's state code, present with `resultv2`.
    pub status_code: Option<String>,
    pub area_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastResult {
    /// Carrier code, e.g. `yuantong`.
    pub com: String,
    /// Tracking number.
    pub nu: String,
    /// The raw state code; see [`LastResult::tracking_state`].
    pub state: String,
    /// Kuaidi100's "signed for" flag (see [`TrackingState::is_delivered`] for why it is not
    /// what decides delivery).
    pub ischeck: bool,
    /// Newest first, as Kuaidi100 sends them.
    pub data: Vec<TrackingEntry>,
}

impl LastResult {
    pub fn tracking_state(&self) -> TrackingState {
        TrackingState::from_code(&self.state)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushNotification {
    pub status: PushStatus,
    pub message: String,
    /// Kuaidi100 corrected the carrier code: the parcel is tracked under `com_new` from now on
    /// (with `com_old` the code we subscribed with).
    pub com_old: Option<String>,
    pub com_new: Option<String>,
    pub last_result: LastResult,
}

/// The result of a real-time query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryResult {
    pub com: String,
    pub nu: String,
    pub state: String,
    pub ischeck: bool,
    /// Newest first.
    pub data: Vec<TrackingEntry>,
}

impl QueryResult {
    pub fn tracking_state(&self) -> TrackingState {
        TrackingState::from_code(&self.state)
    }
}

/// Upper-case hex MD5 of `param + salt`: the push signature (used by the verifier, the tests and
/// any local push simulator).
pub fn sign_push(param: &str, salt: &str) -> String {
    let mut hasher = Md5::new();
    hasher.update(param.as_bytes());
    hasher.update(salt.as_bytes());
    hex::encode_upper(hasher.finalize())
}

/// The query signature: upper-case hex MD5 of `param + key + customer`.
pub fn sign_query(param: &str, key: &str, customer: &str) -> String {
    let mut hasher = Md5::new();
    hasher.update(param.as_bytes());
    hasher.update(key.as_bytes());
    hasher.update(customer.as_bytes());
    hex::encode_upper(hasher.finalize())
}

/// Verifies a push (the raw `application/x-www-form-urlencoded` body) and parses it. The
/// signature is checked over `param` exactly as received, before the JSON is read.
pub fn verify_push(form_body: &str, salt: &str) -> Result<PushNotification> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(form_body)
        .map_err(|e| Kuaidi100Error::Malformed(format!("form body: {e}")))?;
    let single = |name: &str| -> Result<Option<String>> {
        let mut values = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
        let first = values.next().cloned();
        if values.next().is_some() {
            return Err(Kuaidi100Error::Malformed(format!("{name} repeated")));
        }
        Ok(first)
    };
    let param =
        single("param")?.ok_or_else(|| Kuaidi100Error::Malformed("param is missing".into()))?;
    let sign = single("sign")?.ok_or(Kuaidi100Error::BadSignature)?;
    if !constant_time_eq_ignore_case(sign.as_bytes(), sign_push(&param, salt).as_bytes()) {
        return Err(Kuaidi100Error::BadSignature);
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Wire {
        status: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        com_old: Option<String>,
        #[serde(default)]
        com_new: Option<String>,
        last_result: WireResult,
    }
    let wire: Wire = serde_json::from_str(&param).map_err(|e| {
        Kuaidi100Error::Malformed(format!("push param is not the expected JSON: {e}"))
    })?;
    Ok(PushNotification {
        status: PushStatus::parse(&wire.status),
        message: wire.message,
        com_old: wire.com_old.filter(|s| !s.is_empty()),
        com_new: wire.com_new.filter(|s| !s.is_empty()),
        last_result: wire.last_result.into_last_result()?,
    })
}

/// The body to answer a push with. Kuaidi100 treats anything but `result: true` as a failed
/// delivery and retries it later, so answer `false` only when the push could not be stored
/// (and should come again). A push that fails verification is not worth a retry either way.
pub fn push_ack(ok: bool) -> String {
    if ok {
        r#"{"result":true,"returnCode":"200","message":"成功"}"#.to_string()
    } else {
        r#"{"result":false,"returnCode":"500","message":"失败"}"#.to_string()
    }
}

/// Subscribes one parcel for push tracking. `salt` is what the pushes will be signed with; keep
/// it secret and pass the same one to [`verify_push`]. `phone` (the recipient's or sender's
/// phone, or its last four digits) is required by SF Express and helps others.
///
/// Kuaidi100's 501 ("重复订阅": this parcel is already subscribed and still being tracked) is
/// treated as success: the earlier subscription keeps pushing to the callback.
#[allow(clippy::too_many_arguments)]
pub async fn subscribe(
    client: &reqwest::Client,
    base_url: &str,
    key: &str,
    com: &str,
    num: &str,
    callback_url: &str,
    salt: &str,
    phone: Option<&str>,
) -> Result<()> {
    for (name, value) in [
        ("key", key),
        ("com", com),
        ("num", num),
        ("callback_url", callback_url),
        ("salt", salt),
    ] {
        if value.trim().is_empty() {
            return Err(Kuaidi100Error::InvalidRequest(format!("{name} is empty")));
        }
    }
    let mut parameters = serde_json::Map::new();
    parameters.insert("callbackurl".into(), callback_url.into());
    parameters.insert("salt".into(), salt.into());
    parameters.insert("resultv2".into(), "1".into());
    if let Some(p) = phone.filter(|p| !p.is_empty()) {
        parameters.insert("phone".into(), p.into());
    }
    let param = serde_json::json!({
        "company": com,
        "number": num,
        "key": key,
        "parameters": parameters,
    })
    .to_string();

    let response = client
        .post(format!("{}/poll", base_url.trim_end_matches('/')))
        .form(&[("schema", "json"), ("param", param.as_str())])
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        return Err(Kuaidi100Error::HttpStatus(status.as_u16()));
    }
    let body = response.text().await?;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        #[serde(default)]
        result: bool,
        #[serde(default, deserialize_with = "string_or_number")]
        return_code: String,
        #[serde(default)]
        message: String,
    }
    let answer: Answer = serde_json::from_str(&body)
        .map_err(|e| Kuaidi100Error::Malformed(format!("subscribe answer: {e}")))?;
    if answer.result || answer.return_code == "200" || answer.return_code == "501" {
        return Ok(());
    }
    Err(Kuaidi100Error::Api {
        return_code: answer.return_code,
        message: answer.message,
    })
}

/// Real-time query of one parcel (the polling fallback when pushes are late). `customer` and
/// `key` are the enterprise account's credentials. Kuaidi100 locks a number queried too often
/// (more than about once every half hour), so poll sparingly.
pub async fn query(
    client: &reqwest::Client,
    base_url: &str,
    customer: &str,
    key: &str,
    com: &str,
    num: &str,
    phone: Option<&str>,
) -> Result<QueryResult> {
    for (name, value) in [
        ("customer", customer),
        ("key", key),
        ("com", com),
        ("num", num),
    ] {
        if value.trim().is_empty() {
            return Err(Kuaidi100Error::InvalidRequest(format!("{name} is empty")));
        }
    }
    let mut param = serde_json::Map::new();
    param.insert("com".into(), com.into());
    param.insert("num".into(), num.into());
    if let Some(p) = phone.filter(|p| !p.is_empty()) {
        param.insert("phone".into(), p.into());
    }
    param.insert("resultv2".into(), "1".into());
    let param = serde_json::Value::Object(param).to_string();
    // The sign covers this exact string, so the same string is what goes on the wire.
    let sign = sign_query(&param, key, customer);

    let response = client
        .post(format!("{}/poll/query.do", base_url.trim_end_matches('/')))
        .form(&[
            ("customer", customer),
            ("sign", sign.as_str()),
            ("param", param.as_str()),
        ])
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        return Err(Kuaidi100Error::HttpStatus(status.as_u16()));
    }
    let body = response.text().await?;
    parse_query_answer(&body)
}

/// A query answer is either the tracking (`{"message":"ok","state":"3","data":[...]...}`) or a
/// refusal (`{"result":false,"returnCode":"500","message":"..."}`).
fn parse_query_answer(body: &str) -> Result<QueryResult> {
    let value: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| Kuaidi100Error::Malformed(format!("query answer is not JSON: {e}")))?;
    if value.get("result").and_then(|r| r.as_bool()) == Some(false) {
        let text = |k: &str| match value.get(k) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        return Err(Kuaidi100Error::Api {
            return_code: text("returnCode"),
            message: text("message"),
        });
    }
    let wire: WireResult = serde_json::from_value(value)
        .map_err(|e| Kuaidi100Error::Malformed(format!("query answer: {e}")))?;
    let last = wire.into_last_result()?;
    Ok(QueryResult {
        com: last.com,
        nu: last.nu,
        state: last.state,
        ischeck: last.ischeck,
        data: last.data,
    })
}

/// `lastResult` in a push and the whole answer of a query share this shape. Kuaidi100 sends
/// `state` and `ischeck` as strings in pushes and has sent numbers in query answers, so both
/// are accepted.
#[derive(Deserialize)]
struct WireResult {
    #[serde(default)]
    com: String,
    #[serde(default)]
    nu: String,
    #[serde(deserialize_with = "string_or_number")]
    state: String,
    #[serde(default, deserialize_with = "string_or_number")]
    ischeck: String,
    #[serde(default)]
    data: Vec<WireEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEntry {
    #[serde(default)]
    context: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    ftime: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    status_code: Option<String>,
    #[serde(default)]
    area_name: Option<String>,
}

impl WireResult {
    fn into_last_result(self) -> Result<LastResult> {
        let data = self
            .data
            .into_iter()
            .map(|e| {
                // ftime is Kuaidi100's normalised form; time is the carrier's original, used
                // only when ftime is absent.
                let source = if e.ftime.is_empty() {
                    &e.time
                } else {
                    &e.ftime
                };
                let time = parse_beijing_time(source)?;
                Ok(TrackingEntry {
                    context: e.context,
                    time,
                    ftime: if e.ftime.is_empty() { e.time } else { e.ftime },
                    status: e.status.filter(|s| !s.is_empty()),
                    status_code: e.status_code.filter(|s| !s.is_empty()),
                    area_name: e.area_name.filter(|s| !s.is_empty()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(LastResult {
            com: self.com,
            nu: self.nu,
            state: self.state,
            ischeck: self.ischeck == "1",
            data,
        })
    }
}

/// Kuaidi100's `yyyy-MM-dd HH:mm:ss` (some carriers give no seconds) in Beijing time, as UTC.
pub fn parse_beijing_time(s: &str) -> Result<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .map_err(|_| {
            Kuaidi100Error::Malformed(format!("tracking time {s:?} is not yyyy-MM-dd HH:mm:ss"))
        })?;
    FixedOffset::east_opt(8 * 3600)
        .expect("UTC+8 is a valid offset")
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| Kuaidi100Error::Malformed(format!("tracking time {s:?}")))
}

/// Compares without stopping at the first difference, so response timing says nothing about
/// how much of a guessed sign was right. Case is ignored: the sign is hex.
fn constant_time_eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| {
        acc | (x.to_ascii_uppercase() ^ y.to_ascii_uppercase())
    }) == 0
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(opt_string_or_number(d)?.unwrap_or_default())
}

fn opt_string_or_number<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    use serde::de::Error;
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(D::Error::custom(format!(
            "expected a string or a number, got {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: &str = "s3cr3t-salt-0123456789abcdef";

    fn param_json(state: &str) -> String {
        serde_json::json!({
            "status": "polling",
            "billstatus": "got",
            "message": "",
            "autoCheck": "0",
            "comOld": "",
            "comNew": "",
            "lastResult": {
                "message": "ok",
                "state": state,
                "status": "200",
                "condition": "F00",
                "ischeck": if state.starts_with('3') { "1" } else { "0" },
                "com": "yuantong",
                "nu": "YT7000000000001",
                "data": [
                    {
                        "context": "【杭州市】快件已由本人签收",
                        "time": "2024-05-22 14:03:11",
                        "ftime": "2024-05-22 14:03:11",
                        "status": "签收",
                        "statusCode": "301",
                        "areaCode": "CN330100000000",
                        "areaName": "浙江,杭州市"
                    },
                    {
                        "context": "【上海市】已揽收",
                        "time": "2024-05-20 09:00",
                        "ftime": "2024-05-20 09:00:00",
                        "status": "揽收",
                        "areaName": ""
                    }
                ]
            }
        })
        .to_string()
    }

    fn form(param: &str, sign: &str) -> String {
        serde_urlencoded::to_string([("param", param), ("sign", sign)]).unwrap()
    }

    #[test]
    fn sign_is_upper_case_md5_of_param_and_salt() {
        // MD5("abc") is the RFC 1321 test vector; param + salt is a plain concatenation.
        assert_eq!(sign_push("a", "bc"), "900150983CD24FB0D6963F7D28E17F72");
        assert_eq!(sign_push("", ""), "D41D8CD98F00B204E9800998ECF8427E");
        assert_eq!(
            sign_query("a", "b", "c"),
            "900150983CD24FB0D6963F7D28E17F72"
        );
    }

    #[test]
    fn push_verifies_and_parses() {
        let param = param_json("301");
        let push = verify_push(&form(&param, &sign_push(&param, SALT)), SALT).unwrap();
        assert_eq!(push.status, PushStatus::Polling);
        assert_eq!(push.com_new, None);
        let last = &push.last_result;
        assert_eq!(last.com, "yuantong");
        assert_eq!(last.nu, "YT7000000000001");
        assert_eq!(last.state, "301");
        assert!(last.ischeck);
        assert_eq!(last.tracking_state(), TrackingState::Delivered);
        assert!(last.tracking_state().is_delivered());
        assert_eq!(last.data.len(), 2);
        let newest = &last.data[0];
        assert_eq!(newest.context, "【杭州市】快件已由本人签收");
        // 14:03:11 in Beijing is 06:03:11 UTC.
        assert_eq!(newest.time.to_rfc3339(), "2024-05-22T06:03:11+00:00");
        assert_eq!(newest.ftime, "2024-05-22 14:03:11");
        assert_eq!(newest.status.as_deref(), Some("签收"));
        assert_eq!(newest.status_code.as_deref(), Some("301"));
        assert_eq!(newest.area_name.as_deref(), Some("浙江,杭州市"));
        assert_eq!(last.data[1].area_name, None);
        assert_eq!(last.data[1].time.to_rfc3339(), "2024-05-20T01:00:00+00:00");
    }

    #[test]
    fn lower_case_sign_is_accepted() {
        let param = param_json("0");
        let sign = sign_push(&param, SALT).to_ascii_lowercase();
        assert!(verify_push(&form(&param, &sign), SALT).is_ok());
    }

    #[test]
    fn tampered_push_is_refused() {
        let param = param_json("0");
        let sign = sign_push(&param, SALT);
        let tampered = param.replace(r#""state":"0""#, r#""state":"3""#);
        assert_ne!(param, tampered);
        assert!(matches!(
            verify_push(&form(&tampered, &sign), SALT),
            Err(Kuaidi100Error::BadSignature)
        ));
    }

    #[test]
    fn push_with_wrong_salt_or_no_sign_is_refused() {
        let param = param_json("0");
        let signed_elsewhere = form(&param, &sign_push(&param, "another-salt"));
        assert!(matches!(
            verify_push(&signed_elsewhere, SALT),
            Err(Kuaidi100Error::BadSignature)
        ));
        let unsigned = serde_urlencoded::to_string([("param", param.as_str())]).unwrap();
        assert!(matches!(
            verify_push(&unsigned, SALT),
            Err(Kuaidi100Error::BadSignature)
        ));
        let short = form(&param, "ABC");
        assert!(matches!(
            verify_push(&short, SALT),
            Err(Kuaidi100Error::BadSignature)
        ));
    }

    #[test]
    fn malformed_push_is_a_clear_error() {
        // Correctly signed, but not the JSON a push carries.
        let not_json = "{\"status\":\"polling\",";
        let err = verify_push(&form(not_json, &sign_push(not_json, SALT)), SALT).unwrap_err();
        assert!(
            matches!(&err, Kuaidi100Error::Malformed(m) if m.contains("push param")),
            "{err}"
        );
        let no_last_result = r#"{"status":"polling","message":""}"#;
        let err = verify_push(
            &form(no_last_result, &sign_push(no_last_result, SALT)),
            SALT,
        )
        .unwrap_err();
        assert!(
            matches!(&err, Kuaidi100Error::Malformed(m) if m.contains("lastResult")),
            "{err}"
        );
        let bad_time = param_json("0").replace("2024-05-22 14:03:11", "yesterday");
        let err = verify_push(&form(&bad_time, &sign_push(&bad_time, SALT)), SALT).unwrap_err();
        assert!(
            matches!(&err, Kuaidi100Error::Malformed(m) if m.contains("yesterday")),
            "{err}"
        );
        assert!(matches!(
            verify_push("sign=ABC", SALT),
            Err(Kuaidi100Error::Malformed(_))
        ));
        let param = param_json("0");
        let sign = sign_push(&param, SALT);
        let twice = format!("{}&{}", form(&param, &sign), form(&param, &sign));
        assert!(matches!(
            verify_push(&twice, SALT),
            Err(Kuaidi100Error::Malformed(_))
        ));
    }

    #[test]
    fn abort_and_carrier_correction_come_through() {
        let param = serde_json::json!({
            "status": "abort",
            "message": "3天查询无记录",
            "autoCheck": "1",
            "comOld": "yuantong",
            "comNew": "zhongtong",
            "lastResult": {"state": 0, "ischeck": 0, "com": "zhongtong", "nu": "X1", "data": []}
        })
        .to_string();
        let push = verify_push(&form(&param, &sign_push(&param, SALT)), SALT).unwrap();
        assert_eq!(push.status, PushStatus::Abort);
        assert_eq!(push.message, "3天查询无记录");
        assert_eq!(push.com_old.as_deref(), Some("yuantong"));
        assert_eq!(push.com_new.as_deref(), Some("zhongtong"));
        // Numbers where strings usually are.
        assert_eq!(push.last_result.state, "0");
        assert!(!push.last_result.ischeck);
    }

    #[test]
    fn state_codes_map_to_states() {
        use TrackingState::*;
        let cases = [
            ("0", InTransit),
            ("1001", InTransit),
            ("7", InTransit),
            ("1", PickedUp),
            ("103", PickedUp),
            ("2", Problem),
            ("206", Problem),
            ("3", Delivered),
            ("301", Delivered),
            ("304", Delivered),
            ("4", ReturnedToSender),
            ("401", ReturnedToSender),
            ("5", Dispatching),
            ("501", Dispatching),
            ("6", Returning),
            ("8", Customs),
            ("12", Customs),
            ("14", Rejected),
        ];
        for (code, state) in cases {
            assert_eq!(TrackingState::from_code(code), state, "code {code}");
        }
        assert_eq!(TrackingState::from_code("99"), Other("99".into()));

        assert!(TrackingState::from_code("3").is_delivered());
        for code in ["0", "1", "2", "4", "5", "6", "8", "14", "99"] {
            assert!(!TrackingState::from_code(code).is_delivered(), "{code}");
        }
        for code in ["0", "1", "5", "8"] {
            assert!(TrackingState::from_code(code).is_in_transit(), "{code}");
        }
        for code in ["2", "3", "4", "6", "14"] {
            assert!(!TrackingState::from_code(code).is_in_transit(), "{code}");
        }
        for code in ["2", "4", "6", "14"] {
            assert!(TrackingState::from_code(code).needs_attention(), "{code}");
        }
    }

    #[test]
    fn times_are_beijing_time() {
        assert_eq!(
            parse_beijing_time("2024-01-01 07:59:59")
                .unwrap()
                .to_rfc3339(),
            "2023-12-31T23:59:59+00:00"
        );
        assert_eq!(
            parse_beijing_time("2024-01-01 08:00").unwrap().to_rfc3339(),
            "2024-01-01T00:00:00+00:00"
        );
        for bad in ["", "2024-13-01 00:00:00", "2024/01/01 00:00:00", "now"] {
            assert!(parse_beijing_time(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn push_ack_is_what_kuaidi100_expects() {
        let ok: serde_json::Value = serde_json::from_str(&push_ack(true)).unwrap();
        assert_eq!(
            ok,
            serde_json::json!({"result": true, "returnCode": "200", "message": "成功"})
        );
        let failed: serde_json::Value = serde_json::from_str(&push_ack(false)).unwrap();
        assert_eq!(failed["result"], false);
        assert_ne!(failed["returnCode"], "200");
    }

    #[test]
    fn query_answers_parse_both_ways() {
        let ok = r#"{"message":"ok","nu":"SF1","ischeck":"1","condition":"F00","com":"shunfeng","status":"200","state":"3","data":[{"time":"2024-05-22 14:03:11","ftime":"2024-05-22 14:03:11","context":"已签收","status":"签收"}]}"#;
        let r = parse_query_answer(ok).unwrap();
        assert_eq!((r.com.as_str(), r.nu.as_str()), ("shunfeng", "SF1"));
        assert!(r.ischeck);
        assert!(r.tracking_state().is_delivered());
        assert_eq!(r.data.len(), 1);

        let refused =
            r#"{"result":false,"returnCode":"500","message":"查询无结果，请隔段时间再查"}"#;
        let err = parse_query_answer(refused).unwrap_err();
        assert!(err.is_no_result(), "{err}");

        assert!(matches!(
            parse_query_answer("<html>"),
            Err(Kuaidi100Error::Malformed(_))
        ));
        assert!(matches!(
            parse_query_answer(r#"{"message":"ok"}"#),
            Err(Kuaidi100Error::Malformed(_))
        ));
    }
}
