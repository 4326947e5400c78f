//! The Markdown report (what BENCHMARKS.md holds) and the JSON summary.

use std::path::Path;

use cm_testkit::process::Spawn;
use cm_testkit::repo_root;
use serde_json::{json, Value};

use crate::measure::{percentile, sorted, Measured};
use crate::Options;

/// The name the Python baseline's row has.
pub const PYTHON_BASELINE: &str = "python-boto3-trigger";

/// The targets the functions are held to (BENCHMARKS.md says which are met).
const COLD_RATIO_TARGET: f64 = 1.0 / 25.0;
const RSS_TARGET_MB: f64 = 20.0;
const ZIP_TARGET_MB: f64 = 4.0;
const DECODE_10K_TARGET_MS: f64 = 10.0;

/// What `program args` prints (its standard output, else its standard error), or
/// "unknown".
fn command_output(program: &str, args: &[&str]) -> String {
    Spawn::new(program)
        .args(args)
        .run()
        .ok()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text).trim().to_string()
        })
        .unwrap_or_else(|| "unknown".into())
}

pub fn machine(python: Option<&Path>) -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let mut rows = vec![
        (
            "CPU".to_string(),
            format!("{cpu} ({cores} cores available)"),
        ),
        ("Memory".to_string(), memory),
        ("OS".to_string(), format!("{os}, Linux {kernel}")),
        ("Rust".to_string(), command_output("rustc", &["-V"])),
    ];
    if let Some(python) = python {
        let version = command_output(
            &python.to_string_lossy(),
            &[
                "-c",
                "import sys, boto3, botocore; print(sys.version.split()[0], 'boto3', boto3.__version__, 'botocore', botocore.__version__)",
            ],
        );
        rows.push(("Python baseline".to_string(), format!("Python {version}")));
    }
    rows
}

/// Criterion's estimates for the trigger's decode + filter benchmark, in ms.
fn criterion_results(dir: &Path) -> Vec<(usize, Option<(f64, f64)>)> {
    [10usize, 1_000, 10_000]
        .into_iter()
        .map(|lines| {
            let file = dir.join(format!("decode_filter/{lines}/new/estimates.json"));
            let estimate = std::fs::read_to_string(file)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| {
                    Some((
                        v["median"]["point_estimate"].as_f64()? / 1e6,
                        v["mean"]["point_estimate"].as_f64()? / 1e6,
                    ))
                });
            (lines, estimate)
        })
        .collect()
}

