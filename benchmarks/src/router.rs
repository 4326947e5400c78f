//! `cm-bench router`: the router's (dns-query-trigger's) cost for one 1,000-line
//! query-log batch naming 20 containers, 10 in us-east-1 and 10 in eu-west-1:
//!
//! - in process: decode + parse + decide, from Criterion's results of
//!   `cargo bench -p dns-query-trigger --bench router` (run it first);
//! - the AWS calls one invocation makes: the real binary behind a Lambda Runtime API
//!   server against the local AWS emulator, with the registry (20 TXT records) in a
//!   hosted zone and the 20 groups in their regions, counted by the emulator; first
//!   invocation (the registry read) and warm ones (the registry held);
//! - the warm invocations' latency against the emulator (the emulator answering 22
//!   calls is most of it).
//!
//! It writes a Markdown section (default `benchmarks/router.md`), which the full
//! report (`scripts/bench`) includes in BENCHMARKS.md.
//!
//! ```text
//! cm-bench router [--binary PATH] [--criterion DIR] [--warm N] [--out FILE]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_cloudwatch::Client as CloudWatch;
use cm_core::aws::PerRegion;
use cm_core::registry::{self, Entry};
use cm_testkit::emulator::{create_zone, keep_alive_containers, put_txt};
use cm_testkit::events::{container_lookups, now_rfc3339, query_log_event};
use cm_testkit::{asg, repo_root, Emulator, Function};
use serde_json::Value;

use crate::measure::{percentile, sorted};
use crate::report::machine;

const USAGE: &str =
    "usage: cm-bench router [--binary PATH] [--criterion DIR] [--warm N] [--out FILE]";

const DOMAIN: &str = "example.com";
const LINES: usize = 1_000;
const CONTAINERS: usize = 20;
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

struct Options {
    binary: PathBuf,
    criterion: PathBuf,
    warm: usize,
    out: PathBuf,
    command: String,
}

fn usage(problem: &str) -> ! {
    eprintln!("cm-bench router: {problem}");
    eprintln!("{USAGE}");
    std::process::exit(2);
}

fn options(args: impl Iterator<Item = String>) -> Options {
    let root = repo_root();
    let mut o = Options {
        binary: root.join("target/debug/dns-query-trigger"),
        criterion: root.join("target/criterion"),
        warm: 50,
        out: root.join("benchmarks/router.md"),
        command: std::env::var("CM_BENCH_COMMAND")
            .unwrap_or_else(|_| std::env::args().collect::<Vec<_>>().join(" ")),
    };
    let mut args = args;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--binary" => o.binary = PathBuf::from(value("--binary")),
            "--criterion" => o.criterion = PathBuf::from(value("--criterion")),
            "--out" => o.out = PathBuf::from(value("--out")),
            "--warm" => {
                o.warm = value("--warm")
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .unwrap_or_else(|| usage("--warm must be an integer >= 1"))
            }
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    o
}

fn entry(i: usize) -> Entry {
    Entry {
        name: format!("game{i:02}"),
        region: REGIONS[i % 2].to_string(),
        asg: format!("cm-asg-bench-game{i:02}"),
        metric: format!("cm-bench-game{i:02}"),
        threshold: 20.0,
    }
}

/// The batch: 1,000 lookups, each of one of the 20 containers, as resolvers write
/// them (any case, with or without the trailing dot); the same as the Criterion
/// benchmark's.
fn event() -> Value {
    query_log_event(
        "DATA_MESSAGE",
        &container_lookups(LINES, CONTAINERS, DOMAIN),
    )
}

/// The calls the emulator saw, by `service:Operation`; Route 53's REST listing
/// (`route53:GET /2013-04-01/hostedzone/<id>/rrset`) as `route53:ListResourceRecordSets`.
fn calls(emulator: &Emulator) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (op, n) in emulator.calls() {
        let op = if op.starts_with("route53:GET") && op.ends_with("/rrset") {
            "route53:ListResourceRecordSets".to_string()
        } else {
            op
        };
        *out.entry(op).or_default() += n;
    }
    out
}

