//! What every function's `main` does: JSON logging, configuration read and checked at
//! start-up (every problem logged by name, then the process exits), and the Lambda
//! runtime loop, with each failed invocation logged with its error kind.

use std::future::Future;
use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use serde::Serialize;
use serde_json::Value;

use crate::{ConfigError, Env, Error};

/// Starts logging and reads the configuration from the process environment.
pub fn start<C>(read: impl FnOnce(Env<'static>) -> Result<C, ConfigError>) -> Result<C, Error> {
    crate::logging::init();
    read(Env::from_process()).map_err(|err| {
        tracing::error!(problems = ?err.problems, "{err}");
        Error::Config(err)
    })
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
