//! The process's own metrics in Prometheus' standard names (`process_resident_memory_bytes`,
//! `process_cpu_seconds_total`, `process_open_fds`, `process_max_fds`,
//! `process_start_time_seconds`), read from Linux's `/proc` at scrape time, and
//! `roster_build_info`. Parsing is pure and tested on fixed texts; on a system without `/proc`
//! the process metrics are left out rather than reported wrong.

use std::fmt::Write;

/// Linux reports process CPU times in clock ticks of `USER_HZ`, which is 100 on every
/// architecture Roster ships for (it is part of the kernel's userspace ABI).
const TICKS_PER_SECOND: f64 = 100.0;

/// What `/proc` says about this process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    pub resident_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

impl ProcessStats {
    /// Reads `/proc/self` now.
    pub fn read() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let stat = read("/proc/self/stat");
        let ticks = stat.as_deref().and_then(stat_ticks);
        let boot_time = read("/proc/stat").as_deref().and_then(boot_time_seconds);
        Self {
            resident_bytes: read("/proc/self/status")
                .as_deref()
                .and_then(resident_bytes),
            cpu_seconds: ticks.map(|t| (t.user + t.system) as f64 / TICKS_PER_SECOND),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|entries| entries.count() as u64),
            max_fds: read("/proc/self/limits")
                .as_deref()
                .and_then(max_open_files),
            start_time_seconds: ticks
                .zip(boot_time)
                .map(|(t, boot)| boot as f64 + t.start as f64 / TICKS_PER_SECOND),
        }
    }

    /// The Prometheus text of these values and of the build.
    pub fn render(&self, version: &str) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: Option<String>| {
            if let Some(value) = value {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
                );
            }
        };
        metric(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            self.resident_bytes.map(|v| v.to_string()),
        );
        metric(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            self.cpu_seconds.map(|v| v.to_string()),
        );
        metric(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            self.open_fds.map(|v| v.to_string()),
        );
        metric(
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            self.max_fds.map(|v| v.to_string()),
        );
        metric(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch in seconds.",
            self.start_time_seconds.map(|v| v.to_string()),
        );
        let _ = writeln!(
            out,
            "# HELP roster_build_info The running build: always 1, its version as a label.\n\
             # TYPE roster_build_info gauge\n\
             roster_build_info{{version=\"{}\"}} 1",
            version.replace('\\', "\\\\").replace('"', "\\\"")
        );
        out
    }
}

/// CPU and start times from `/proc/self/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ticks {
    user: u64,
    system: u64,
    start: u64,
}

/// `utime` (field 14), `stime` (15) and `starttime` (22) of `/proc/self/stat`. The command name
/// (field 2) is in parentheses and may hold spaces, so fields are counted after its last `)`.
fn stat_ticks(stat: &str) -> Option<Ticks> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name come field 3 (state) onwards: field N is at index N - 3.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse().ok();
    Some(Ticks {
        user: field(14)?,
        system: field(15)?,
        start: field(22)?,
    })
}

/// `VmRSS` of `/proc/self/status`, in bytes.
fn resident_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The soft limit of "Max open files" in `/proc/self/limits`.
fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `btime` of `/proc/stat`: when the system booted, in seconds since the Unix epoch.
fn boot_time_seconds(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "4242 (roster (serve) x) S 1 4242 4242 0 -1 4194560 2048 0 0 0 250 75 0 0 \
                    20 0 9 0 123456 1000000 5000 18446744073709551615";
        assert_eq!(
            stat_ticks(stat),
            Some(Ticks {
                user: 250,
                system: 75,
                start: 123456
            })
        );
        assert_eq!(stat_ticks("garbage"), None);
    }

    #[test]
    fn status_limits_and_boot_time() {
        assert_eq!(
            resident_bytes("Name:\troster\nVmRSS:\t   51200 kB\nVmSwap:\t0 kB\n"),
            Some(51200 * 1024)
        );
        assert_eq!(resident_bytes("Name:\troster\n"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024));
        assert_eq!(
            boot_time_seconds("cpu 1 2 3\nbtime 1764000000\n"),
            Some(1_764_000_000)
        );
    }

    #[test]
    fn renders_what_is_known_and_the_build() {
        let stats = ProcessStats {
            resident_bytes: Some(1024),
            cpu_seconds: Some(3.25),
            open_fds: Some(12),
            max_fds: None,
            start_time_seconds: Some(1_764_001_234.5),
        };
        let text = stats.render("1.2.3");
        assert!(
            text.contains("process_resident_memory_bytes 1024\n"),
            "{text}"
        );
        assert!(text.contains("process_cpu_seconds_total 3.25\n"), "{text}");
        assert!(text.contains("process_open_fds 12\n"), "{text}");
        assert!(!text.contains("process_max_fds"), "{text}");
        assert!(
            text.contains("process_start_time_seconds 1764001234.5\n"),
            "{text}"
        );
        assert!(
            text.contains("roster_build_info{version=\"1.2.3\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn this_process_has_memory_cpu_fds_and_a_start_time() {
        let stats = ProcessStats::read();
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        assert!(stats.resident_bytes.is_some_and(|b| b > 0));
        assert!(stats.cpu_seconds.is_some());
        assert!(stats.open_fds.is_some_and(|n| n >= 3));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = stats.start_time_seconds.unwrap();
        assert!(
            started <= now + 1.0 && started > now - 86_400.0 * 365.0,
            "{started}"
        );
    }
}
