//! The CPU time the server under test spends per request, beside its throughput.
//!
//! Why: the bench shares two CPUs between the server and the load generator, so req/s moves by
//! up to ±20 % between runs of the same build. The server's own CPU time per request moves far
//! less, so it is what a change to the request path is judged by (docs/performance.md).
//!
//! The figure is the server process's user + system time (with its direct children's: a gunicorn
//! master serves from a worker) over a phase, divided by the phase's requests. `Instance::spawn`
//! names the process to watch; `load::run` samples it at the start and end of each phase.
//!
//! With PostgreSQL the database does much of a request's work in its own processes, on the same
//! two CPUs: the cluster's postmaster and its backends (its direct children) are watched too, and
//! their time per request is reported beside the server's, so a slow operation shows on which
//! side of the socket its time goes (issue #29).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The pid of the server under test, 0 when none runs.
static WATCHED: AtomicU32 = AtomicU32::new(0);

/// The pid of the database's postmaster, 0 when the database is in the server's process.
static DATABASE: AtomicU32 = AtomicU32::new(0);

/// Linux reports process times in USER_HZ ticks, 100 per second on every architecture it runs
/// the bench on.
const TICKS_PER_SECOND: u64 = 100;

/// From now on, phases report the CPU time of `pid` (`None`: of nothing).
pub(crate) fn watch(pid: Option<u32>) {
    WATCHED.store(pid.unwrap_or(0), Ordering::Relaxed);
}

/// From now on, phases also report the CPU time of the database cluster whose postmaster is
/// `pid` (`None`: the database runs in the server, as SQLite does).
pub(crate) fn watch_database(pid: Option<u32>) {
    DATABASE.store(pid.unwrap_or(0), Ordering::Relaxed);
}

/// The watched server's CPU time so far, if a server is watched and /proc can tell.
pub(crate) fn server_time() -> Option<Duration> {
    time_of(&WATCHED)
}

/// The watched database cluster's CPU time so far (postmaster and backends).
pub(crate) fn database_time() -> Option<Duration> {
    time_of(&DATABASE)
}

fn time_of(watched: &AtomicU32) -> Option<Duration> {
    let pid = watched.load(Ordering::Relaxed);
    if pid == 0 {
        return None;
    }
    let total = with_children(pid, ticks)?;
    Some(Duration::from_millis(total * 1000 / TICKS_PER_SECOND))
}

/// `measure(pid)` plus `measure` of each of its direct children (a gunicorn master serves from
/// a worker process; roster and node have none); `None` when `pid` itself cannot be measured.
pub(crate) fn with_children(pid: u32, measure: fn(u32) -> Option<u64>) -> Option<u64> {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let children: u64 = children
        .split_whitespace()
        .filter_map(|child| measure(child.parse().ok()?))
        .sum();
    Some(measure(pid)? + children)
}

/// utime + stime of `pid`, from /proc/PID/stat (fields 14 and 15; the command name, field 2,
/// may hold spaces, so the count starts after its closing parenthesis).
fn ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_ticks(&stat)
}

fn parse_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_and_system_ticks_past_a_name_with_spaces() {
        let stat = "4242 (roster serve) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 567 0 0 20 0";
        assert_eq!(parse_ticks(stat), Some(1234 + 567));
    }

    #[test]
    fn this_process_has_spent_some_time() {
        watch(Some(std::process::id()));
        let mut spin = 0u64;
        for i in 0..50_000_000u64 {
            spin = spin.wrapping_add(i ^ (spin >> 3));
        }
        std::hint::black_box(spin);
        let spent = server_time();
        watch(None);
        assert!(spent.is_some_and(|time| time > Duration::ZERO));
        assert_eq!(server_time(), None);
    }
}
