//! Shared counters behind a mutex.

use std::sync::Mutex;

/// Runs `f` on the value behind `mutex`. A poisoned lock only means another thread panicked
/// mid-update of plain numbers (counters, a token bucket): the value is still usable, so it is
/// recovered instead of failing every later caller.
pub(crate) fn with_lock<T, R>(mutex: &Mutex<T>, f: impl FnOnce(&mut T) -> R) -> R {
    let mut guard = mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&mut guard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_still_hands_out_its_value() {
        let counter = std::sync::Arc::new(Mutex::new(1));
        let poisoner = std::sync::Arc::clone(&counter);
        let panicked = std::thread::spawn(move || {
            let _guard = poisoner.lock();
            panic!("poison the lock");
        })
        .join();
        assert!(panicked.is_err());
        assert!(counter.is_poisoned());
        assert_eq!(
            with_lock(&counter, |n| {
                *n += 1;
                *n
            }),
            2
        );
    }
}
