//! Tables that hold one binding (`ai = { binding = "AI" }`): `ai`, `browser`,
//! `version_metadata`, `images`, `media` and `stream`.

use super::BindingReader;
use super::shapes::other;
use crate::error::ConfigError;
use crate::model::BindingKind;

impl BindingReader<'_, '_, '_> {
    /// `ai`, `browser`, `version_metadata` and `images`, in that order.
    pub(super) fn read_platform(&mut self) -> Result<(), ConfigError> {
        self.single("ai", |cx, t| {
            Ok(BindingKind::Ai {
                staging: t.bool(cx, "staging")?,
            })
        })?;
        self.single("browser", |_, _| Ok(BindingKind::Browser))?;
        self.single("version_metadata", |_, _| Ok(BindingKind::VersionMetadata))?;
        self.single("images", |_, _| Ok(BindingKind::Images))
    }

    /// `media` and `stream`, carried as [`BindingKind::Other`] without fields.
    pub(super) fn read_media(&mut self) -> Result<(), ConfigError> {
        for key in ["media", "stream"] {
            self.single(key, |_, _| Ok(other(key, serde_json::Map::new())))?;
        }
        Ok(())
    }
}
