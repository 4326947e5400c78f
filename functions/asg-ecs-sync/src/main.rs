use asg_ecs_sync::{handle, AwsCloud, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = cm_core::runtime::start(Config::from_env)?;
    let sdk = cm_core::aws::load_sdk_config().await;
    let cloud = AwsCloud::new(&sdk);
    cm_core::runtime::serve(config, cloud, |config, cloud, event| async move {
        let time_left = cm_core::runtime::remaining(&event.context);
        handle(&config, &*cloud, &event.payload, time_left).await
    })
    .await
}
