//! Access tokens: short-lived JWTs with an explicit algorithm (HS256 by default, RS256 when key
//! files are configured). Decoding accepts only the configured algorithm, so `alg: none` and the
//! HS256-signed-with-the-RSA-public-key trick are refused, and requires `exp`, `iat`, `iss`, `aud`
//! and `sub`.
//!
//! A token's signature and claims never change, so each instance remembers the tokens it has
//! verified (`verify_remembered`) and checks only their expiry when they come again: a signed-in
//! caller's request then costs a map lookup instead of a signature check (an RSA one with
//! RS256). Whether the account may still act is not the token's business: the principal
//! cache answers that on every request.
use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::config::{Config, JwtAlgorithm};

/// Verified tokens remembered before the expired ones are swept (and, if none is, all
/// forgotten): about 300 bytes each.
const REMEMBERED_TOKENS: usize = 50_000;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    /// Unique per token, so two tokens issued in the same second differ.
    pub jti: String,
}

impl Claims {
    pub fn user_id(&self) -> Option<i64> {
        self.sub.parse().ok()
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        timestamp(self.exp)
    }
}

fn timestamp(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_else(Utc::now)
}

/// What a request needs of a verified token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    pub user_id: Option<i64>,
    /// `exp`, in seconds since the epoch.
    pub exp: i64,
}

impl Verified {
    pub fn expires_at(&self) -> DateTime<Utc> {
        timestamp(self.exp)
    }
}

pub struct JwtKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
    leeway_secs: i64,
    remembered: RwLock<HashMap<Box<str>, Verified>>,
}

pub struct IssuedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl JwtKeys {
    /// `dev_secret` is used for HS256 when the configuration names no secret (development only;
    /// `Config::validate` refuses that in production).
    pub fn from_config(config: &Config, dev_secret: Option<&str>) -> anyhow::Result<Self> {
        let (algorithm, encoding, decoding) =
            match config.jwt_algorithm {
                JwtAlgorithm::HS256 => {
                    let secret = config
                        .jwt_secret
                        .as_deref()
                        .or(dev_secret)
                        .ok_or_else(|| anyhow::anyhow!("no JWT secret configured"))?;
                    (
                        Algorithm::HS256,
                        EncodingKey::from_secret(secret.as_bytes())?,
                        DecodingKey::from_secret(secret.as_bytes())?,
                    )
                }
                JwtAlgorithm::RS256 => {
                    let private = config.jwt_private_key_path.as_ref().ok_or_else(|| {
                        anyhow::anyhow!("RS256 needs DISTMALL_JWT_PRIVATE_KEY_PATH")
                    })?;
                    let public = config.jwt_public_key_path.as_ref().ok_or_else(|| {
                        anyhow::anyhow!("RS256 needs DISTMALL_JWT_PUBLIC_KEY_PATH")
                    })?;
                    (
                        Algorithm::RS256,
                        EncodingKey::from_rsa_pem(&std::fs::read(private)?)?,
                        DecodingKey::from_rsa_pem(&std::fs::read(public)?)?,
                    )
                }
            };
        let mut validation = Validation::new(algorithm);
        validation.leeway = config.jwt_leeway_secs;
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        Ok(Self {
            algorithm,
            encoding,
            decoding,
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            ttl_secs: config.access_token_ttl_secs as i64,
            leeway_secs: config.jwt_leeway_secs as i64,
            remembered: RwLock::default(),
        })
    }

    pub fn issue(&self, user_id: i64) -> anyhow::Result<IssuedToken> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + self.ttl_secs,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let token = encode(&Header::new(self.algorithm), &claims, &self.encoding)?;
        Ok(IssuedToken {
            token,
            expires_at: claims.expires_at(),
        })
    }

    /// Validates signature, algorithm, expiry (with the configured leeway), issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        decode::<Claims>(token, &self.decoding, &self.validation).map(|d| d.claims)
    }

    /// `verify`, remembering what it verified: a token seen before is checked for expiry alone
    /// (with the same leeway), which is all that can have changed about it.
    pub fn verify_remembered(&self, token: &str) -> Result<Verified, jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let live = |v: &Verified| v.exp >= now - self.leeway_secs;
        if let Some(v) = self.remembered.read().get(token).copied() {
            return if live(&v) {
                Ok(v)
            } else {
                Err(jsonwebtoken::errors::ErrorKind::ExpiredSignature.into())
            };
        }
        let claims = self.verify(token)?;
        let v = Verified {
            user_id: claims.user_id(),
            exp: claims.exp,
        };
        let mut remembered = self.remembered.write();
        if remembered.len() >= REMEMBERED_TOKENS {
            remembered.retain(|_, v| live(v));
            if remembered.len() >= REMEMBERED_TOKENS {
                remembered.clear();
            }
        }
        remembered.insert(token.into(), v);
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

    fn keys() -> JwtKeys {
        let config = Config {
            jwt_secret: Some("0123456789abcdef0123456789abcdef".into()),
            ..Config::default()
        };
        JwtKeys::from_config(&config, None).unwrap()
    }

    #[test]
    fn issued_tokens_verify() {
        let k = keys();
        let t = k.issue(42).unwrap();
        assert_eq!(k.verify(&t.token).unwrap().user_id(), Some(42));
    }

    #[test]
    fn a_remembered_token_is_refused_once_it_expires() {
        let config = Config {
            jwt_secret: Some("0123456789abcdef0123456789abcdef".into()),
            jwt_leeway_secs: 0,
            ..Config::default()
        };
        let k = JwtKeys::from_config(&config, None).unwrap();
        let now = Utc::now().timestamp();
        let token = |exp: i64| {
            let claims = Claims {
                sub: "7".into(),
                iss: k.issuer.clone(),
                aud: k.audience.clone(),
                iat: now,
                exp,
                jti: uuid::Uuid::new_v4().simple().to_string(),
            };
            encode(&Header::new(k.algorithm), &claims, &k.encoding).unwrap()
        };
        let soon = token(now + 1);
        let first = k.verify_remembered(&soon).unwrap();
        assert_eq!(first.user_id, Some(7));
        assert_eq!(k.verify_remembered(&soon).unwrap(), first);
        assert!(k.remembered.read().contains_key(soon.as_str()));
        // Expiry is checked on every use, not only when the token was first verified.
        std::thread::sleep(std::time::Duration::from_millis(2100));
        let e = k.verify_remembered(&soon).unwrap_err();
        assert_eq!(e.kind(), &jsonwebtoken::errors::ErrorKind::ExpiredSignature);
        // A tampered token is never taken for a remembered one.
        let mut forged = soon.clone();
        forged.push('x');
        assert!(k.verify_remembered(&forged).is_err());
        assert!(k.verify_remembered(&token(now - 5)).is_err());
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        let k = keys();
        let t = k.issue(42).unwrap();
        let payload = t.token.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(k.verify(&format!("{header}.{payload}.")).is_err());
    }

    #[test]
    fn other_secrets_are_refused() {
        let other = JwtKeys::from_config(
            &Config {
                jwt_secret: Some("another-secret-another-secret-xx".into()),
                ..Config::default()
            },
            None,
        )
        .unwrap();
        assert!(keys().verify(&other.issue(1).unwrap().token).is_err());
    }
}
