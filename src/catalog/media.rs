//! Product images: checked (type by content, size, dimensions), stored behind the `MediaStore`
//! trait — local disk under the data directory by default, served at `/media/…` — and recorded
//! as unattached uploads until a product takes them.
use std::path::PathBuf;

use chrono::Utc;
use entity::product_image;
use sea_orm::{ActiveModelTrait, Set};

use super::errors::{CatalogErrorCode as Code, CatalogResult, reject};
use crate::app::AppState;

/// Where uploaded files live. A second implementation (an S3-compatible store) only needs these
/// two operations.
#[async_trait::async_trait]
pub trait MediaStore: Send + Sync {
    /// Stores `bytes` under `key`; returns the URL clients load it from.
    async fn put(&self, key: &str, bytes: &[u8], content_type: &str) -> anyhow::Result<String>;
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
    /// The bytes stored under `key`; `None` when nothing is.
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>>;
    /// The URL clients load `key` from (whether or not it is stored yet).
    fn url(&self, key: &str) -> String;
}

/// Files under a directory, served by this server at `url_prefix`.
pub struct LocalDisk {
    pub root: PathBuf,
    pub url_prefix: String,
}

#[async_trait::async_trait]
impl MediaStore for LocalDisk {
    async fn put(&self, key: &str, bytes: &[u8], _content_type: &str) -> anyhow::Result<String> {
        let path = self.root.join(key);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        // Write then rename, so a reader never sees half a file.
        let tmp = path.with_extension("part");
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(self.url(key))
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        match tokio::fs::read(self.root.join(key)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn url(&self, key: &str) -> String {
        format!("{}/{key}", self.url_prefix.trim_end_matches('/'))
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match tokio::fs::remove_file(self.root.join(key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// An image format we accept, recognised by its first bytes (never by the client's claim).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
    Webp,
}

impl ImageKind {
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageKind::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageKind::Png)
        } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(ImageKind::Webp)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
            ImageKind::Webp => "webp",
        }
    }
}

/// Limits for uploaded images.
#[derive(Clone, Copy, Debug)]
pub struct ImageLimits {
    pub max_bytes: usize,
    pub min_side: u32,
    pub max_side: u32,
}

/// The kind and `(width, height)` of an acceptable image, or why it is not acceptable.
pub fn check_image(
    bytes: &[u8],
    limits: ImageLimits,
) -> Result<(ImageKind, u32, u32), (Code, String)> {
    if bytes.len() > limits.max_bytes {
        return Err((
            Code::ImageTooLarge,
            format!("the image is larger than {} KB", limits.max_bytes / 1024),
        ));
    }
    let kind = ImageKind::sniff(bytes).ok_or((
        Code::UnsupportedImageType,
        "only JPEG, PNG and WebP images are accepted".to_string(),
    ))?;
    let size = imagesize::blob_size(bytes)
        .map_err(|_| (Code::InvalidImage, "the image cannot be read".to_string()))?;
    let (w, h) = (size.width as u32, size.height as u32);
    if w < limits.min_side || h < limits.min_side || w > limits.max_side || h > limits.max_side {
        return Err((
            Code::InvalidImageDimensions,
            format!(
                "images are {}–{} pixels on each side; this one is {w}×{h}",
                limits.min_side, limits.max_side
            ),
        ));
    }
    Ok((kind, w, h))
}

/// Checks, stores and records an uploaded image (unattached until a product takes it).
pub async fn upload_image(
    app: &AppState,
    actor: Option<i64>,
    bytes: Vec<u8>,
) -> CatalogResult<product_image::Model> {
    let limits = ImageLimits {
        max_bytes: app.config.upload_max_bytes,
        min_side: app.config.image_min_side,
        max_side: app.config.image_max_side,
    };
    let (kind, width, height) = match check_image(&bytes, limits) {
        Ok(v) => v,
        Err((code, message)) => return reject(code, "file", message),
    };
    let key = format!(
        "products/{}/{}.{}",
        Utc::now().format("%Y%m"),
        uuid::Uuid::new_v4().simple(),
        kind.extension()
    );
    let url = app
        .media
        .put(&key, &bytes, kind.content_type())
        .await
        .map_err(crate::error::AppError::Internal)?;
    let tx = app.db.begin_write().await?;
    let image = product_image::ActiveModel {
        product_id: Set(None),
        storage_key: Set(key),
        url: Set(url),
        content_type: Set(kind.content_type().into()),
        width: Set(width as i32),
        height: Set(height as i32),
        bytes: Set(bytes.len() as i64),
        sort_order: Set(0),
        created_by: Set(actor),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    tx.commit().await?;
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ImageLimits = ImageLimits {
        max_bytes: 1024 * 1024,
        min_side: 100,
        max_side: 4096,
    };

    fn png(w: u32, h: u32) -> Vec<u8> {
        // A PNG header is enough for the size check.
        let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        v.extend(w.to_be_bytes());
        v.extend(h.to_be_bytes());
        v.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    #[test]
    fn images_are_recognised_by_content() {
        assert_eq!(
            check_image(&png(800, 600), LIMITS).unwrap(),
            (ImageKind::Png, 800, 600)
        );
        assert_eq!(
            check_image(b"GIF89a......", LIMITS).unwrap_err().0,
            Code::UnsupportedImageType
        );
        assert_eq!(
            check_image(b"<svg onload=alert(1)>", LIMITS).unwrap_err().0,
            Code::UnsupportedImageType
        );
    }

    #[test]
    fn size_and_dimensions_are_bounded() {
        assert_eq!(
            check_image(&png(50, 600), LIMITS).unwrap_err().0,
            Code::InvalidImageDimensions
        );
        assert_eq!(
            check_image(&png(5000, 600), LIMITS).unwrap_err().0,
            Code::InvalidImageDimensions
        );
        let mut big = png(800, 600);
        big.resize(LIMITS.max_bytes + 1, 0);
        assert_eq!(
            check_image(&big, LIMITS).unwrap_err().0,
            Code::ImageTooLarge
        );
    }
}
