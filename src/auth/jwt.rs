//! Access tokens: short-lived JWTs with an explicit algorithm (HS256 by default, RS256 when key
//! files are configured). Decoding accepts only the configured algorithm, so `alg: none` and the
//! HS256-signed-with-the-RSA-public-key trick are refused, and requires `exp`, `iat`, `iss`, `aud`
//! and `sub`.
use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use crate::config::{Config, JwtAlgorithm};

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
        Utc.timestamp_opt(self.exp, 0)
            .single()
            .unwrap_or_else(Utc::now)
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
