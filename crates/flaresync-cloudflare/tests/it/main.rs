//! Integration tests of the Cloudflare client over real HTTP: against flaresync-emulator
//! (`emulator`) and against a small in-test mock that observes requests from the server side
//! (`resilience`).

mod emulator;
mod mock;
mod resilience;
