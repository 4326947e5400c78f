//! One function process behind its own Lambda Runtime API server, run the way
//! Lambda runs it: only the environment it is given (plus the Lambda variables),
//! events handed out by the Runtime API, the answer collected from it. The process
//! is killed when the [`Function`] is dropped.
//!
//! [`Spec`] says what to start (a function's `bootstrap` binary, or any program
//! that speaks the Runtime API, such as the benchmarks' Python baseline) and how
//! long to wait; [`Function::start`] is the short way for a function's own tests.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::process::{Process, Sink, Spawn};
use crate::runtime_api::{Invocation, Outcome, RuntimeApi};
use crate::{repo_root, Emulator};

/// The deadline an invocation gets, and how long [`Function::invoke`] waits for
/// its answer, unless [`Spec::timeouts`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the function binaries are: `CM_FUNCTIONS_DIR`, else `<repo>/target/debug`
/// (where `cargo build --workspace --bins` puts them).
pub fn functions_dir() -> PathBuf {
    std::env::var_os("CM_FUNCTIONS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/debug"))
}

/// Panics, naming the first missing binary, unless each of `names` is built in
/// [`functions_dir`].
pub fn assert_built<'a>(names: impl IntoIterator<Item = &'a str>) {
    for name in names {
        let path = functions_dir().join(name);
        assert!(
            path.exists(),
            "{} is missing: run `cargo build --workspace --bins` first",
            path.display()
        );
    }
}

/// What to start, with which environment, and how long to wait.
#[derive(Debug, Clone)]
pub struct Spec {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: Option<PathBuf>,
    deadline: Duration,
    wait: Duration,
}

impl Spec {
    /// The function `name` (its `AWS_LAMBDA_FUNCTION_NAME`) run by `program`, with
    /// no other environment, its output inherited, and [`DEFAULT_TIMEOUT`]s.
    pub fn new(name: &str, program: impl Into<PathBuf>) -> Spec {
        Spec {
            name: name.to_string(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            log: None,
            deadline: DEFAULT_TIMEOUT,
            wait: DEFAULT_TIMEOUT,
        }
    }

    /// The binary `name` of [`functions_dir`].
    pub fn binary(name: &str) -> Spec {
        Spec::new(name, functions_dir().join(name))
    }

    /// Arguments for the program (e.g. the script an interpreter runs).
    pub fn args(mut self, args: impl IntoIterator<Item = String>) -> Spec {
        self.args.extend(args);
        self
    }

    /// Adds variables to the environment (a variable already there is replaced).
    pub fn envs(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Spec {
        for (key, value) in vars {
            self = self.set_env(&key, Some(&value));
        }
        self
    }

    /// Sets `key` to `value`, or removes it with `None`.
    pub fn set_env(mut self, key: &str, value: Option<&str>) -> Spec {
        self.env.retain(|(k, _)| k != key);
        if let Some(value) = value {
            self.env.push((key.to_string(), value.to_string()));
        }
        self
    }

    /// Writes the process's output to `path` instead of this process's output.
    pub fn log(mut self, path: impl Into<PathBuf>) -> Spec {
        self.log = Some(path.into());
        self
    }

    /// Writes the process's output to a new file in the temporary folder,
    /// `cm-<name>-<pid>-<n>.log`, kept after the run (a failed test names it).
    pub fn temp_log(self) -> Spec {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let path = std::env::temp_dir().join(format!(
            "cm-{}-{}-{}.log",
            self.name,
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        self.log(path)
    }

    /// `deadline`: the time each invocation is given (the Runtime API's deadline
    /// header, what the function sees as its remaining time); `wait`: how long
    /// [`Function::invoke`] and the other waits wait for an answer or an exit.
    pub fn timeouts(mut self, deadline: Duration, wait: Duration) -> Spec {
        self.deadline = deadline;
        self.wait = wait;
        self
    }

    /// Starts a Runtime API server and the process against it.
    pub fn start(self) -> Result<Function, String> {
        let runtime = RuntimeApi::start(self.deadline);
        self.start_on(runtime)
    }

    /// Starts the process against `runtime`, which may already hold queued events
    /// (a cold start then finds its first event waiting, as on Lambda).
    pub fn start_on(self, runtime: RuntimeApi) -> Result<Function, String> {
        let process = self.spawn(&runtime)?;
        Ok(Function {
            name: self.name,
            runtime,
            process,
            log: self.log,
            wait: self.wait,
        })
    }

    /// The process, against `runtime`: a cleared environment with the Lambda
    /// variables and this spec's, standard input closed, output to the log.
    pub(crate) fn spawn(&self, runtime: &RuntimeApi) -> Result<Process, String> {
        Spawn::new(&self.program)
            .args(&self.args)
            .clear_env()
            .envs(runtime.lambda_env(&self.name))
            .envs(self.env.iter().cloned())
            .output(match &self.log {
                Some(path) => Sink::Log(path.clone()),
                None => Sink::Inherit,
            })
            .start()
    }
}

/// A running function process and its Runtime API server.
pub struct Function {
    name: String,
    runtime: RuntimeApi,
    process: Process,
    log: Option<PathBuf>,
    wait: Duration,
}

impl Function {
    /// The function binary at `binary` (e.g. `env!("CARGO_BIN_EXE_<name>")`) against
    /// `emulator`: the standard AWS environment plus `extra_env`, its output in a
    /// temporary log file, [`DEFAULT_TIMEOUT`]s. Panics if it cannot start.
    pub fn start(binary: &Path, emulator: &Emulator, extra_env: &[(String, String)]) -> Function {
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "function".to_string());
        Spec::new(&name, binary)
            .envs(emulator.aws_env())
            .envs(extra_env.iter().cloned())
            .temp_log()
            .start()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operating system's process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Queues an event; returns its request id.
    pub fn push(&self, event: Value) -> String {
        self.runtime.push(event)
    }

    /// Waits for the answer to `request_id`.
    pub fn wait_for(&self, request_id: &str) -> Option<Outcome> {
        self.runtime.wait_for(request_id, self.wait)
    }

    /// Waits for the answer to `request_id`, with the time it arrived.
    pub fn wait_for_invocation(&self, request_id: &str) -> Option<Invocation> {
        self.runtime.wait_for_invocation(request_id, self.wait)
    }

    /// Sends `event` and waits for the answer; `None` if none came in time.
    pub fn try_invoke(&self, event: Value) -> Option<Outcome> {
        self.runtime.invoke(event, self.wait)
    }

    /// Sends `event` and waits for the answer; panics with the function's log if
    /// none came in time.
    pub fn invoke(&self, event: Value) -> Outcome {
        self.try_invoke(event).unwrap_or_else(|| {
            panic!(
                "{} did not answer within {:?}; {}",
                self.name,
                self.wait,
                self.describe_log()
            )
        })
    }

    /// The body of the function's `/runtime/init/error`, if it reported one.
    pub fn init_error(&self) -> Option<Value> {
        self.runtime.init_error()
    }

    /// Waits for the process to exit; its status, or `None` if it kept running.
    pub fn wait_for_exit(&mut self) -> Option<ExitStatus> {
        self.process.wait_timeout(self.wait)
    }

    /// What the process wrote to its log so far ("" without a log).
    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default()
    }

    fn describe_log(&self) -> String {
        match &self.log {
            Some(path) => format!("its log ({}):\n{}", path.display(), self.log()),
            None => "its output went to this process's output".to_string(),
        }
    }
}
