//! argon2id password hashing. Hashing is CPU-bound (tens of milliseconds by design), so it runs
//! on the blocking pool and never stalls the async workers.
use std::sync::LazyLock;

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};

use crate::error::AppError;

/// Verified against when the phone is unknown, so a wrong phone costs as long as a wrong password
/// and response times do not reveal which phones are registered.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_blocking("not-a-real-password-7f3a"));

fn hash_blocking(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail on a generated salt")
        .to_string()
}

pub async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(AppError::internal)
}

/// Verifies `password` against `stored`; with `None` it burns the same time and returns false.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match stored {
            Some(h) => (h, true),
            None => (DUMMY_HASH.clone(), false),
        };
        let parsed = PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok::<bool, anyhow::Error>(ok && real)
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = hash("Secret123".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Secret123".into(), Some(h.clone())).await.unwrap());
        assert!(!verify("secret123".into(), Some(h)).await.unwrap());
        assert!(
            !verify("not-a-real-password-7f3a".into(), None)
                .await
                .unwrap()
        );
    }
}
