//! [`Cloud`] through the AWS SDK: Route 53 (global) for the registry, SSM (this
//! region) for the token, and Auto Scaling and CloudWatch in each container's region,
//! their clients built from the one SDK configuration when a region is first needed
//! and kept for the warm process.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use cm_core::autoscaling::GroupState;
use cm_core::aws::PerRegion;
use cm_core::fake::lock;
use cm_core::registry;
use cm_core::Error;

use crate::cloud::{Cloud, RecordPage, RecordStart, Window};
use crate::parse::Secret;

/// How long the warm process keeps the start token before reading it again.
pub const TOKEN_TTL: Duration = Duration::from_secs(5 * 60);

/// How long the warm process keeps a page of the registry's listing: Route 53 allows
/// five requests a second per account, shared with the functions that start and
/// follow the containers, and a public page must not use them up. A container
/// registered or removed shows within this time.
pub const REGISTRY_TTL: Duration = Duration::from_secs(30);

/// Pages of the listing kept at most (the registry of a domain takes a few).
const MAX_CACHED_PAGES: usize = 64;

/// Group names per DescribeAutoScalingGroups call.
const GROUPS_PER_CALL: usize = 50;

/// Pages of DescribeAutoScalingGroups read per call's names, at most.
const MAX_GROUP_PAGES: usize = 10;

/// Queries per GetMetricData call (CloudWatch's limit).
const QUERIES_PER_CALL: usize = 500;

/// A page of the listing: (zone, start name, start type).
type PageKey = (String, String, String);

#[derive(Debug)]
pub struct AwsCloud {
    route53: aws_sdk_route53::Client,
    ssm: aws_sdk_ssm::Client,
    autoscaling: PerRegion<aws_sdk_autoscaling::Client>,
    cloudwatch: PerRegion<aws_sdk_cloudwatch::Client>,
    token: Mutex<Option<(Instant, Secret)>>,
    /// Pages of the registry's listing by (zone, start name, start type).
    pages: Mutex<HashMap<PageKey, (Instant, RecordPage)>>,
}

impl AwsCloud {
    pub fn new(sdk: &SdkConfig) -> Self {
        AwsCloud {
            route53: aws_sdk_route53::Client::new(sdk),
            ssm: aws_sdk_ssm::Client::new(sdk),
            autoscaling: PerRegion::new(sdk, aws_sdk_autoscaling::Client::new),
            cloudwatch: PerRegion::new(sdk, aws_sdk_cloudwatch::Client::new),
            token: Mutex::new(None),
            pages: Mutex::new(HashMap::new()),
        }
    }
}

impl Cloud for AwsCloud {
    async fn list_records(&self, zone: &str, start: &RecordStart) -> Result<RecordPage, Error> {
        let key = (zone.to_string(), start.name.clone(), start.kind.clone());
        if let Some((read_at, page)) = lock(&self.pages).get(&key) {
            if read_at.elapsed() < REGISTRY_TTL {
                return Ok(page.clone());
            }
        }
        let page = registry::list_page(&self.route53, zone, start).await?;
        let mut pages = lock(&self.pages);
        if pages.len() >= MAX_CACHED_PAGES {
            pages.clear();
        }
        pages.insert(key, (Instant::now(), page.clone()));
        Ok(page)
    }

    async fn groups(
        &self,
        region: &str,
        groups: &[String],
    ) -> Result<BTreeMap<String, GroupState>, Error> {
        let client = self.autoscaling.client(region);
        let mut found = BTreeMap::new();
        for names in groups.chunks(GROUPS_PER_CALL) {
            let mut next: Option<String> = None;
            for _ in 0..MAX_GROUP_PAGES {
                let out = client
                    .describe_auto_scaling_groups()
                    .set_auto_scaling_group_names(Some(names.to_vec()))
                    .set_next_token(next.take())
                    .send()
                    .await
                    .map_err(|e| {
                        Error::aws(
                            format!("DescribeAutoScalingGroups {region} {}", names.join(",")),
                            e,
                        )
                    })?;
                for group in out.auto_scaling_groups() {
                    let Some(name) = group.auto_scaling_group_name() else {
                        continue;
                    };
                    if !names.iter().any(|n| n == name) {
                        continue;
                    }
                    found.insert(name.to_string(), GroupState::from(group));
                }
                match out.next_token() {
                    Some(token) if !token.is_empty() => next = Some(token.to_string()),
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    async fn players(
        &self,
        region: &str,
        namespace: &str,
        metrics: &[String],
        window: Window,
    ) -> Result<BTreeMap<String, f64>, Error> {
        let client = self.cloudwatch.client(region);
        let mut latest = BTreeMap::new();
        for chunk in metrics.chunks(QUERIES_PER_CALL) {
            let mut queries = Vec::with_capacity(chunk.len());
            for (i, metric) in chunk.iter().enumerate() {
                let stat = MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace(namespace)
                            .metric_name("Players")
                            .dimensions(
                                Dimension::builder()
                                    .name("ContainerName")
                                    .value(metric)
                                    .build(),
                            )
                            .build(),
                    )
                    .period(60)
                    .stat("Maximum")
                    .build();
                queries.push(
                    MetricDataQuery::builder()
                        .id(format!("m{i}"))
                        .metric_stat(stat)
                        .return_data(true)
                        .build(),
                );
            }
            let out = client
                .get_metric_data()
                .set_metric_data_queries(Some(queries))
                .start_time(DateTime::from(window.start))
                .end_time(DateTime::from(window.end))
                .scan_by(ScanBy::TimestampDescending)
                .send()
                .await
                .map_err(|e| Error::aws(format!("GetMetricData {region} Players"), e))?;
            for result in out.metric_data_results() {
                let Some(index) = result
                    .id()
                    .and_then(|id| id.strip_prefix('m'))
                    .and_then(|i| i.parse::<usize>().ok())
                else {
                    continue;
                };
                let Some(metric) = chunk.get(index) else {
                    continue;
                };
                let newest = result
                    .timestamps()
                    .iter()
                    .zip(result.values())
                    .max_by(|a, b| a.0.cmp(b.0))
                    .map(|(_, v)| *v);
                if let Some(value) = newest {
                    latest.insert(metric.clone(), value);
                }
            }
        }
        Ok(latest)
    }

    async fn set_desired(&self, region: &str, group: &str, desired: i32) -> Result<(), Error> {
        let client = self.autoscaling.client(region);
        client
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .desired_capacity(desired)
            .send()
            .await
            .map_err(|e| Error::aws(format!("UpdateAutoScalingGroup {region} {group}"), e))?;
        Ok(())
    }

    async fn start_token(&self, parameter: &str) -> Result<Secret, Error> {
        if let Some((read_at, token)) = &*lock(&self.token) {
            if read_at.elapsed() < TOKEN_TTL {
                return Ok(token.clone());
            }
        }
        let operation = || format!("GetParameter {parameter}");
        let out = self
            .ssm
            .get_parameter()
            .name(parameter)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| Error::aws(operation(), e))?;
        let token = out
            .parameter()
            .and_then(|p| p.value())
            .map(Secret::new)
            .ok_or_else(|| Error::Aws {
                operation: operation(),
                message: "the answer holds no value".to_string(),
            })?;
        *lock(&self.token) = Some((Instant::now(), token.clone()));
        Ok(token)
    }
}
