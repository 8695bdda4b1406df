//! Cloudflare's Worker size limits, checked on the modules read.

use std::io::Write;

use super::{MAX_BUNDLE_GZIP_BYTES, MAX_BUNDLE_UNCOMPRESSED_BYTES};
use crate::error::ConfigError;
use crate::model::Module;

/// Rejects bundles above Cloudflare's limits: uncompressed first (cheap), then gzip size.
pub(super) fn check_size(dir: &str, modules: &[Module]) -> Result<(), ConfigError> {
    let total: u64 = modules.iter().map(|m| m.size).sum();
    if total > MAX_BUNDLE_UNCOMPRESSED_BYTES {
        return Err(ConfigError::bundle(
            dir,
            format!(
                "bundle is {total} bytes uncompressed, above the {MAX_BUNDLE_UNCOMPRESSED_BYTES} \
                 byte limit; shrink the bundle (minify, split out assets)"
            ),
        ));
    }
    // gzip never shrinks data by less than its small framing overhead; below 99% of the limit
    // the compressed size cannot exceed it, so skip compressing.
    if total <= MAX_BUNDLE_GZIP_BYTES / 100 * 99 {
        return Ok(());
    }
    let compressed = gzip_size(modules);
    if compressed > MAX_BUNDLE_GZIP_BYTES {
        return Err(ConfigError::bundle(
            dir,
            format!(
                "bundle is {compressed} bytes gzip-compressed, above Cloudflare's \
                 {MAX_BUNDLE_GZIP_BYTES} byte Worker size limit (error 10027); shrink the bundle"
            ),
        ));
    }
    Ok(())
}

/// Size of all module contents gzip-compressed as one stream.
pub fn gzip_size(modules: &[Module]) -> u64 {
    struct Counter(u64);
    impl Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut encoder = flate2::write::GzEncoder::new(Counter(0), flate2::Compression::default());
    for module in modules {
        // Writing to a counting sink cannot fail.
        let _ = encoder.write_all(&module.content);
    }
    match encoder.finish() {
        Ok(counter) => counter.0,
        Err(_) => u64::MAX,
    }
}
