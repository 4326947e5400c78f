//! Child processes: every program the test kit and the benchmarks start (the
//! emulator, the function binaries, the Python baseline, the tools the benchmarks
//! ask for their versions) is started here, through [`Spawn`].
//!
//! A [`Process`] is killed when it is dropped, so a failed test or an early return
//! leaves nothing running.

use std::ffi::OsString;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Where a process's standard output and standard error go.
#[derive(Debug, Clone)]
pub enum Sink {
    /// To this process's own output.
    Inherit,
    /// Both into this file (created, or emptied if it exists).
    Log(PathBuf),
    /// Standard output to a pipe ([`Process::take_stdout`]); standard error inherited.
    PipeStdout,
    /// Standard output to a pipe ([`Process::take_stdout`]); standard error into
    /// this file (created, or emptied if it exists).
    PipeStdoutLog(PathBuf),
    /// Both to pipes, read by [`Process::output`].
    Capture,
}

/// How to start one child process: program, arguments, environment, standard
/// input and output.
#[derive(Debug, Clone)]
pub struct Spawn {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    clear_env: bool,
    stdin_piped: bool,
    sink: Sink,
}

impl Spawn {
    /// `program` with no arguments, this process's environment, standard input
    /// closed and output inherited.
    pub fn new(program: impl Into<PathBuf>) -> Spawn {
        Spawn {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            clear_env: false,
            stdin_piped: false,
            sink: Sink::Inherit,
        }
    }

    pub fn args<I, S>(mut self, args: I) -> Spawn
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds variables to the environment (later ones win).
    pub fn envs(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Spawn {
        self.env.extend(vars);
        self
    }

    /// Starts from an empty environment (only `PATH` is kept) instead of this
    /// process's, as Lambda starts a function with only the variables it sets.
    pub fn clear_env(mut self) -> Spawn {
        self.clear_env = true;
        self
    }

    /// Gives the process a standard input pipe, held open while the [`Process`]
    /// lives: a child that exits when its input closes then also stops should this
    /// process die without dropping it.
    pub fn stdin_piped(mut self) -> Spawn {
        self.stdin_piped = true;
        self
    }

    pub fn output(mut self, sink: Sink) -> Spawn {
        self.sink = sink;
        self
    }

    /// Starts the process. The error names the program, or the log file that could
    /// not be created.
    pub fn start(self) -> Result<Process, String> {
        let mut command = Command::new(&self.program);
        command.args(&self.args);
        if self.clear_env {
            command.env_clear();
            if let Some(path) = std::env::var_os("PATH") {
                command.env("PATH", path);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command.stdin(if self.stdin_piped {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        match &self.sink {
            Sink::Inherit => {}
            Sink::Log(path) => {
                let file = File::create(path)
                    .map_err(|e| format!("create the log {}: {e}", path.display()))?;
                let err = file
                    .try_clone()
                    .map_err(|e| format!("open the log {} twice: {e}", path.display()))?;
                command.stdout(file).stderr(err);
            }
            Sink::PipeStdout => {
                command.stdout(Stdio::piped());
            }
            Sink::PipeStdoutLog(path) => {
                let file = File::create(path)
                    .map_err(|e| format!("create the log {}: {e}", path.display()))?;
                command.stdout(Stdio::piped()).stderr(file);
            }
            Sink::Capture => {
                command.stdout(Stdio::piped()).stderr(Stdio::piped());
            }
        }
        let child = command
            .spawn()
            .map_err(|e| format!("start {}: {e}", self.program.display()))?;
        Ok(Process {
            child: Some(child),
            program: self.program,
        })
    }

    /// Starts the process with its output captured and waits for it to end.
    pub fn run(self) -> Result<Output, String> {
        self.output(Sink::Capture).start()?.output()
    }
}

/// A running child process; killed (and reaped) when dropped.
#[derive(Debug)]
pub struct Process {
    /// Always `Some` until [`Process::into_child`] or [`Process::output`] takes it.
    child: Option<Child>,
    program: PathBuf,
}

impl Process {
    /// The operating system's process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// The standard output pipe, with [`Sink::PipeStdout`] (once).
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.as_mut().and_then(|c| c.stdout.take())
    }

    /// The standard input pipe, with [`Spawn::stdin_piped`] (once): the caller writes
    /// to it, and closes it by dropping it.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.as_mut().and_then(|c| c.stdin.take())
    }

    /// The exit status, if the process has ended.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits up to `timeout` for the process to end; its exit status, or `None` if
    /// it is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process and waits for it to end.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for the process to end and returns what it wrote, with
    /// [`Sink::Capture`].
    pub fn output(mut self) -> Result<Output, String> {
        let program = self.program.display().to_string();
        self.child
            .take()
            .map(Child::wait_with_output)
            .unwrap_or_else(|| Err(std::io::ErrorKind::NotFound.into()))
            .map_err(|e| format!("wait for {program}: {e}"))
    }

    /// Hands the process over as a plain [`Child`], which is not killed on drop:
    /// the caller stops it.
    pub fn into_child(mut self) -> Child {
        self.child
            .take()
            .expect("a Process holds its child until it is consumed")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn runs_a_program_with_arguments_and_environment_and_captures_its_output() {
        let output = Spawn::new("sh")
            .args(["-c", "echo \"$GREETING $1\"; echo oops >&2", "sh", "world"])
            .clear_env()
            .envs([("GREETING".to_string(), "hello".to_string())])
            .run()
            .expect("sh runs");
        assert!(output.status.success());
        assert_eq!(String::from_utf8_lossy(&output.stdout), "hello world\n");
        assert_eq!(String::from_utf8_lossy(&output.stderr), "oops\n");
    }

    #[test]
    fn a_cleared_environment_keeps_only_path_and_the_given_variables() {
        let output = Spawn::new("sh")
            .args(["-c", "env | cut -d= -f1 | sort | tr '\\n' ' '"])
            .clear_env()
            .envs([("ONLY_THIS".to_string(), "1".to_string())])
            .run()
            .expect("sh runs");
        let names = String::from_utf8_lossy(&output.stdout);
        for name in names.split_whitespace() {
            assert!(
                ["ONLY_THIS", "PATH", "PWD", "SHLVL", "_"].contains(&name),
                "{name} in {names}"
            );
        }
        assert!(names.contains("ONLY_THIS"), "{names}");
    }

    #[test]
    fn writes_both_streams_to_the_log() {
        let log =
            std::env::temp_dir().join(format!("cm-testkit-process-{}.log", std::process::id()));
        let mut process = Spawn::new("sh")
            .args(["-c", "echo out; echo err >&2"])
            .output(Sink::Log(log.clone()))
            .start()
            .expect("sh starts");
        assert!(process
            .wait_timeout(Duration::from_secs(10))
            .is_some_and(|s| s.success()));
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        assert_eq!(text, "out\nerr\n");
    }

    #[test]
    fn a_dropped_process_is_killed() {
        let process = Spawn::new("sleep")
            .args(["30"])
            .start()
            .expect("sleep starts");
        let pid = process.id();
        drop(process);
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn a_missing_program_is_named() {
        let error = Spawn::new("/nonexistent/cm-program")
            .start()
            .expect_err("nothing to start");
        assert!(error.contains("/nonexistent/cm-program"), "{error}");
    }
}
