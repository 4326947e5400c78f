use dns_query_trigger::{handle, AwsTriggerActions, TriggerConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = cm_core::runtime::start(TriggerConfig::from_env)?;
    let sdk = cm_core::aws::load_sdk_config().await;
    let actions = AwsTriggerActions::new(&sdk, config.asg_region.as_deref());
    cm_core::runtime::serve(config, actions, |config, actions, event| async move {
        handle(&config, &*actions, &event.payload).await
    })
    .await
}
