//! The benchmarks: cold start, warm latency, peak memory and size of each function's
//! release `bootstrap`, side by side with a reference Python 3 + boto3 version of the
//! dns-query trigger, all behind the same Lambda Runtime API server against the same
//! local AWS emulator. Writes the results (with the machine, the command and the
//! date) to a Markdown file.
//!
//! Run it with `./scripts/bench`, which builds the release binaries and the
//! Criterion benchmark first. Options:
//!
//! ```text
//! cm-bench [--runs N] [--warm N] [--functions a,b] [--no-baseline]
//!          [--functions-dir DIR] [--python PATH] [--out FILE] [--json FILE]
//!          [--criterion DIR] [--env KEY=VALUE]...
//! ```
//!
//! `--env` adds a variable to every measured process (Rust and Python alike), e.g.
//! `SSL_CERT_FILE` to load one CA bundle as on Lambda's provided.al2023 instead of a
//! whole certificate directory.
//!
//! ```text
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use cm_testkit::repo_root;
use cm_testkit::runtime_api::{Outcome, RuntimeApi};
use cm_testkit::story::{now_rfc3339, Step, Story};
use serde_json::Value;

const FUNCTIONS: [&str; 4] = [
    "dns-query-trigger",
    "asg-ecs-sync",
    "dns-record-updater",
    "watchdog-scale-down",
];
const PYTHON_BASELINE: &str = "python-boto3-trigger";
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Targets from the benchmarks' issue.
const COLD_RATIO_TARGET: f64 = 1.0 / 25.0;
const RSS_TARGET_MB: f64 = 20.0;
const ZIP_TARGET_MB: f64 = 4.0;
const DECODE_10K_TARGET_MS: f64 = 10.0;

struct Options {
    runs: usize,
    warm: usize,
    functions: Vec<String>,
    python: Option<PathBuf>,
    baseline: bool,
    json: Option<PathBuf>,
    extra_env: Vec<(String, String)>,
    functions_dir: PathBuf,
    out: Option<PathBuf>,
    criterion: PathBuf,
    command: String,
}

fn usage(problem: &str) -> ! {
    eprintln!("cm-bench: {problem}");
    eprintln!(
        "usage: cm-bench [--runs N] [--warm N] [--functions a,b] [--no-baseline] \
         [--functions-dir DIR] [--python PATH] [--out FILE] [--json FILE] [--criterion DIR] \
         [--env KEY=VALUE]..."
    );
    std::process::exit(2);
}

fn options() -> Options {
    let root = repo_root();
    let mut o = Options {
        runs: 20,
        warm: 1000,
        functions: FUNCTIONS.iter().map(|s| s.to_string()).collect(),
        python: Some(root.join(".venv/bin/python")),
        baseline: true,
        json: None,
        extra_env: Vec::new(),
        functions_dir: root.join("target/release"),
        out: None,
        criterion: root.join("target/criterion"),
        command: std::env::var("CM_BENCH_COMMAND").unwrap_or_else(|_| {
            std::env::args()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        }),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--runs" => {
                o.runs = value("--runs")
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .unwrap_or_else(|| usage("--runs must be a positive integer"))
            }
            "--warm" => {
                o.warm = value("--warm")
                    .parse()
                    .ok()
                    .filter(|n| *n >= 10)
                    .unwrap_or_else(|| usage("--warm must be an integer >= 10"))
            }
            "--functions" => {
                o.functions = value("--functions")
                    .split(',')
                    .map(str::to_string)
                    .collect();
                if let Some(bad) = o
                    .functions
                    .iter()
                    .find(|f| !FUNCTIONS.contains(&f.as_str()))
                {
                    usage(&format!("unknown function {bad:?}"));
                }
            }
            "--no-baseline" => o.baseline = false,
            "--json" => o.json = Some(PathBuf::from(value("--json"))),
            "--env" => {
                let pair = value("--env");
                let (k, v) = pair
                    .split_once('=')
                    .unwrap_or_else(|| usage("--env takes KEY=VALUE"));
                o.extra_env.push((k.to_string(), v.to_string()));
            }
            "--python" => o.python = Some(PathBuf::from(value("--python"))),
            "--functions-dir" => o.functions_dir = PathBuf::from(value("--functions-dir")),
            "--out" => o.out = Some(PathBuf::from(value("--out"))),
            "--criterion" => o.criterion = PathBuf::from(value("--criterion")),
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    o
}

