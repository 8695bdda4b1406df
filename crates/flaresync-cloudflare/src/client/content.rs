//! A script's content as Cloudflare holds it (`GET …/scripts/{s}/content/v2`): the module parts
//! of the script's latest version, each with its name, content type and bytes. The answer is
//! `multipart/form-data`, not an envelope; [`parse_parts`] reads it (pure).

use base64::Engine as _;
use reqwest::Method;
use serde::Deserialize;

use super::Client;
use super::request::{Request, decode_result};
use crate::error::Error;
use crate::types::RawEnvelope;

/// One module of a script's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentPart {
    pub name: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// A raw answer as the request core carries it: `{content_type, body}` (body in base64).
#[derive(Deserialize)]
struct RawContent {
    content_type: String,
    body: String,
}

pub(super) fn raw_envelope(content_type: &str, body: &[u8]) -> RawEnvelope {
    RawEnvelope {
        success: true,
        errors: Vec::new(),
        result: Some(serde_json::json!({
            "content_type": content_type,
            "body": base64::engine::general_purpose::STANDARD.encode(body),
        })),
        result_info: None,
    }
}

impl Client {
    /// The module parts of `script`'s latest version. A script that is not made of modules (a
    /// service-worker script) has no parts.
    ///
    /// # Errors
    ///
    /// The read failed, or the answer is not the multipart body Cloudflare sends.
    pub async fn script_content(&self, script: &str) -> Result<Vec<ContentPart>, Error> {
        let request = Request::new(
            Method::GET,
            self.account(&["workers", "scripts", script, "content", "v2"]),
        )
        .raw();
        let envelope = self.fetch(&request).await?;
        let raw: RawContent = decode_result(&request, envelope)?;
        let invalid = |detail: String| Error::Decode {
            method: "GET".to_owned(),
            path: request.path(),
            status: 200,
            detail,
        };
        let body = base64::engine::general_purpose::STANDARD
            .decode(raw.body)
            .map_err(|e| invalid(format!("the content does not decode ({e})")))?;
        if !raw.content_type.starts_with("multipart/form-data") {
            return Ok(Vec::new());
        }
        parse_parts(&raw.content_type, &body).map_err(invalid)
    }
}

/// The parts of a `multipart/form-data` body whose `Content-Type` header is `content_type`.
///
/// # Errors
///
/// No boundary in `content_type`, or a part without its header block or name.
pub fn parse_parts(content_type: &str, body: &[u8]) -> Result<Vec<ContentPart>, String> {
    let boundary = content_type
        .split(';')
        .find_map(|param| param.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty())
        .ok_or_else(|| format!("no multipart boundary in {content_type:?}"))?;
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut chunks = split(body, &delimiter).into_iter().skip(1);
    for chunk in chunks.by_ref() {
        if chunk.starts_with(b"--") {
            break; // the closing delimiter
        }
        let chunk = chunk.strip_prefix(b"\r\n").unwrap_or(chunk);
        let Some(end) = find(chunk, b"\r\n\r\n") else {
            return Err("a multipart part has no header block".to_owned());
        };
        let head = String::from_utf8_lossy(&chunk[..end]);
        let content = &chunk[end + 4..];
        let content = content.strip_suffix(b"\r\n").unwrap_or(content);
        let mut name = None;
        let mut part_type = String::from("application/octet-stream");
        for line in head.lines() {
            let (key, value) = line.split_once(':').unwrap_or((line, ""));
            match key.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => name = disposition_name(value),
                "content-type" => value.trim().clone_into(&mut part_type),
                _ => {}
            }
        }
        let name = name.ok_or_else(|| "a multipart part has no name".to_owned())?;
        parts.push(ContentPart {
            name,
            content_type: part_type,
            content: content.to_vec(),
        });
    }
    Ok(parts)
}

/// `name="…"` of a `Content-Disposition` value (`%22` back to `"`).
fn disposition_name(value: &str) -> Option<String> {
    value.split(';').find_map(|param| {
        let quoted = param.trim().strip_prefix("name=")?;
        Some(quoted.trim_matches('"').replace("%22", "\""))
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `body` cut at every occurrence of `delimiter` (the delimiters removed).
fn split<'a>(body: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(at) = find(rest, delimiter) {
        out.push(&rest[..at]);
        rest = &rest[at + delimiter.len()..];
    }
    out.push(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &str = "multipart/form-data; boundary=xyz";

    #[test]
    fn reads_each_part_with_its_name_type_and_bytes() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"index.js\"; filename=\"index.js\"\r\n\
Content-Type: application/javascript+module\r\n\r\nexport default {};\n\r\n--xyz\r\n\
Content-Disposition: form-data; name=\"banner.txt\"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--xyz--\r\n";
        let parts = parse_parts(TYPE, body).expect("parts");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "index.js");
        assert_eq!(parts[0].content_type, "application/javascript+module");
        assert_eq!(parts[0].content, b"export default {};\n");
        assert_eq!(parts[1].name, "banner.txt");
        assert_eq!(parts[1].content, b"hi");
    }

    #[test]
    fn content_holding_crlf_and_dashes_is_kept_whole() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"a.js\"\r\n\r\n-- x\r\n\r\ny\r\n--xyz--";
        let parts = parse_parts(TYPE, body).expect("parts");
        assert_eq!(parts[0].content, b"-- x\r\n\r\ny");
        assert_eq!(parts[0].content_type, "application/octet-stream");
    }

    #[test]
    fn a_body_without_boundary_or_names_is_an_error_not_a_panic() {
        assert!(parse_parts("multipart/form-data", b"").is_err());
        assert!(parse_parts(TYPE, b"--xyz\r\nno header end").is_err());
        assert!(parse_parts(TYPE, b"--xyz\r\nX: y\r\n\r\nbody\r\n--xyz--").is_err());
        assert_eq!(parse_parts(TYPE, b"").expect("no parts"), Vec::new());
    }
}
