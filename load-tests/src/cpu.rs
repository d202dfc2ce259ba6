//! Where the CPU time of a measured window went: the whole machine (`/proc/stat`), the server
//! (`/proc/<pid>/stat`) and this load generator (`/proc/self/stat`). On a shared 2-core machine a
//! throughput ratio alone cannot tell "the server is slow" from "the cores were busy with
//! something else"; CPU milliseconds per operation can.

use serde_json::{Value, json};

/// Kernel clock ticks per second (`USER_HZ`): 100 on every Linux this runs on.
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Clone, Copy)]
pub struct Snapshot {
    machine_busy: u64,
    machine_total: u64,
    server: Option<u64>,
    /// The server's argon2id and token-signing pool threads (see `POOLS`).
    pools: [Option<u64>; 2],
    load: Option<u64>,
}

/// Thread-name prefixes of the server's CPU pools (`app::cpu_pool`): their share of the
/// server's time is the work the baselines measure alone.
const POOLS: [(&str, &str); 2] = [("argon2-", "argon2_threads_ms"), ("token-signer-", "signer_threads_ms")];

/// Ticks of the process's threads whose name starts with `prefix`.
fn threads_ticks(pid: u32, prefix: &str) -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let path = task.path();
        let named = std::fs::read_to_string(path.join("comm")).is_ok_and(|name| name.starts_with(prefix));
        if named {
            total += process_ticks(&path.join("stat").to_string_lossy()).unwrap_or(0);
        }
    }
    Some(total)
}

/// utime + stime of a process, in ticks.
fn process_ticks(stat_path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // The command name (field 2) may hold spaces; fields after its closing parenthesis are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// (busy, total) ticks of all cores: busy leaves out idle and iowait.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4)?;
    Some((total - idle, total))
}

pub fn snapshot(server_pid: Option<u32>) -> Option<Snapshot> {
    let (machine_busy, machine_total) = machine_ticks()?;
    Some(Snapshot {
        machine_busy,
        machine_total,
        server: server_pid.and_then(|pid| process_ticks(&format!("/proc/{pid}/stat"))),
        pools: POOLS.map(|(prefix, _)| server_pid.and_then(|pid| threads_ticks(pid, prefix))),
        load: process_ticks("/proc/self/stat"),
    })
}

/// CPU milliseconds per operation between two snapshots, by whom.
pub fn per_operation(from: Option<Snapshot>, to: Option<Snapshot>, operations: usize) -> Value {
    let (Some(from), Some(to)) = (from, to) else { return Value::Null };
    if operations == 0 {
        return Value::Null;
    }
    let ms = |ticks: u64| ticks as f64 * 1000.0 / TICKS_PER_SECOND / operations as f64;
    let busy = to.machine_busy - from.machine_busy;
    let server = to.server.zip(from.server).map(|(b, a)| b - a);
    let load = to.load.zip(from.load).map(|(b, a)| b - a);
    let others = busy.saturating_sub(server.unwrap_or(0) + load.unwrap_or(0));
    let mut pools = serde_json::Map::new();
    for (i, (_, label)) in POOLS.iter().enumerate() {
        let ticks = to.pools[i].zip(from.pools[i]).map(|(b, a)| b.saturating_sub(a));
        pools.insert((*label).to_owned(), json!(ticks.map(ms)));
    }
    json!({
        "machine_busy_ms": ms(busy),
        "machine_busy_share": busy as f64 / (to.machine_total - from.machine_total).max(1) as f64,
        "server_ms": server.map(ms),
        "server_pools": pools,
        "load_generator_ms": load.map(ms),
        // PostgreSQL for the most part, plus whatever else ran on the machine.
        "others_ms": ms(others),
    })
}