/// Milliseconds of a sorted sample at a percentile (nearest rank).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
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

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// How to start one function's process.
struct Target {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    event: Value,
}

impl Target {
    fn spawn(&self, runtime: &RuntimeApi, log: &Path) -> Child {
        // A bootstrap binary, or the Python baseline: `python bootstrap.py`.
        runtime.spawn_with_args(&self.program, &self.args, &self.name, &self.env, Some(log))
    }
}

#[derive(Default)]
struct Measured {
    cold_ms: Vec<f64>,
    warm_ms: Vec<f64>,
    peak_rss_mb: f64,
    bootstrap_bytes: Option<u64>,
    zip_bytes: Option<u64>,
}

fn check(outcome: &Option<Outcome>, target: &Target, log: &Path) -> Result<(), String> {
    match outcome {
        Some(Outcome::Response(_)) => Ok(()),
        Some(Outcome::Error(e)) => Err(format!(
            "{} answered an error: {e} (log: {})",
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
fn cold_starts(target: &Target, runs: usize, logs: &Path, m: &mut Measured) -> Result<(), String> {
    for run in 0..runs {
        let runtime = RuntimeApi::start(INVOKE_TIMEOUT);
        let id = runtime.push(target.event.clone());
        let log = logs.join(format!("{}-cold-{run}.log", target.name));
        let started = Instant::now();
        let child = target.spawn(&runtime, &log);
        let answer = runtime.wait_for_invocation(&id, INVOKE_TIMEOUT);
        let rss = peak_rss_mb(child.id());
        stop(child);
        let outcome = answer.as_ref().map(|a| a.outcome.clone());
        check(&outcome, target, &log)?;
        if let Some(answer) = answer {
            m.cold_ms
                .push((answer.answered_at - started).as_secs_f64() * 1e3);
        }
        m.peak_rss_mb = m.peak_rss_mb.max(rss.unwrap_or(0.0));
    }
    Ok(())
}

/// Warm invocations: one process, `count` events one after another; the latency of
/// the 10th to the last (queued -> response arrived).
fn warm_invocations(
    target: &Target,
    count: usize,
    logs: &Path,
    m: &mut Measured,
) -> Result<(), String> {
    let runtime = RuntimeApi::start(INVOKE_TIMEOUT);
    let log = logs.join(format!("{}-warm.log", target.name));
    let child = target.spawn(&runtime, &log);
    let mut result = Ok(());
    for i in 1..=count {
        let queued = Instant::now();
        let id = runtime.push(target.event.clone());
        let answer = runtime.wait_for_invocation(&id, INVOKE_TIMEOUT);
        let outcome = answer.as_ref().map(|a| a.outcome.clone());
        if let Err(e) = check(&outcome, target, &log) {
            result = Err(e);
            break;
        }
        if let (Some(answer), true) = (answer, i >= 10) {
            m.warm_ms
                .push((answer.answered_at - queued).as_secs_f64() * 1e3);
        }
    }
    m.peak_rss_mb = m.peak_rss_mb.max(peak_rss_mb(child.id()).unwrap_or(0.0));
    stop(child);
    result
}

/// Size of the binary and of a deflated zip holding it as `bootstrap` (what `sam
/// build` / `cargo lambda build --output-format zip` upload).
fn sizes(binary: &Path, python: Option<&Path>, logs: &Path, m: &mut Measured) {
    m.bootstrap_bytes = std::fs::metadata(binary).ok().map(|md| md.len());
    let Some(python) = python else { return };
    let zip = logs.join(format!(
        "{}.zip",
        binary
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("bootstrap")
    ));
    let made = Command::new(python)
        .args([
            "-c",
            "import sys, zipfile\n\
             with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:\n\
             \x20   z.write(sys.argv[2], 'bootstrap')",
        ])
        .arg(&zip)
        .arg(binary)
        .status();
    if made.map(|s| s.success()).unwrap_or(false) {
        m.zip_bytes = std::fs::metadata(&zip).ok().map(|md| md.len());
    }
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
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

fn machine(python: Option<&Path>) -> Vec<(String, String)> {
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

struct Row {
    name: String,
    m: Measured,
}

fn report(o: &Options, rows: &[Row], started: &str) -> String {
    let mut out = String::new();
    let line = |out: &mut String, s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(&mut out, "# Benchmarks".into());
    line(&mut out, String::new());
    line(
        &mut out,
        "Written by `scripts/bench` (`tests/src/bin/cm-bench.rs`); run it again to \
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
             the bootstrap alone, deflated (level 9).{}",
            o.functions_dir.display(),
            o.runs,
            o.warm,
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

fn quiet_step(_: &Step) {}

fn with_extra(mut env: Vec<(String, String)>, extra: &[(String, String)]) -> Vec<(String, String)> {
    env.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    env.extend(extra.iter().cloned());
    env
}

#[tokio::main]
async fn main() {
    let o = options();
    let started = now_rfc3339();
    let logs = std::env::temp_dir().join(format!("cm-bench-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&logs) {
        eprintln!("cm-bench: create {}: {e}", logs.display());
        std::process::exit(1);
    }
    let mut story = match Story::setup(Box::new(quiet_step)).await {
        Ok(story) => story,
        Err(e) => {
            eprintln!("cm-bench: creating the container's resources failed: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "cm-bench: emulator at {}, functions from {}, {} cold runs, {} warm events; logs in {}",
        story.emulator.endpoint(),
        o.functions_dir.display(),
        o.runs,
        o.warm,
        logs.display()
    );

    let mut targets = Vec::new();
    for name in &o.functions {
        let event = match story.typical_event(name).await {
            Ok(event) => event,
            Err(e) => {
                eprintln!("cm-bench: no event for {name}: {e}");
                std::process::exit(1);
            }
        };
        targets.push(Target {
            name: name.clone(),
            program: o.functions_dir.join(name),
            args: Vec::new(),
            env: with_extra(story.function_env(name), &o.extra_env),
            event,
        });
        if name == "dns-query-trigger" && o.baseline {
            if let Some(python) = &o.python {
                targets.push(Target {
                    name: PYTHON_BASELINE.into(),
                    program: python.clone(),
                    args: vec![repo_root()
                        .join("benchmarks/python/bootstrap.py")
                        .to_string_lossy()
                        .into_owned()],
                    env: with_extra(story.function_env(name), &o.extra_env),
                    event: targets[targets.len() - 1].event.clone(),
                });
            }
        }
    }

    let mut rows = Vec::new();
    let mut failed = false;
    for target in &targets {
        let mut m = Measured::default();
        if target.args.is_empty() {
            if !target.program.is_file() {
                eprintln!(
                    "cm-bench: {} not found (build it: cargo build --release -p {})",
                    target.program.display(),
                    target.name
                );
                std::process::exit(1);
            }
            sizes(&target.program, o.python.as_deref(), &logs, &mut m);
        }
        let measured = cold_starts(target, o.runs, &logs, &mut m)
            .and_then(|()| warm_invocations(target, o.warm, &logs, &mut m));
        if let Err(e) = measured {
            eprintln!("cm-bench: {e}");
            failed = true;
        }
        let (cold, warm) = (sorted(m.cold_ms.clone()), sorted(m.warm_ms.clone()));
        println!(
            "{:<22} cold median {:>7.1} ms p95 {:>7.1} ms | warm median {:>6.2} ms p95 {:>6.2} ms | peak RSS {:>5.1} MB | bootstrap {} zip {}",
            target.name,
            percentile(&cold, 50.0),
            percentile(&cold, 95.0),
            percentile(&warm, 50.0),
            percentile(&warm, 95.0),
            m.peak_rss_mb,
            mb(m.bootstrap_bytes),
            mb(m.zip_bytes)
        );
        rows.push(Row {
            name: target.name.clone(),
            m,
        });
    }
    if failed {
        eprintln!(
            "cm-bench: a function failed; no report written (logs kept in {})",
            logs.display()
        );
        std::process::exit(1);
    }
    let _ = std::fs::remove_dir_all(&logs);
    if let Some(path) = &o.json {
        let json: Vec<Value> = rows
            .iter()
            .map(|r| {
                let (cold, warm) = (sorted(r.m.cold_ms.clone()), sorted(r.m.warm_ms.clone()));
                serde_json::json!({
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
            .collect();
        if let Err(e) = std::fs::write(path, Value::from(json).to_string()) {
            eprintln!("cm-bench: write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
    let text = report(&o, &rows, &started);
    match &o.out {
        Some(path) => match std::fs::write(path, &text) {
            Ok(()) => println!("cm-bench: wrote {}", path.display()),
            Err(e) => {
                eprintln!("cm-bench: write {}: {e}", path.display());
                std::process::exit(1);
            }
        },
        None => print!("{text}"),
    }
}