/// Criterion's (median, mean) of `router/<id>/1000`, in ms.
fn criterion(dir: &Path, id: &str) -> Option<(f64, f64)> {
    let file = dir.join(format!("router/{id}/{LINES}/new/estimates.json"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
    Some((
        v["median"]["point_estimate"].as_f64()? / 1e6,
        v["mean"]["point_estimate"].as_f64()? / 1e6,
    ))
}

struct Measured {
    first: BTreeMap<String, u64>,
    /// Calls per warm invocation (a mean: the total over the invocations).
    warm: BTreeMap<String, f64>,
    /// Per region: (groups scaled, keep-alive points) from the first outcome.
    per_region: BTreeMap<String, (usize, usize)>,
    /// Keep-alive metrics found in each region's CloudWatch afterwards.
    metrics: BTreeMap<String, usize>,
    warm_ms: Vec<f64>,
    lines_matched: u64,
}

async fn measure(o: &Options) -> Result<Measured, String> {
    if !o.binary.is_file() {
        return Err(format!(
            "{} not found (build it: cargo build -p dns-query-trigger)",
            o.binary.display()
        ));
    }
    let emulator = Emulator::start();
    let sdk = emulator.sdk_config().await;
    let route53 = aws_sdk_route53::Client::new(&sdk);
    let zone = create_zone(&route53, DOMAIN, "0.0.0.0").await?;
    let autoscaling = PerRegion::new(&sdk, AutoScaling::new);
    let cloudwatch = PerRegion::new(&sdk, CloudWatch::new);
    for i in 0..CONTAINERS {
        let e = entry(i);
        let name = registry::record_name(&e.name, DOMAIN);
        put_txt(&route53, &zone, &name, &registry::format_value(&e)).await?;
        let region = e.region.as_str();
        asg::create_group(
            &autoscaling.client(region),
            &e.asg,
            &format!("{region}a"),
            0,
        )
        .await?;
    }
    let vars: Vec<(String, String)> = [
        ("DOMAIN_NAME", DOMAIN),
        ("HOSTED_ZONE_ID", zone.as_str()),
        ("METRIC_NAMESPACE", "ContainerManager"),
        ("METRIC_NAME", "DnsQueries"),
        ("REGISTRY_TTL_SECONDS", "60"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let function = Function::start(&o.binary, &emulator, &vars);
    let event = event();

    emulator.reset_counts();
    let outcome = function.invoke(event.clone());
    let response = outcome
        .response()
        .ok_or_else(|| format!("the first invocation failed: {:?}", outcome.error()))?
        .clone();
    let first = calls(&emulator);
    let mut per_region: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for action in response["actions"].as_array().into_iter().flatten() {
        let region = action["region"].as_str().unwrap_or("?").to_string();
        let counts = per_region.entry(region).or_default();
        match action["call"].as_str() {
            Some("UpdateAutoScalingGroup") => counts.0 += 1,
            Some("PutMetricData") => counts.1 += 1,
            _ => {}
        }
    }
    for i in 0..CONTAINERS {
        let e = entry(i);
        let desired = asg::desired(&autoscaling.client(&e.region), &e.asg).await;
        if desired != 1 {
            return Err(format!("{} in {} is at {desired}, not 1", e.asg, e.region));
        }
    }
    let mut metrics = BTreeMap::new();
    for region in REGIONS {
        let kept = keep_alive_containers(&cloudwatch.client(region)).await?;
        metrics.insert(region.to_string(), kept.len());
    }

    emulator.reset_counts();
    let mut warm_ms = Vec::with_capacity(o.warm);
    for _ in 0..o.warm {
        let started = Instant::now();
        let outcome = function.invoke(event.clone());
        warm_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        if outcome.response().is_none() {
            return Err(format!("a warm invocation failed: {:?}", outcome.error()));
        }
    }
    let warm = calls(&emulator)
        .into_iter()
        .map(|(op, n)| (op, n as f64 / o.warm as f64))
        .collect();
    Ok(Measured {
        first,
        warm,
        per_region,
        metrics,
        warm_ms,
        lines_matched: response["lines_matched"].as_u64().unwrap_or(0),
    })
}

/// The Markdown section.
fn section(o: &Options, m: &Measured, started: &str) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line("## Router: a 1,000-line batch naming 20 containers in two regions".into());
    line(String::new());
    line(format!(
        "Written by `cm-bench router` on {started} (`{}`), after `cargo bench -p \
         dns-query-trigger --bench router`.",
        o.command
    ));
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    for (k, v) in machine(None) {
        if k == "CPU" {
            line(format!(
                "{k}: {v}; load average (1 min) at the end: {load}."
            ));
        }
    }
    line(String::new());
    line(format!(
        "The batch: {LINES} query-log lines, each a lookup (A) of one of {CONTAINERS} \
         containers `gameNN.{DOMAIN}` (any case, with or without the trailing dot), 10 of \
         them in us-east-1 and 10 in eu-west-1; the registry holds the {CONTAINERS}."
    ));
    line(String::new());
    line(
        "In process (Criterion, `functions/dns-query-trigger/benches/router.rs`; the bench \
         profile, which has the deployed release settings; the registry held):"
            .into(),
    );
    line(String::new());
    line("| step | median | mean |".into());
    line("|---|---:|---:|".into());
    for (id, what) in [
        (
            "decode_parse_decide",
            "base64 -> gunzip -> JSON -> labels counted -> per-region plan",
        ),
        (
            "decide",
            "the per-region plan alone, from the labels counted",
        ),
    ] {
        match criterion(&o.criterion, id) {
            Some((median, mean)) => {
                line(format!("| {what} | {median:.3} ms | {mean:.3} ms |"));
            }
            None => line(format!("| {what} | not run | |")),
        }
    }
    line(String::new());
    line(format!(
        "AWS calls per invocation: the real binary (`{}`; the calls do not depend on the \
         build profile) behind a Lambda Runtime API server against the local AWS emulator, counted by the \
         emulator ({} lines matched); warm: the mean of {} invocations within the \
         registry's TTL.",
        o.binary
            .strip_prefix(repo_root())
            .unwrap_or(&o.binary)
            .display(),
        m.lines_matched,
        o.warm
    ));
    line(String::new());
    line("| call | first invocation (registry read) | warm (registry held) |".into());
    line("|---|---:|---:|".into());
    let ops: std::collections::BTreeSet<&String> = m.first.keys().chain(m.warm.keys()).collect();
    // A mean that is a whole number is written as one.
    let mean = |n: f64| {
        if n.fract() == 0.0 {
            format!("{n:.0}")
        } else {
            format!("{n:.2}")
        }
    };
    for op in ops {
        line(format!(
            "| {op} | {} | {} |",
            m.first.get(op).copied().unwrap_or(0),
            mean(m.warm.get(op).copied().unwrap_or(0.0))
        ));
    }
    line(format!(
        "| total | {} | {} |",
        m.first.values().sum::<u64>(),
        mean(m.warm.values().sum::<f64>())
    ));
    line(String::new());
    let regions: Vec<String> = m
        .per_region
        .iter()
        .map(|(r, (groups, points))| {
            format!(
                "{r}: {groups} groups set to 1 and {points} keep-alive points in one \
                 PutMetricData ({} metrics in its CloudWatch after)",
                m.metrics.get(r).copied().unwrap_or(0)
            )
        })
        .collect();
    line(format!(
        "Per region (the invocation's actions): {}. One round per region touched.",
        regions.join("; ")
    ));
    let warm = sorted(m.warm_ms.clone());
    line(String::new());
    line(format!(
        "Warm invocation against the emulator (queued -> answer, {} runs; mostly the \
         emulator, in Python on the same cores, answering the calls): median {:.1} ms, \
         p95 {:.1} ms.",
        warm.len(),
        percentile(&warm, 50.0),
        percentile(&warm, 95.0)
    ));
    out
}

/// `cm-bench router ...`: measures, prints and writes the section.
pub async fn run(args: impl Iterator<Item = String>) -> Result<(), String> {
    let o = options(args);
    let started = now_rfc3339();
    let m = measure(&o).await?;
    let text = section(&o, &m, &started);
    print!("{text}");
    std::fs::write(&o.out, &text).map_err(|e| format!("write {}: {e}", o.out.display()))?;
    println!("cm-bench router: wrote {}", o.out.display());
    Ok(())
}
