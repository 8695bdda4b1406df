//! How the process uses the C allocator (glibc only; elsewhere these do nothing).
//!
//! glibc gives each thread that allocates while another holds the lock an arena of its own
//! (up to 8 per core), and memory freed in one arena is not reused by another: with tokio's
//! workers and blocking threads taking turns on a pass, a long-running `run` grew by a few
//! MiB a pass at 1,000 Workers (56.7 → 72.1 MiB over 10 passes) while its live heap stayed
//! flat. flaresync's work is paced by the network, not by allocator contention, so one arena
//! costs nothing measurable; and after each pass of `run` the memory the pass freed is handed
//! back to the OS, so the resident size follows what is live.

/// One malloc arena for the whole process. Call first thing in `main`, before any thread.
pub fn single_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// libgit2 keeps every small tree and commit it read in a process-wide cache of up to 256 MiB
/// by default: a long-running `run` reads new ones on every commit. 8 MiB holds the trees of
/// a pass; older ones are evicted. Call first thing in `main`, before any thread.
pub fn bound_git_cache() {
    // SAFETY: sets a libgit2 global; called before any other thread exists.
    if let Err(error) = unsafe { git2::opts::set_cache_max_size(8 * 1024 * 1024) } {
        eprintln!("warning: cannot bound libgit2's object cache: {error}");
    }
}

/// libgit2 re-hashes every object it reads (SHA-1 with collision detection) to check its id;
/// git itself does not on reads. An offline plan of a 1,000-Worker repository read 4,000
/// blobs and trees that way, 15% of its time. Objects of a corrupt repository still fail to
/// inflate or parse. Call first thing in `main`, before any thread.
pub fn skip_read_hash_checks() {
    git2::opts::strict_hash_verification(false);
}

/// Returns the heap's free pages to the OS (after a pass of `run`; takes a few milliseconds).
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
