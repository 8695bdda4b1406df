//! Bindings that send data out: `send_email`, `pipelines` and `logfwdr`.

use super::BindingReader;
use super::shapes::{Items, fields, other};
use crate::error::ConfigError;
use crate::model::BindingKind;

impl BindingReader<'_, '_, '_> {
    /// `send_email`; a binding with `allowed_sender_addresses` (no model field) is carried as
    /// [`BindingKind::Other`].
    pub(super) fn read_send_email(&mut self) -> Result<(), ConfigError> {
        self.items(Items::new("send_email").named_by("name"), |cx, s, _| {
            let destination_address = s.str(cx, "destination_address")?;
            let allowed_destination_addresses = s.str_list(cx, "allowed_destination_addresses")?;
            let Some(senders) = s.str_list(cx, "allowed_sender_addresses")? else {
                return Ok(BindingKind::SendEmail {
                    destination_address,
                    allowed_destination_addresses,
                });
            };
            let wire = fields([
                ("destination_address", destination_address.map(Into::into)),
                (
                    "allowed_destination_addresses",
                    allowed_destination_addresses.map(Into::into),
                ),
                ("allowed_sender_addresses", Some(senders.into())),
            ]);
            Ok(other("send_email", wire))
        })
    }

    /// `pipelines`: `pipeline`, or the older `stream`.
    pub(super) fn read_pipelines(&mut self) -> Result<(), ConfigError> {
        self.items(Items::new("pipelines"), |cx, p, _| {
            let pipeline = match p.str(cx, "pipeline")? {
                Some(pipeline) => pipeline,
                None => p.req_nonempty(cx, "stream", "name the pipeline (`pipeline = \"...\"`)")?,
            };
            Ok(other(
                "pipelines",
                fields([("pipeline", Some(pipeline.into()))]),
            ))
        })
    }

    /// `logfwdr.bindings`. `logfwdr` is `@inheritable` in wrangler, unlike the other binding
    /// tables.
    pub(super) fn read_logfwdr(&mut self) -> Result<(), ConfigError> {
        let items = Items::new("bindings")
            .named_by("name")
            .silent(&[])
            .inside("logfwdr", &[])
            .inheritable();
        self.items(items, |cx, b, _| {
            let destination = b.req_nonempty(cx, "destination", "set the destination")?;
            let wire = fields([("destination", Some(destination.into()))]);
            Ok(other("logfwdr", wire))
        })
    }
}