fn mb(bytes: Option<u64>) -> String {
    bytes
        .map(|b| format!("{:.2} MB", b as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "-".into())
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

pub struct Row {
    pub name: String,
    pub m: Measured,
}

/// The Markdown report of a run started at `started`.
pub fn report(o: &Options, rows: &[Row], started: &str) -> String {
    let mut out = String::new();
    let line = |out: &mut String, s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(&mut out, "# Benchmarks".into());
    line(&mut out, String::new());
    line(
        &mut out,
        "Written by `scripts/bench` (`benchmarks/src/main.rs`); run it again to \
         refresh this file. Every number below comes from the run described here."
            .into(),
    );
    line(&mut out, String::new());
    line(&mut out, format!("- Date: {started}"));
    line(&mut out, format!("- Command: `{}`", o.command));
    for (k, v) in machine(o.python.as_deref()) {
        line(&mut out, format!("- {k}: {v}"));
    }
    line(
        &mut out,
        format!(
            "- Method: each function's release `bootstrap` ({}) runs behind a local Lambda \
             Runtime API server (`tests/src/runtime_api.rs`) against the local AWS emulator \
             (moto, 127.0.0.1), with the environment template.yaml gives it. Cold start: a \
             new process per run with the event already queued, spawn -> response received, \
             {} runs. Warm: one process, {} events one after another, latency (queued -> \
             response received) of the 10th to the last. Peak RSS: the process's VmHWM. Zip: \
             the bootstrap alone, deflated (level 9).{}{}",
            o.functions_dir.display(),
            o.runs,
            o.warm,
            if rows.iter().any(|r| r.name == "presence-probe") {
                " The presence probe's tick finds the group's instance InService and asks a \
                 Minecraft Java status responder on 127.0.0.1 (Server List Ping; \
                 `cm_testkit::game_servers::StatusResponder`), which answers 1 player: one \
                 status exchange and one PutMetricData per tick (the first tick also tags \
                 the instance and tells that it is playable)."
            } else {
                ""
            },
            if o.extra_env.is_empty() {
                String::new()
            } else {
                format!(
                    " Extra environment: {}.",
                    o.extra_env
                        .iter()
                        .map(|(k, v)| format!("`{k}={v}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ),
    );
    line(&mut out, String::new());
    line(&mut out, "## Functions".into());
    line(&mut out, String::new());
    line(
        &mut out,
        "| function | cold start median | cold p95 | warm median | warm p95 | peak RSS | bootstrap | zip |"
            .into(),
    );
    line(&mut out, "|---|---:|---:|---:|---:|---:|---:|---:|".into());
    for row in rows {
        let cold = sorted(row.m.cold_ms.clone());
        let warm = sorted(row.m.warm_ms.clone());
        line(
            &mut out,
            format!(
                "| {} | {:.1} ms | {:.1} ms | {:.2} ms | {:.2} ms | {:.1} MB | {} | {} |",
                row.name,
                percentile(&cold, 50.0),
                percentile(&cold, 95.0),
                percentile(&warm, 50.0),
                percentile(&warm, 95.0),
                row.m.peak_rss_mb,
                mb(row.m.bootstrap_bytes),
                mb(row.m.zip_bytes),
            ),
        );
    }
    line(&mut out, String::new());

    let median_cold = |name: &str| {
        rows.iter()
            .find(|r| r.name == name)
            .map(|r| percentile(&sorted(r.m.cold_ms.clone()), 50.0))
    };
    line(&mut out, "## Targets".into());
    line(&mut out, String::new());
    line(&mut out, "| target | measured | |".into());
    line(&mut out, "|---|---|---|".into());
    if let (Some(rust), Some(python)) = (
        median_cold("dns-query-trigger"),
        median_cold(PYTHON_BASELINE),
    ) {
        let ratio = rust / python;
        line(
            &mut out,
            format!(
                "| cold start <= 1/25 of the Python baseline (median) | {:.1} ms / {:.1} ms = 1/{:.0} | {} |",
                rust,
                python,
                1.0 / ratio,
                verdict(ratio <= COLD_RATIO_TARGET)
            ),
        );
    }
    for row in rows.iter().filter(|r| r.name != PYTHON_BASELINE) {
        line(
            &mut out,
            format!(
                "| {} peak RSS <= {RSS_TARGET_MB} MB | {:.1} MB | {} |",
                row.name,
                row.m.peak_rss_mb,
                verdict(row.m.peak_rss_mb <= RSS_TARGET_MB)
            ),
        );
    }
    for row in rows.iter().filter(|r| r.m.zip_bytes.is_some()) {
        let zip = row.m.zip_bytes.unwrap_or(0) as f64 / 1024.0 / 1024.0;
        line(
            &mut out,
            format!(
                "| {} zipped bootstrap <= {ZIP_TARGET_MB} MB | {:.2} MB | {} |",
                row.name,
                zip,
                verdict(zip <= ZIP_TARGET_MB)
            ),
        );
    }
    let criterion = criterion_results(&o.criterion);
    if let Some((_, Some((median, _)))) = criterion.iter().find(|(n, _)| *n == 10_000) {
        line(
            &mut out,
            format!(
                "| 10,000 query-log lines decoded + filtered <= {DECODE_10K_TARGET_MS} ms | {:.2} ms | {} |",
                median,
                verdict(*median <= DECODE_10K_TARGET_MS)
            ),
        );
    }
    line(&mut out, String::new());

    line(&mut out, "## Trigger decode + filter (Criterion)".into());
    line(&mut out, String::new());
    line(
        &mut out,
        "`cargo bench -p dns-query-trigger --bench decode_filter`: base64 -> gunzip -> JSON \
         -> lines counted and matched, on one subscription event."
            .into(),
    );
    line(&mut out, String::new());
    line(&mut out, "| lines | median | mean |".into());
    line(&mut out, "|---:|---:|---:|".into());
    for (lines, estimate) in criterion {
        match estimate {
            Some((median, mean)) => line(
                &mut out,
                format!("| {lines} | {median:.3} ms | {mean:.3} ms |"),
            ),
            None => line(&mut out, format!("| {lines} | not run | |")),
        }
    }
    // The router's cost for a batch naming 20 containers, written by `cm-bench router`.
    if let Ok(text) = std::fs::read_to_string(repo_root().join("benchmarks/router.md")) {
        line(&mut out, String::new());
        out.push_str(&text);
    }
    // The release profiles' comparison, written by scripts/bench-profiles.
    if let Ok(text) = std::fs::read_to_string(repo_root().join("benchmarks/profiles.md")) {
        line(&mut out, String::new());
        out.push_str(&text);
    }
    line(&mut out, String::new());
    line(
        &mut out,
        "What the figures mean, and why a target is missed where it is: `benchmarks/NOTES.md`."
            .into(),
    );
    out
}

/// One line of the console summary.
pub fn summary_line(name: &str, m: &Measured) -> String {
    let (cold, warm) = (sorted(m.cold_ms.clone()), sorted(m.warm_ms.clone()));
    format!(
        "{:<22} cold median {:>7.1} ms p95 {:>7.1} ms | warm median {:>6.2} ms p95 {:>6.2} ms | peak RSS {:>5.1} MB | bootstrap {} zip {}",
        name,
        percentile(&cold, 50.0),
        percentile(&cold, 95.0),
        percentile(&warm, 50.0),
        percentile(&warm, 95.0),
        m.peak_rss_mb,
        mb(m.bootstrap_bytes),
        mb(m.zip_bytes)
    )
}

/// The figures of every row, for `--json` (scripts/bench-profiles reads them).
pub fn json(rows: &[Row]) -> Value {
    rows.iter()
        .map(|r| {
            let (cold, warm) = (sorted(r.m.cold_ms.clone()), sorted(r.m.warm_ms.clone()));
            json!({
                "function": r.name,
                "cold_median_ms": percentile(&cold, 50.0),
                "cold_p95_ms": percentile(&cold, 95.0),
                "warm_median_ms": percentile(&warm, 50.0),
                "warm_p95_ms": percentile(&warm, 95.0),
                "peak_rss_mb": r.m.peak_rss_mb,
                "bootstrap_bytes": r.m.bootstrap_bytes,
                "zip_bytes": r.m.zip_bytes,
            })
        })
        .collect()
}
