//! What to upload of a Worker's static assets, decided from the upload session's answer (SPEC-2
//! §1.3), as wrangler 4.86's `syncAssets` decides it: nothing when every bucket is empty (the
//! session token is then the completion token), else each bucket's files, refusing a hash the
//! manifest does not hold. Pure: the client opens the session and sends the buckets.

use flaresync_config::AssetFile;

/// Why an assets upload cannot go on (each of wrangler's fatal checks).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssetsProblem {
    /// The session call answered without a `result`.
    #[error(
        "the assets upload session answered without a result (a known Cloudflare hiccup, \
         workers-sdk#9465); the next pass tries again"
    )]
    NoSession,
    /// Nothing to upload, and no token to attach the assets with.
    #[error(
        "the assets upload session needs no upload but gave no completion token; the next pass \
         tries again"
    )]
    NoToken,
    /// Cloudflare asked for a file the manifest does not have.
    #[error(
        "the assets upload session asked for hash {hash}, which no file of the manifest has; \
         the next pass opens a new session"
    )]
    UnknownHash { hash: String },
    /// Every bucket was sent but none answered with the completion token.
    #[error(
        "every asset was uploaded but Cloudflare gave no completion token; the next pass tries \
         again (already uploaded files are not sent twice)"
    )]
    NoCompletionToken,
}

/// What the session's answer asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum UploadPlan<'a> {
    /// Cloudflare holds every file: attach with the session token as it is.
    Complete,
    /// Send these buckets (one request each, the session token as bearer).
    Buckets(Vec<Vec<&'a AssetFile>>),
}

impl UploadPlan<'_> {
    /// Files to send.
    pub fn file_count(&self) -> usize {
        match self {
            UploadPlan::Complete => 0,
            UploadPlan::Buckets(buckets) => buckets.iter().map(Vec::len).sum(),
        }
    }
}

/// The plan for `files` given the session's `buckets` and whether it carried a token.
///
/// # Errors
/// [`AssetsProblem::NoToken`] when nothing is missing but there is no token, and
/// [`AssetsProblem::UnknownHash`] for a requested hash no file has.
pub fn plan_upload<'a>(
    files: &'a [AssetFile],
    buckets: &[Vec<String>],
    has_token: bool,
) -> Result<UploadPlan<'a>, AssetsProblem> {
    if buckets.iter().all(Vec::is_empty) {
        return if has_token {
            Ok(UploadPlan::Complete)
        } else {
            Err(AssetsProblem::NoToken)
        };
    }
    let mut planned = Vec::with_capacity(buckets.len());
    for bucket in buckets.iter().filter(|bucket| !bucket.is_empty()) {
        let mut entries = Vec::with_capacity(bucket.len());
        for hash in bucket {
            // Identical content under one extension shares a hash: one part is enough.
            let file = files
                .iter()
                .find(|file| &file.hash == hash)
                .ok_or_else(|| AssetsProblem::UnknownHash { hash: hash.clone() })?;
            entries.push(file);
        }
        planned.push(entries);
    }
    Ok(UploadPlan::Buckets(planned))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn file(path: &str, hash: &str) -> AssetFile {
        AssetFile {
            path: path.into(),
            hash: hash.into(),
            size: 1,
            content: Arc::from(&b"x"[..]),
        }
    }

    fn hashes<'a>(plan: &UploadPlan<'a>) -> Vec<Vec<&'a str>> {
        match plan {
            UploadPlan::Complete => Vec::new(),
            UploadPlan::Buckets(buckets) => buckets
                .iter()
                .map(|bucket| bucket.iter().map(|f| f.hash.as_str()).collect())
                .collect(),
        }
    }

    #[test]
    fn nothing_missing_means_the_session_token_completes() {
        let files = [file("/a.html", "aa")];
        assert_eq!(plan_upload(&files, &[], true), Ok(UploadPlan::Complete));
        assert_eq!(
            plan_upload(&files, &[vec![], vec![]], true),
            Ok(UploadPlan::Complete)
        );
        assert_eq!(plan_upload(&files, &[], false), Err(AssetsProblem::NoToken));
    }

    #[test]
    fn only_the_requested_buckets_are_sent() {
        let files = [
            file("/a.html", "aa"),
            file("/b.css", "bb"),
            file("/c.js", "cc"),
        ];
        let plan = plan_upload(
            &files,
            &[vec!["cc".into()], vec![], vec!["aa".into()]],
            true,
        )
        .expect("plans");
        assert_eq!(hashes(&plan), [vec!["cc"], vec!["aa"]]);
        assert_eq!(plan.file_count(), 2);
    }

    #[test]
    fn a_hash_outside_the_manifest_is_refused() {
        let files = [file("/a.html", "aa")];
        assert_eq!(
            plan_upload(&files, &[vec!["zz".into()]], true),
            Err(AssetsProblem::UnknownHash { hash: "zz".into() })
        );
    }
}
