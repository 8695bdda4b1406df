//! An assets-only Worker (assets and no `main`): what wrangler refuses in one (SPEC-2 §1.5) and
//! what it silently leaves out of the upload.

use crate::assets::RunWorkerFirst;
use crate::model::{BindingKind, WorkerSpec};

/// Why `spec`, an assets-only Worker, cannot be deployed (wrangler's own refusals).
pub fn assets_only_refusal(spec: &WorkerSpec) -> Option<&'static str> {
    if spec
        .bindings
        .iter()
        .any(|binding| binding.kind == BindingKind::Assets)
    {
        return Some(
            "an assets-only Worker (no `main`) cannot have an assets binding; remove \
             `assets.binding`, or set `main` to the Worker script that uses it",
        );
    }
    let runs_first = match &spec.assets.as_ref()?.config.run_worker_first {
        None | Some(RunWorkerFirst::Always(false)) => false,
        Some(_) => true,
    };
    runs_first.then_some(
        "an assets-only Worker (no `main`) has no Worker to run first; remove \
         `assets.run_worker_first`, or set `main` to the Worker script",
    )
}

/// Names of the bindings an assets-only upload leaves out (wrangler sends none).
pub fn dropped_bindings(spec: &WorkerSpec) -> Vec<&str> {
    spec.bindings.iter().map(|b| b.name.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wrangler::parse_config;

    fn spec(assets: &str) -> WorkerSpec {
        let text = format!(
            "name = \"s\"\ncompatibility_date = \"2025-01-01\"\nassets = {{ directory = \"p\"{assets} }}\n"
        );
        parse_config("w.toml", text.as_bytes(), None)
            .expect("parses")
            .spec
    }

    #[test]
    fn plain_assets_only_is_deployable() {
        assert_eq!(assets_only_refusal(&spec("")), None);
        assert_eq!(
            assets_only_refusal(&spec(", run_worker_first = false")),
            None
        );
    }

    #[test]
    fn a_binding_or_run_worker_first_needs_a_worker() {
        let binding = assets_only_refusal(&spec(", binding = \"A\"")).expect("refused");
        assert!(binding.contains("assets binding"), "{binding}");
        for first in [
            ", run_worker_first = true",
            ", run_worker_first = [\"/api/*\"]",
        ] {
            let refusal = assets_only_refusal(&spec(first)).expect("refused");
            assert!(refusal.contains("run_worker_first"), "{refusal}");
        }
    }
}
