//! What every function's `main` does: JSON logging, configuration read and checked at
//! start-up (every problem logged by name, then the process exits), and the Lambda
//! runtime loop, with each failed invocation logged with its error kind.

use std::future::Future;
use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use serde::Serialize;
use serde_json::Value;

use crate::{ConfigError, Env, Error};

/// Starts logging and reads the configuration from the process environment. A bad
/// configuration is logged, reported to Lambda as the init error, and returned (the
/// process then exits).
pub fn start<C>(read: impl FnOnce(Env<'static>) -> Result<C, ConfigError>) -> Result<C, Error> {
    crate::logging::init();
    read(Env::from_process()).map_err(|err| {
        tracing::error!(problems = ?err.problems, "{err}");
        let err = Error::Config(err);
        report_init_error(&err);
        err
    })
}

/// Tells Lambda why the function could not start (`POST /runtime/init/error`), so
/// the invocation fails with `Runtime.InitError` and this message, which names every
/// bad variable, instead of a bare exit code. Outside Lambda (no
/// `AWS_LAMBDA_RUNTIME_API`) it does nothing; a failure to report is logged.
fn report_init_error(err: &Error) {
    use std::io::{BufRead, BufReader, Write};
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let body =
        serde_json::json!({"errorType": err.kind(), "errorMessage": err.to_string()}).to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: Runtime.InitError\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let timeout = Some(std::time::Duration::from_secs(5));
    let answer = std::net::TcpStream::connect(&api).and_then(|mut stream| {
        stream.set_read_timeout(timeout)?;
        stream.set_write_timeout(timeout)?;
        stream.write_all(request.as_bytes())?;
        let mut status = String::new();
        BufReader::new(stream).read_line(&mut status)?;
        Ok(status)
    });
    match answer {
        Ok(status) if status.split_whitespace().nth(1) == Some("202") => {}
        Ok(status) => {
            tracing::warn!(status = %status.trim(), "the Runtime API refused the init error")
        }
        Err(e) => tracing::warn!(error = %e, "could not report the init error to the Runtime API"),
    }
}

/// A function's whole `main`: logging and the configuration ([`start`]), the SDK
/// configuration from the standard environment, the function's clients built once
/// by `build`, then the runtime loop ([`serve`]).
pub async fn run<C, A, T, F, Fut>(
    read: impl FnOnce(Env<'static>) -> Result<C, ConfigError>,
    build: impl FnOnce(&aws_config::SdkConfig, &C) -> A,
    handler: F,
) -> Result<(), lambda_runtime::Error>
where
    C: Send + Sync + 'static,
    A: Send + Sync + 'static,
    T: Serialize,
    F: Fn(Arc<C>, Arc<A>, LambdaEvent<Value>) -> Fut,
    Fut: Future<Output = Result<T, Error>> + Send,
{
    try_run(read, |sdk, config| Ok(build(sdk, config)), handler).await
}

/// [`run`] for clients whose set-up can fail (e.g. an HTTPS client that loads the
/// system's root certificates): a failure is the init error, as a bad variable is.
pub async fn try_run<C, A, T, F, Fut>(
    read: impl FnOnce(Env<'static>) -> Result<C, ConfigError>,
    build: impl FnOnce(&aws_config::SdkConfig, &C) -> Result<A, Error>,
    handler: F,
) -> Result<(), lambda_runtime::Error>
where
    C: Send + Sync + 'static,
    A: Send + Sync + 'static,
    T: Serialize,
    F: Fn(Arc<C>, Arc<A>, LambdaEvent<Value>) -> Fut,
    Fut: Future<Output = Result<T, Error>> + Send,
{
    let config = start(read)?;
    let sdk = crate::aws::load_sdk_config().await;
    let clients = build(&sdk, &config).map_err(|err| {
        tracing::error!(error = %err, "the function's clients could not be set up");
        report_init_error(&err);
        err
    })?;
    // Boxed: the handler's futures (the SDK's) nested inside `main`'s would
    // otherwise go past the compiler's depth limit for laying it out.
    Box::pin(serve(config, clients, handler)).await
}

/// Runs the Lambda runtime loop: each event (payload and context, whose deadline
/// bounds long work) goes to `handler` with the configuration and the clients built
/// once at start-up.
pub async fn serve<C, A, T, F, Fut>(
    config: C,
    actions: A,
    handler: F,
) -> Result<(), lambda_runtime::Error>
where
    C: Send + Sync + 'static,
    A: Send + Sync + 'static,
    T: Serialize,
    F: Fn(Arc<C>, Arc<A>, LambdaEvent<Value>) -> Fut,
    Fut: Future<Output = Result<T, Error>> + Send,
{
    let (config, actions) = (Arc::new(config), Arc::new(actions));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let call = handler(config.clone(), actions.clone(), event);
        async move {
            let result = call.await;
            if let Err(err) = &result {
                tracing::error!(error_type = err.kind(), error = %err, "invocation failed");
            }
            result
        }
    }))
    .await
}

/// Time left before the invocation's deadline (`Lambda-Runtime-Deadline-Ms`).
pub fn remaining(context: &lambda_runtime::Context) -> std::time::Duration {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    std::time::Duration::from_millis(context.deadline.saturating_sub(now_ms))
}
