//! This process's privileges and its threads' timer precision.

use std::num::NonZeroU64;

/// True when the process runs with an effective user id of 0.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// This process's soft `RLIMIT_MEMLOCK` in bytes (getrlimit(2)); `None` when unlimited.
pub fn locked_memory_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Memlock).current
}

/// Makes this thread's timed sleeps end on time: the default timer slack of 50 µs would
/// otherwise be added to every timeout (prctl(2), PR_SET_TIMERSLACK). A failure leaves the
/// default, which only makes sleeps less precise.
pub fn precise_timers() {
    // One nanosecond, the least there is (0 would mean "back to the default").
    let _ = rustix::thread::set_current_timer_slack(NonZeroU64::new(1));
}
