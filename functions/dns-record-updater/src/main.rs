use dns_record_updater::{handle, AwsDnsActions, DnsConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = cm_core::runtime::start(DnsConfig::from_env)?;
    let sdk = cm_core::aws::load_sdk_config().await;
    let actions = AwsDnsActions::new(&sdk);
    cm_core::runtime::serve(config, actions, |config, actions, event| async move {
        handle(&config, &*actions, &event.payload).await
    })
    .await
}
