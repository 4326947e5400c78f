//! The offline demo: Container Manager on the local AWS emulator, each function as
//! its real binary behind a Lambda Runtime API server. Prints a timeline and exits
//! non-zero if any step's effect is missing.
//!
//! Run it with `./scripts/demo` (which builds the binaries first).

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_cloudwatch::Client as CloudWatch;
use cm_testkit::{repo_root, Emulator, Outcome, RuntimeApi};
use serde_json::Value;

const CONTAINER: &str = "mc";
const DOMAIN: &str = "mc.example.com";
const GROUP: &str = "cm-asg-demo-mc";
const NAMESPACE: &str = "ContainerManager";
const METRIC: &str = "DnsQueries";

struct Timeline {
    start: Instant,
    failures: Vec<String>,
    steps: usize,
}

impl Timeline {
    fn step(&mut self, function: &str, what: &str, change: &str, ok: bool) {
        self.steps += 1;
        let mark = if ok { "ok  " } else { "FAIL" };
        println!(
            "{mark} +{:>6.2}s  {:<20} {:<46} {}",
            self.start.elapsed().as_secs_f64(),
            function,
            what,
            change
        );
        if !ok {
            self.failures.push(format!("{function}: {what}"));
        }
    }
}

fn binary(name: &str) -> PathBuf {
    let dir = std::env::var_os("CM_FUNCTIONS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/debug"));
    dir.join(name)
}

fn sample(path: &str) -> Value {
    let file = repo_root().join("events").join(path);
    let text =
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", file.display()))
}

async fn desired(autoscaling: &AutoScaling) -> i32 {
    cm_testkit::asg::desired(autoscaling, GROUP).await
}

async fn metric_present(cloudwatch: &CloudWatch) -> bool {
    cloudwatch
        .list_metrics()
        .namespace(NAMESPACE)
        .metric_name(METRIC)
        .send()
        .await
        .map(|o| !o.metrics().is_empty())
        .unwrap_or(false)
}

struct Function {
    child: Child,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::main]
async fn main() {
    let start = Instant::now();
    println!(
        "Container Manager demo: container {CONTAINER:?} at {DOMAIN}, on the local AWS emulator\n"
    );
    let emulator = Emulator::start();
    let sdk = emulator.sdk_config().await;
    let autoscaling = AutoScaling::new(&sdk);
    let cloudwatch = CloudWatch::new(&sdk);
    let mut timeline = Timeline {
        start,
        failures: Vec::new(),
        steps: 0,
    };

    // The container's resources (what template.yaml creates in AWS).
    let created = cm_testkit::asg::create_group(&autoscaling, GROUP, "us-east-1a", 0).await;
    timeline.step(
        "emulator",
        &format!("started on {}", emulator.endpoint()),
        &format!("ASG {GROUP} min 0 / max 1 / desired 0"),
        created.is_ok(),
    );
    if let Err(e) = created {
        eprintln!("creating the resources failed: {e}");
        std::process::exit(1);
    }

    let log_dir = std::env::temp_dir().join(format!("cm-demo-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&log_dir);
    let runtime = RuntimeApi::start(Duration::from_secs(30));
    let mut env = emulator.aws_env();
    env.extend(
        [
            ("DOMAIN_NAME", DOMAIN),
            ("ASG_NAME", GROUP),
            ("METRIC_NAMESPACE", NAMESPACE),
            ("METRIC_NAME", METRIC),
            ("METRIC_DIMENSIONS", r#"{"ContainerName":"mc"}"#),
            ("METRIC_THRESHOLD", "20"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let trigger = Function {
        child: runtime.spawn(
            &binary("dns-query-trigger"),
            "dns-query-trigger",
            &env,
            Some(&log_dir.join("dns-query-trigger.log")),
        ),
    };
    let wait = Duration::from_secs(60);

    let outcome = runtime.invoke(sample("dns-query-trigger/control-message.json"), wait);
    let ok = matches!(&outcome, Some(Outcome::Response(_))) && desired(&autoscaling).await == 0;
    timeline.step(
        "dns-query-trigger",
        "CloudWatch Logs CONTROL_MESSAGE",
        "nothing (as expected)",
        ok,
    );

    let outcome = runtime.invoke(sample("dns-query-trigger/query-log-other-names.json"), wait);
    let ok = outcome
        .as_ref()
        .and_then(Outcome::response)
        .is_some_and(|r| r["lines_matched"] == 0)
        && desired(&autoscaling).await == 0;
    timeline.step(
        "dns-query-trigger",
        "lookups of SRV/www/AAAA names only",
        "nothing (as expected)",
        ok,
    );

    let before = desired(&autoscaling).await;
    let outcome = runtime.invoke(sample("dns-query-trigger/query-log-match.json"), wait);
    let after = desired(&autoscaling).await;
    let metric = metric_present(&cloudwatch).await;
    let ok = outcome
        .as_ref()
        .and_then(Outcome::response)
        .is_some_and(|r| r["lines_matched"] == 1)
        && after == 1
        && metric;
    timeline.step(
        "dns-query-trigger",
        &format!("a player looks up {DOMAIN}"),
        &format!("ASG desired {before} -> {after}; {NAMESPACE}/{METRIC} put: {metric}"),
        ok,
    );

    let outcome = runtime.invoke(sample("dns-query-trigger/malformed-gzip.json"), wait);
    let ok = outcome
        .as_ref()
        .and_then(Outcome::error)
        .is_some_and(|e| e["errorType"] == "InvalidEvent")
        && desired(&autoscaling).await == 1;
    timeline.step(
        "dns-query-trigger",
        "a corrupt payload",
        "error InvalidEvent, nothing changed",
        ok,
    );
    drop(trigger);

    let calls = emulator.calls();
    println!(
        "\n{} steps, {} failed, {:.2}s; AWS calls seen by the emulator: {}",
        timeline.steps,
        timeline.failures.len(),
        start.elapsed().as_secs_f64(),
        {
            let mut c: Vec<String> = calls.iter().map(|(k, v)| format!("{k}={v}")).collect();
            c.sort();
            c.join(", ")
        }
    );
    println!("function logs: {}", log_dir.display());
    if !timeline.failures.is_empty() {
        for f in &timeline.failures {
            eprintln!("missing effect: {f}");
        }
        std::process::exit(1);
    }
}
