//! [`Cloud`] through the AWS SDK: Route 53 (global) for the registry, and Auto Scaling
//! and CloudWatch in each container's region (the group is there, and so is the idle
//! alarm that reads the keep-alive metric: alarms cannot read another region's
//! metrics), their clients built from the one SDK configuration when a region is
//! first needed and kept for the warm process.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::{Region, SdkConfig};
use aws_sdk_autoscaling::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use aws_sdk_route53::types::RrType;
use cm_core::fake::lock;
use cm_core::registry::{Record, RecordPage, RecordStart};
use cm_core::Error;

use crate::cloud::{Cloud, Scaled};
use crate::config::{KeepAliveMetric, DIMENSION};
use crate::decide::Datum;

/// Records per page of the registry's listing (Route 53's most).
const RECORDS_PER_PAGE: i32 = 300;

/// Data points per PutMetricData (CloudWatch's most).
pub const DATUMS_PER_CALL: usize = 1000;

/// The clients of one region.
#[derive(Clone, Debug)]
struct Regional {
    autoscaling: aws_sdk_autoscaling::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

/// The router's clients: Route 53 built at start-up, the regional ones when first
/// needed.
#[derive(Debug)]
pub struct AwsCloud {
    sdk: SdkConfig,
    route53: aws_sdk_route53::Client,
    regions: Mutex<HashMap<String, Regional>>,
}

impl AwsCloud {
    pub fn new(sdk: &SdkConfig) -> Self {
        AwsCloud {
            sdk: sdk.clone(),
            route53: aws_sdk_route53::Client::new(sdk),
            regions: Mutex::new(HashMap::new()),
        }
    }

    /// The clients of `region`, built the first time it is asked for.
    fn regional(&self, region: &str) -> Regional {
        lock(&self.regions)
            .entry(region.to_string())
            .or_insert_with(|| {
                let region = Region::new(region.to_string());
                Regional {
                    autoscaling: aws_sdk_autoscaling::Client::from_conf(
                        aws_sdk_autoscaling::config::Builder::from(&self.sdk)
                            .region(region.clone())
                            .build(),
                    ),
                    cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                        aws_sdk_cloudwatch::config::Builder::from(&self.sdk)
                            .region(region)
                            .build(),
                    ),
                }
            })
            .clone()
    }
}

/// Is this UpdateAutoScalingGroup error AWS saying the group does not exist?
/// (`ValidationError`, "AutoScalingGroup name not found - ...".)
pub fn is_group_gone(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("ValidationError")
        && message.is_some_and(|m| m.to_ascii_lowercase().contains("not found"))
}

impl Cloud for AwsCloud {
    async fn list_records(&self, zone: &str, start: &RecordStart) -> Result<RecordPage, Error> {
        let mut call = self
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(&start.name)
            .max_items(RECORDS_PER_PAGE);
        if !start.kind.is_empty() {
            call = call.start_record_type(RrType::from(start.kind.as_str()));
        }
        let out = call
            .send()
            .await
            .map_err(|e| Error::aws(format!("ListResourceRecordSets {zone}"), e))?;
        let records = out
            .resource_record_sets()
            .iter()
            .map(|r| Record {
                name: r.name().to_string(),
                kind: r.r#type().as_str().to_string(),
                values: r
                    .resource_records()
                    .iter()
                    .map(|v| v.value().to_string())
                    .collect(),
            })
            .collect();
        let next = match (out.is_truncated(), out.next_record_name()) {
            (true, Some(name)) => Some(RecordStart {
                name: name.to_string(),
                kind: out
                    .next_record_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(RecordPage { records, next })
    }

    async fn set_desired(&self, region: &str, group: &str, desired: i32) -> Result<Scaled, Error> {
        let client = self.regional(region).autoscaling;
        match client
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .desired_capacity(desired)
            .send()
            .await
        {
            Ok(_) => Ok(Scaled::Done),
            Err(e) if is_group_gone(e.code(), e.message()) => Ok(Scaled::Gone),
            Err(e) => Err(Error::aws(
                format!("UpdateAutoScalingGroup {region} {group} DesiredCapacity={desired}"),
                e,
            )),
        }
    }

    async fn put_keep_alive(
        &self,
        region: &str,
        metric: &KeepAliveMetric,
        datums: &[Datum],
    ) -> Result<(), Error> {
        let client = self.regional(region).cloudwatch;
        for chunk in datums.chunks(DATUMS_PER_CALL) {
            let data = chunk
                .iter()
                .map(|d| {
                    MetricDatum::builder()
                        .metric_name(&metric.name)
                        .dimensions(
                            Dimension::builder()
                                .name(DIMENSION)
                                .value(&d.container)
                                .build(),
                        )
                        .unit(metric.unit.clone())
                        .value(d.value)
                        .build()
                })
                .collect();
            client
                .put_metric_data()
                .namespace(&metric.namespace)
                .set_metric_data(Some(data))
                .send()
                .await
                .map_err(|e| {
                    Error::aws(
                        format!(
                            "PutMetricData {region} {}/{} ({} data points)",
                            metric.namespace,
                            metric.name,
                            chunk.len()
                        ),
                        e,
                    )
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_validation_error_saying_not_found_is_a_gone_group() {
        assert!(is_group_gone(
            Some("ValidationError"),
            Some("AutoScalingGroup name not found - AutoScalingGroup 'g' not found")
        ));
        assert!(is_group_gone(
            Some("ValidationError"),
            Some("AutoScalingGroup name not found - null")
        ));
        assert!(!is_group_gone(
            Some("ValidationError"),
            Some("Desired capacity:1 must be between the specified min size:0 and max size:0")
        ));
        assert!(!is_group_gone(
            Some("Throttling"),
            Some("Rate exceeded: not found")
        ));
        assert!(!is_group_gone(Some("ValidationError"), None));
        assert!(!is_group_gone(None, None));
    }
}
