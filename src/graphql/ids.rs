//! Opaque global object ids (`Node.id`): base64url of `Type:number`. Clients must treat them as
//! opaque strings; the server checks the type whenever it decodes one.
use async_graphql::ID;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::AppError;

pub fn encode(type_name: &str, id: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{type_name}:{id}")))
}

/// `(type, id)` of a well-formed global id, whatever its type.
pub fn decode_any(id: &str) -> Option<(String, i64)> {
    let raw = URL_SAFE_NO_PAD.decode(id.as_bytes()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (type_name, num) = text.split_once(':')?;
    let num: i64 = num.parse().ok()?;
    (num > 0 && !type_name.is_empty()).then(|| (type_name.to_string(), num))
}

/// The database id inside `id` if it names a `type_name`; otherwise a `NOT_FOUND` error (a
/// malformed id names nothing that exists).
pub fn decode(type_name: &str, id: &ID) -> Result<i64, AppError> {
    match decode_any(id.as_str()) {
        Some((t, n)) if t == type_name => Ok(n),
        _ => Err(AppError::not_found(type_name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_check_their_type() {
        let id = encode("User", 42);
        assert_eq!(decode("User", &id).unwrap(), 42);
        assert!(decode("Notification", &id).is_err());
        assert!(decode("User", &ID("garbage!".into())).is_err());
        assert!(decode("User", &encode("User", 0)).is_err());
        assert!(decode_any("VXNlcjphYmM").is_none()); // "User:abc"
    }
}
