use std::sync::Arc;

use dns_query_trigger::{handle, AwsTriggerActions, TriggerConfig};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cm_core::logging::init();
    let config = match TriggerConfig::from_env(cm_core::Env::from_process()) {
        Ok(config) => Arc::new(config),
        Err(err) => {
            tracing::error!(problems = ?err.problems, "{err}");
            return Err(err.into());
        }
    };
    let sdk = cm_core::aws::load_sdk_config().await;
    let actions = Arc::new(AwsTriggerActions::new(&sdk, config.asg_region.as_deref()));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (config, actions) = (config.clone(), actions.clone());
        async move {
            let result = handle(&config, &*actions, &event.payload).await;
            if let Err(err) = &result {
                tracing::error!(error_type = err.kind(), error = %err, "invocation failed");
            }
            result
        }
    }))
    .await
}
