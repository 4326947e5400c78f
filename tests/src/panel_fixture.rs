//! The control panel's world in the emulator, as its emulator test
//! (`functions/control-panel/tests/emulator.rs`) and the browser test
//! (`tests/tests/browser.rs`) set it up ([`set_up`]): the hosted zone of [`DOMAIN`]
//! whose registry (`<name>._cm.<domain>` TXT entries, [`cm_core::registry`]) holds
//! `mc` (us-east-1, its group at 1 with an InService instance, 3 players reported)
//! and `vh` (eu-west-1, its group at 0), and the start token as an SSM SecureString
//! named [`START_TOKEN_PARAMETER`]. Also the record writes they (and the sam-local
//! tier) need: [`put_txt`] and [`upsert_record`] (from [`crate::emulator`]).

use std::time::{Duration, SystemTime};

use aws_config::Region;
use aws_sdk_autoscaling::Client as AutoScaling;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::error::display::DisplayErrorContext;
use cm_core::registry;

use crate::emulator::{create_group, create_zone, Emulator, REGION};
use crate::stack::put_secure_string;

/// The record writes, kept here for the tests that take them from the fixture.
pub use crate::emulator::{put_txt, upsert_record};

/// The domain whose registry the control panel reads (its `DOMAIN_NAME`).
pub const DOMAIN: &str = "example.com";
/// The SSM parameter holding the start token (its `START_TOKEN_PARAMETER`).
pub const START_TOKEN_PARAMETER: &str = "/cm/dev/start-token";

/// What [`set_up`] made.
pub struct PanelWorld {
    /// The hosted zone's id (the control panel's `HOSTED_ZONE_ID`).
    pub zone: String,
    pub route53: aws_sdk_route53::Client,
    /// Auto Scaling in us-east-1, where `mc`'s group `cm-asg-dev-mc` is.
    pub us: AutoScaling,
    /// Auto Scaling in eu-west-1, where `vh`'s group `cm-asg-dev-vh` is.
    pub eu: AutoScaling,
}

/// The registry's entries, as the containers' stacks write them (base name `cm`,
/// environment `dev`): the container's name and its TXT value (unquoted).
const ENTRIES: [(&str, &str); 2] = [
    (
        "mc",
        "v=cm1 region=us-east-1 asg=cm-asg-dev-mc metric=cm-dev-mc threshold=20",
    ),
    (
        "vh",
        "v=cm1 region=eu-west-1 asg=cm-asg-dev-vh metric=cm-dev-vh threshold=20",
    ),
];

/// Makes the control panel's world in `emulator`, the start token being `token`.
pub async fn set_up(emulator: &Emulator, token: &str) -> Result<PanelWorld, String> {
    let sdk = emulator.sdk_config().await;
    let route53 = aws_sdk_route53::Client::new(&sdk);
    let zone = create_zone(&route53, DOMAIN, "0.0.0.0").await?;
    for (name, value) in ENTRIES {
        put_txt(&route53, &zone, &registry::record_name(name, DOMAIN), value).await?;
    }
    let us = AutoScaling::new(&sdk);
    let eu = AutoScaling::from_conf(
        aws_sdk_autoscaling::config::Builder::from(&sdk)
            .region(Region::new("eu-west-1"))
            .build(),
    );
    create_group(&us, "cm-asg-dev-mc", "us-east-1a", 1).await?;
    create_group(&eu, "cm-asg-dev-vh", "eu-west-1a", 0).await?;
    put_secure_string(emulator, REGION, START_TOKEN_PARAMETER, token)?;
    // mc's presence probe reported 3 players a minute ago.
    aws_sdk_cloudwatch::Client::new(&sdk)
        .put_metric_data()
        .namespace("ContainerManager")
        .metric_data(
            MetricDatum::builder()
                .metric_name("Players")
                .dimensions(
                    Dimension::builder()
                        .name("ContainerName")
                        .value("cm-dev-mc")
                        .build(),
                )
                .value(3.0)
                .unit(StandardUnit::Count)
                .timestamp(DateTime::from(SystemTime::now() - Duration::from_secs(60)))
                .build(),
        )
        .send()
        .await
        .map_err(|e| format!("PutMetricData: {}", DisplayErrorContext(e)))?;
    Ok(PanelWorld {
        zone,
        route53,
        us,
        eu,
    })
}
