//! GraphQL multipart requests (file uploads, per the GraphQL multipart request spec). The
//! `operations` and `map` parts are what a JSON body would carry, so each is bounded by
//! `max_body_bytes` like one; each file by `upload_max_bytes`; at most [`MAX_FILES`] files.
use std::{collections::HashMap, io::Seek};

use async_graphql::{Request, UploadValue};
use axum::{body::Body, http::StatusCode, response::Response};
use multer::{Constraints, Multipart, SizeLimit};
use tokio::io::AsyncWriteExt;

use super::{graphql::single_request, refuse};
use crate::config::Config;

/// Files one request may carry.
pub const MAX_FILES: usize = 5;

/// Room in the whole stream for boundaries and part headers.
const FRAMING_BYTES: u64 = 64 * 1024;

/// Reads a multipart body into one GraphQL request with its uploads (spooled to temporary
/// files), or says why it is refused.
pub async fn read(config: &Config, content_type: &str, body: Body) -> Result<Request, Response> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| bad_request("the multipart request has no boundary"))?;
    let json_max = config.max_body_bytes as u64;
    let file_max = config.upload_max_bytes as u64;
    let limits = SizeLimit::new()
        .whole_stream(2 * json_max + MAX_FILES as u64 * file_max + FRAMING_BYTES)
        .for_field("operations", json_max)
        .for_field("map", json_max)
        .per_field(file_max);
    let mut parts = Multipart::with_constraints(
        body.into_data_stream(),
        boundary,
        Constraints::new().size_limit(limits),
    );
    let (mut operations, mut map, mut files) = (None, None, Vec::new());
    while let Some(mut part) = parts.next_field().await.map_err(|e| refusal(config, e))? {
        match (part.name(), part.file_name()) {
            (Some("operations"), _) => {
                operations = Some(part.bytes().await.map_err(|e| refusal(config, e))?);
            }
            (Some("map"), _) => map = Some(part.bytes().await.map_err(|e| refusal(config, e))?),
            (Some(name), Some(filename)) => {
                if files.len() == MAX_FILES {
                    return Err(refuse(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "PAYLOAD_TOO_LARGE",
                        &format!("a request carries at most {MAX_FILES} files"),
                    ));
                }
                let (name, filename) = (name.to_string(), filename.to_string());
                let content_type = part.content_type().map(ToString::to_string);
                let content = spool(config, &mut part).await?;
                files.push((
                    name,
                    UploadValue {
                        filename,
                        content_type,
                        content,
                    },
                ));
            }
            // Parts the spec does not name are skipped, as other servers do.
            _ => {}
        }
    }
    let operations = operations.ok_or_else(|| bad_request("the operations part is missing"))?;
    let mut request = single_request(&operations).map_err(|refusal| *refusal)?;
    let map = map.ok_or_else(|| bad_request("the map part is missing"))?;
    let mut map: HashMap<String, Vec<String>> = serde_json::from_slice(&map)
        .map_err(|_| bad_request("the map part is not a JSON object of path lists"))?;
    for (name, upload) in files {
        for path in map.remove(&name).unwrap_or_default() {
            let copy = upload.try_clone().map_err(|e| internal(&e))?;
            request.set_upload(&path, copy);
        }
    }
    if let Some(name) = map.keys().next() {
        return Err(bad_request(&format!(
            "the map names a file {name:?} the request does not carry"
        )));
    }
    Ok(request)
}

/// Writes a file part to a temporary file (removed once closed) and rewinds it.
async fn spool(config: &Config, part: &mut multer::Field<'_>) -> Result<std::fs::File, Response> {
    let file = tempfile::tempfile().map_err(|e| internal(&e))?;
    let mut file = tokio::fs::File::from_std(file);
    while let Some(chunk) = part.chunk().await.map_err(|e| refusal(config, e))? {
        file.write_all(&chunk).await.map_err(|e| internal(&e))?;
    }
    file.flush().await.map_err(|e| internal(&e))?;
    let mut file = file.into_std().await;
    file.rewind().map_err(|e| internal(&e))?;
    Ok(file)
}

fn refusal(config: &Config, e: multer::Error) -> Response {
    match e {
        multer::Error::FieldSizeExceeded { field_name, .. } => {
            let message = match field_name.as_deref() {
                Some(part @ ("operations" | "map")) => format!(
                    "the {part} part is larger than {} bytes (the request body limit)",
                    config.max_body_bytes
                ),
                _ => format!("a file is larger than {} bytes", config.upload_max_bytes),
            };
            refuse(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", &message)
        }
        multer::Error::StreamSizeExceeded { limit } => refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            &format!("the multipart request is larger than {limit} bytes"),
        ),
        e => bad_request(&format!("the multipart request is malformed: {e}")),
    }
}

fn bad_request(message: &str) -> Response {
    refuse(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
}

fn internal(e: &std::io::Error) -> Response {
    tracing::error!(error = %e, "cannot spool an upload");
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
        "the upload could not be stored",
    )
}
