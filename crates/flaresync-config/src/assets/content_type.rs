//! The `Content-Type` wrangler gives an uploaded asset (`getContentType`, SPEC-2 §1.4): the type
//! npm `mime` 4.0.7 knows for the extension, `; charset=utf-8` added to `text/*`, and
//! `application/null` ("serve without a Content-Type") when the extension is unknown.
//!
//! `mime_types.txt` is mime 4.0.7's table (standard then other types, `ext type` per line, sorted
//! by extension), extracted from the `wrangler-dist/cli.js` bundle of wrangler 4.86.0.

use std::sync::OnceLock;

use super::hash::extension;

/// What the upload API reads as "no Content-Type".
pub const UNKNOWN_CONTENT_TYPE: &str = "application/null";

static TABLE: &str = include_str!("mime_types.txt");

fn table() -> &'static [(&'static str, &'static str)] {
    static PARSED: OnceLock<Vec<(&'static str, &'static str)>> = OnceLock::new();
    PARSED.get_or_init(|| {
        let mut entries: Vec<(&str, &str)> = TABLE
            .lines()
            .filter_map(|line| line.split_once(' '))
            .collect();
        entries.sort_unstable();
        entries
    })
}

/// The part content type of the asset at `path`.
pub fn asset_content_type(path: &str) -> String {
    let ext = extension(path).to_lowercase();
    let found = table()
        .binary_search_by(|(key, _)| (*key).cmp(ext.as_str()))
        .ok()
        .and_then(|index| table().get(index))
        .map(|(_, kind)| *kind)
        .filter(|_| !ext.is_empty());
    match found {
        Some(kind) if kind.starts_with("text/") && !kind.contains("charset") => {
            format!("{kind}; charset=utf-8")
        }
        Some(kind) => kind.to_owned(),
        None => UNKNOWN_CONTENT_TYPE.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_follow_mime_4_with_a_charset_on_text() {
        assert_eq!(
            asset_content_type("/index.html"),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            asset_content_type("/app.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(asset_content_type("/LOGO.PNG"), "image/png");
        assert_eq!(asset_content_type("/data.json"), "application/json");
        assert_eq!(asset_content_type("/font.woff2"), "font/woff2");
        assert_eq!(asset_content_type("/m.wasm"), "application/wasm");
    }

    #[test]
    fn unknown_or_missing_extensions_are_application_null() {
        for path in ["/README", "/.htaccess", "/a.", "/x.notatype", "/dir.d/file"] {
            assert_eq!(asset_content_type(path), UNKNOWN_CONTENT_TYPE, "{path}");
        }
    }

    #[test]
    fn the_table_is_complete() {
        assert!(table().len() > 1200, "{}", table().len());
    }
}
