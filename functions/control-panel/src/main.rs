use std::time::SystemTime;

use control_panel::{handle, AwsCloud, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cm_core::runtime::run(
        Config::from_env,
        |sdk, _| AwsCloud::new(sdk),
        |config, cloud, event| async move {
            handle(&config, &*cloud, &event.payload, SystemTime::now())
                .await
                .map(|outcome| outcome.response)
        },
    )
    .await
}
