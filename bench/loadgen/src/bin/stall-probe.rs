//! How long does this machine take a core away from a running thread?
//!
//! The latency figures of `bench/run.sh` are read against the bare server's at the same rate;
//! this probe says where that floor comes from. It does no I/O and needs nothing but a core: one
//! thread reads the monotonic clock in a tight loop for `--seconds` and records every gap between
//! two readings longer than `--threshold-us`. A loop that reads the clock every few tens of
//! nanoseconds cannot itself be slow for milliseconds, so a long gap is time during which the
//! thread did not run: another thread of the machine took the core (the benchmark pins the
//! probe with `taskset` to a core nothing else is pinned to), an interrupt, or the hypervisor
//! descheduling the virtual CPU. `/proc/stat`'s steal column, read before and after, says how
//! much of it the hypervisor admits to.
//!
//! Output, one line of `key=value`: the gaps longer than 0.1, 1, 5 and 10 ms, the longest, the
//! time lost in all gaps as a share of the run, and the steal share over the run.

use anyhow::{Context, Result};
use clap::Parser;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Gaps shorter than this are not counted (the loop's own jitter, cache misses).
    #[arg(long, default_value_t = 100)]
    threshold_us: u64,
}

/// Steal and total jiffies of all CPUs, from the first line of /proc/stat.
fn cpu_steal() -> Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .context("empty /proc/stat")?
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    Ok((fields.get(7).copied().unwrap_or(0), fields.iter().sum()))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let run = Duration::from_secs_f64(args.seconds);
    let threshold = Duration::from_micros(args.threshold_us);
    let (steal0, total0) = cpu_steal()?;
    let mut gaps: Vec<Duration> = Vec::new();
    let start = Instant::now();
    let mut last = start;
    loop {
        let now = Instant::now();
        let gap = now - last;
        if gap > threshold {
            gaps.push(gap);
        }
        last = now;
        if now - start >= run {
            break;
        }
    }
    let elapsed = last - start;
    let (steal1, total1) = cpu_steal()?;
    let over = |ms: f64| gaps.iter().filter(|g| g.as_secs_f64() * 1e3 > ms).count();
    let lost: Duration = gaps.iter().sum();
    let max = gaps.iter().max().copied().unwrap_or_default();
    let steal = (steal1 - steal0) as f64 / (total1 - total0).max(1) as f64;
    println!(
        "seconds={:.1} gaps_over_0.1ms={} over_1ms={} over_5ms={} over_10ms={} max_ms={:.2} lost_pct={:.2} steal_pct={:.2}",
        elapsed.as_secs_f64(),
        over(0.1),
        over(1.0),
        over(5.0),
        over(10.0),
        max.as_secs_f64() * 1e3,
        100.0 * lost.as_secs_f64() / elapsed.as_secs_f64(),
        100.0 * steal
    );
    Ok(())
}
