//! Integration tests of flaresync-git against real repositories built by the fixture scripts.

mod fixture;
mod merges;
mod remote;
mod reverts;
mod shared;
