use asg_ecs_sync::{handle, AwsSyncActions, SyncConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = cm_core::runtime::start(SyncConfig::from_env)?;
    let sdk = cm_core::aws::load_sdk_config().await;
    let actions = AwsSyncActions::new(&sdk);
    cm_core::runtime::serve(config, actions, |config, actions, event| async move {
        let time_left = cm_core::runtime::remaining(&event.context);
        handle(&config, &*actions, &event.payload, time_left).await
    })
    .await
}
