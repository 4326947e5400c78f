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
//! `cm-bench router [...]` measures the router alone instead (a 1,000-line batch
//! naming 20 containers in two regions; see `router.rs`) and writes
//! `benchmarks/router.md`, which the full report includes.

mod measure;
mod report;
mod router;

use std::path::PathBuf;

use cm_testkit::events::now_rfc3339;
use cm_testkit::function::Spec;
use cm_testkit::repo_root;
use cm_testkit::story::{Layout, Step, Story, ALL_FUNCTIONS};

use measure::{cold_starts, sizes, warm_invocations, Measured, Target, INVOKE_TIMEOUT};
use report::{Row, PYTHON_BASELINE};

const USAGE: &str = "usage: cm-bench [--runs N] [--warm N] [--functions a,b] [--no-baseline] \
     [--functions-dir DIR] [--python PATH] [--out FILE] [--json FILE] [--criterion DIR] \
     [--env KEY=VALUE]...";

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
    eprintln!("{USAGE}");
    std::process::exit(2);
}

/// The number `text` of option `name`, at least `min`; else the usage and exit 2.
fn count(text: &str, name: &str, min: usize) -> usize {
    text.parse()
        .ok()
        .filter(|n| *n >= min)
        .unwrap_or_else(|| usage(&format!("{name} must be an integer >= {min}")))
}

fn options() -> Options {
    let root = repo_root();
    let mut o = Options {
        runs: 20,
        warm: 1000,
        functions: ALL_FUNCTIONS.iter().map(|s| s.to_string()).collect(),
        python: Some(root.join(".venv/bin/python")),
        baseline: true,
        json: None,
        extra_env: Vec::new(),
        functions_dir: root.join("target/release"),
        out: None,
        criterion: root.join("target/criterion"),
        command: std::env::var("CM_BENCH_COMMAND")
            .unwrap_or_else(|_| std::env::args().collect::<Vec<_>>().join(" ")),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--runs" => o.runs = count(&value("--runs"), "--runs", 1),
            "--warm" => o.warm = count(&value("--warm"), "--warm", 10),
            "--functions" => {
                o.functions = value("--functions")
                    .split(',')
                    .map(str::to_string)
                    .collect();
                if let Some(bad) = o
                    .functions
                    .iter()
                    .find(|f| !ALL_FUNCTIONS.contains(&f.as_str()))
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

/// What to measure: each chosen function's bootstrap with its typical event, and
/// after the trigger the Python baseline with the same event.
async fn targets(o: &Options, story: &mut Story) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    for name in &o.functions {
        let event = story
            .typical_event(name)
            .await
            .map_err(|e| format!("no event for {name}: {e}"))?;
        let deployed = story
            .function_env(name)
            .map_err(|e| format!("no environment for {name}: {e}"))?;
        let env = || deployed.iter().cloned().chain(o.extra_env.iter().cloned());
        let binary = o.functions_dir.join(name);
        if !binary.is_file() {
            return Err(format!(
                "{} not found (build it: cargo build --release -p {name})",
                binary.display()
            ));
        }
        targets.push(Target {
            name: name.clone(),
            function: name.clone(),
            spec: Spec::new(name, &binary)
                .envs(env())
                .timeouts(INVOKE_TIMEOUT, INVOKE_TIMEOUT),
            event: event.clone(),
            binary: Some(binary),
        });
        if let (true, "dns-query-trigger", Some(python)) = (o.baseline, name.as_str(), &o.python) {
            let script = repo_root().join("benchmarks/python/bootstrap.py");
            targets.push(Target {
                name: PYTHON_BASELINE.into(),
                function: name.clone(),
                spec: Spec::new(PYTHON_BASELINE, python)
                    .args([script.to_string_lossy().into_owned()])
                    .envs(env())
                    .timeouts(INVOKE_TIMEOUT, INVOKE_TIMEOUT),
                event,
                binary: None,
            });
        }
    }
    Ok(targets)
}

async fn run(o: &Options) -> Result<(), String> {
    let started = now_rfc3339();
    let logs = std::env::temp_dir().join(format!("cm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&logs).map_err(|e| format!("create {}: {e}", logs.display()))?;
    // template.yaml deployed with a game protocol, so that the presence probe is
    // deployed too: each function measured with its deployed environment.
    let mut story = Story::setup_with(
        &Layout::All,
        &[("GameProtocol", "minecraft-java")],
        Box::new(|_: &Step| {}),
    )
    .await
    .map_err(|e| format!("deploying template.yaml into the emulator failed: {e}"))?;
    println!(
        "cm-bench: emulator at {}, functions from {}, {} cold runs, {} warm events; logs in {}",
        story.emulator().endpoint(),
        o.functions_dir.display(),
        o.runs,
        o.warm,
        logs.display()
    );
    let mut targets = targets(o, &mut story).await?;

    let mut rows = Vec::new();
    let mut failed = false;
    for target in &mut targets {
        // The event again, just before its target is measured: the targets measured
        // before may have changed the group (the watchdog's alarm stops it, and the
        // presence probe and the ECS sync need its InService instance).
        target.event = story
            .typical_event(&target.function)
            .await
            .map_err(|e| format!("no event for {}: {e}", target.function))?;
        let target = &*target;
        let mut m = Measured::default();
        if let Some(binary) = &target.binary {
            sizes(binary, o.python.as_deref(), &logs, &mut m);
        }
        let measured = cold_starts(target, o.runs, &logs, &mut m)
            .and_then(|()| warm_invocations(target, o.warm, &logs, &mut m));
        if let Err(e) = measured {
            eprintln!("cm-bench: {e}");
            failed = true;
        }
        println!("{}", report::summary_line(&target.name, &m));
        rows.push(Row {
            name: target.name.clone(),
            m,
        });
    }
    if failed {
        return Err(format!(
            "a function failed; no report written (logs kept in {})",
            logs.display()
        ));
    }
    let _ = std::fs::remove_dir_all(&logs);
    if let Some(path) = &o.json {
        std::fs::write(path, report::json(&rows).to_string())
            .map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    let text = report::report(o, &rows, &started);
    match &o.out {
        Some(path) => {
            std::fs::write(path, &text).map_err(|e| format!("write {}: {e}", path.display()))?;
            println!("cm-bench: wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("router") {
        if let Err(e) = router::run(std::env::args().skip(2)).await {
            eprintln!("cm-bench router: {e}");
            std::process::exit(1);
        }
        return;
    }
    let o = options();
    if let Err(e) = run(&o).await {
        eprintln!("cm-bench: {e}");
        std::process::exit(1);
    }
}
