//! wrangler's asset hash (`hashFile`, SPEC-2 §1.2): BLAKE3 of the file's base64 text followed by
//! its extension, hex, first 32 characters.

use base64::Engine as _;

/// The hash wrangler 4.86 gives the file at `path` (any path form; only the extension counts)
/// with content `bytes`.
pub fn asset_hash(path: &str, bytes: &[u8]) -> String {
    let mut text = base64::engine::general_purpose::STANDARD.encode(bytes);
    text.push_str(extension(path));
    let hash = blake3::hash(text.as_bytes());
    let mut hex = hash.to_hex().to_string();
    hex.truncate(32);
    hex
}

/// Node's `path.extname` without the dot: the text after the last `.` of the last component,
/// empty when there is none or when that dot starts the name (`.htaccess`). Case is kept.
pub(crate) fn extension(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rfind('.') {
        Some(dot) if dot > 0 => &name[dot + 1..],
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_the_spec_vectors_computed_with_blake3_wasm() {
        assert_eq!(
            asset_hash("/index.html", b"hello world\n"),
            "5cb6ed6170630b0405c5094ac55058c2"
        );
        assert_eq!(
            asset_hash("/empty.txt", b""),
            "f9bc91770fa5e997cbd47fba833629fc"
        );
        assert_eq!(
            asset_hash("/style.css", b"body{}"),
            "622e1fa69535c6ed5e3a85e2ccaafd15"
        );
    }

    #[test]
    fn the_extension_is_nodes_extname() {
        assert_eq!(extension("/a/b.tar.gz"), "gz");
        assert_eq!(extension("/IMG.PNG"), "PNG");
        assert_eq!(extension("/.htaccess"), "");
        assert_eq!(extension("/README"), "");
        assert_eq!(extension("/dir.d/file"), "");
        assert_eq!(extension("/a."), "");
        assert_eq!(extension("/.config.json"), "json");
        // Node: extname("..a") is ".a", extname("..") and extname("...") give no extension.
        assert_eq!(extension("/..a"), "a");
        assert_eq!(extension("/.."), "");
        assert_eq!(extension("/..."), "");
    }

    #[test]
    fn same_bytes_under_two_extensions_hash_differently() {
        assert_ne!(asset_hash("/a.html", b"x"), asset_hash("/a.txt", b"x"));
        assert_eq!(asset_hash("/a.html", b"x"), asset_hash("/b/c.html", b"x"));
    }
}
