//! The measurements of one target: cold starts, warm invocations, peak memory and
//! sizes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cm_testkit::function::Spec;
use cm_testkit::process::Spawn;
use cm_testkit::runtime_api::{Invocation, Outcome, RuntimeApi};
use serde_json::Value;

/// The deadline of each invocation, and how long an answer is waited for.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// The first warm invocations are left out of the latencies (the process's
/// connections and caches are still being set up).
const WARM_UP: usize = 9;

/// What is measured, and how to start it: a function's bootstrap, or the Python
/// baseline (`python bootstrap.py`).
pub struct Target {
    pub name: String,
    /// The function whose typical event the target gets (the baseline: the
    /// trigger's).
    pub function: String,
    pub spec: Spec,
    pub event: Value,
    /// The bootstrap binary, whose size is measured too (`None` for the baseline).
    pub binary: Option<PathBuf>,
}

#[derive(Default)]
pub struct Measured {
    pub cold_ms: Vec<f64>,
    pub warm_ms: Vec<f64>,
    pub peak_rss_mb: f64,
    pub bootstrap_bytes: Option<u64>,
    pub zip_bytes: Option<u64>,
}

/// Milliseconds of a sorted sample at a percentile (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// Peak resident set size (VmHWM) of a live process, in MB.
fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The answer, or an error naming the target, what went wrong and its log.
fn answered(answer: Option<Invocation>, target: &Target, log: &Path) -> Result<Invocation, String> {
    match answer {
        Some(
            answer @ Invocation {
                outcome: Outcome::Response(_),
                ..
            },
        ) => Ok(answer),
        Some(Invocation { outcome, .. }) => Err(format!(
            "{} answered an error: {outcome:?} (log: {})",
            target.name,
            log.display()
        )),
        None => Err(format!(
            "{} did not answer within {INVOKE_TIMEOUT:?} (log: {})",
            target.name,
            log.display()
        )),
    }
}

/// Cold starts: a new process per run, the event already queued; the time from the
/// spawn to the arrival of its response.
pub fn cold_starts(
    target: &Target,
    runs: usize,
    logs: &Path,
    m: &mut Measured,
) -> Result<(), String> {
    for run in 0..runs {
        let runtime = RuntimeApi::start(INVOKE_TIMEOUT);
        let id = runtime.push(target.event.clone());
        let log = logs.join(format!("{}-cold-{run}.log", target.name));
        let spec = target.spec.clone().log(&log);
        let started = Instant::now();
        let function = spec.start_on(runtime)?;
        let answer = function.wait_for_invocation(&id);
        let rss = peak_rss_mb(function.pid());
        drop(function);
        let answer = answered(answer, target, &log)?;
        m.cold_ms
            .push((answer.answered_at - started).as_secs_f64() * 1e3);
        m.peak_rss_mb = m.peak_rss_mb.max(rss.unwrap_or(0.0));
    }
    Ok(())
}

/// Warm invocations: one process, `count` events one after another; the latency of
/// the 10th to the last (queued -> response arrived).
pub fn warm_invocations(
    target: &Target,
    count: usize,
    logs: &Path,
    m: &mut Measured,
) -> Result<(), String> {
    let log = logs.join(format!("{}-warm.log", target.name));
    let function = target.spec.clone().log(&log).start()?;
    for i in 1..=count {
        let queued = Instant::now();
        let id = function.push(target.event.clone());
        let answer = answered(function.wait_for_invocation(&id), target, &log)?;
        if i > WARM_UP {
            m.warm_ms
                .push((answer.answered_at - queued).as_secs_f64() * 1e3);
        }
    }
    m.peak_rss_mb = m
        .peak_rss_mb
        .max(peak_rss_mb(function.pid()).unwrap_or(0.0));
    Ok(())
}

/// Size of the binary and of a deflated zip holding it as `bootstrap` (what `sam
/// build` / `cargo lambda build --output-format zip` upload).
pub fn sizes(binary: &Path, python: Option<&Path>, logs: &Path, m: &mut Measured) {
    m.bootstrap_bytes = std::fs::metadata(binary).ok().map(|md| md.len());
    let Some(python) = python else { return };
    let zip = logs.join(format!(
        "{}.zip",
        binary
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("bootstrap")
    ));
    let made = Spawn::new(python)
        .args([
            "-c",
            "import sys, zipfile\n\
             with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:\n\
             \x20   z.write(sys.argv[2], 'bootstrap')",
        ])
        .args([zip.as_os_str(), binary.as_os_str()])
        .run();
    if made.is_ok_and(|o| o.status.success()) {
        m.zip_bytes = std::fs::metadata(&zip).ok().map(|md| md.len());
    }
}
