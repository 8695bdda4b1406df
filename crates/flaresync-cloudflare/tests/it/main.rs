//! Integration tests of the Cloudflare client over real HTTP: against flaresync-emulator
//! (`emulator`) and against a small in-test mock that observes requests from the server side
//! (`resilience`).

mod assets;
mod emulator;
mod first_upload;
#[expect(
    dead_code,
    reason = "the mock also serves tests/token_hygiene.rs, which uses other parts"
)]
mod mock;
mod resilience;
mod setup;
mod write_guard;
