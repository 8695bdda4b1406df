//! Integration tests of flaresync-plan: snapshot cases and properties.

mod cases;
mod props;
mod support;
