//! [`Cloud`] in memory, for fast tests: the hosted zone's records ([`Zone`]: listed
//! in Route 53's order, in pages), Auto Scaling groups and `Players` data points by
//! region, the start token, and every call recorded (with failures injected per
//! operation through [`Recorder::fail`]).

use std::collections::BTreeMap;
use std::sync::Mutex;

use cm_core::autoscaling::GroupState;
use cm_core::fake::{lock, Recorder, Zone};
use cm_core::Error;

use crate::cloud::{Cloud, RecordPage, RecordStart, Window};
use crate::parse::Secret;

#[derive(Debug, Default)]
pub struct FakeCloud {
    pub recorder: Recorder,
    /// The hosted zone, which holds the registry.
    pub zone: Zone,
    /// By (region, group).
    groups: Mutex<BTreeMap<(String, String), GroupState>>,
    /// By (region, metric dimension value).
    players: Mutex<BTreeMap<(String, String), f64>>,
    token: Mutex<Option<String>>,
}

impl FakeCloud {
    /// The start token in the SSM parameter.
    pub fn set_token(&self, token: &str) {
        *lock(&self.token) = Some(token.to_string());
    }

    /// A group in `region` at `desired` with instances in these lifecycle states.
    pub fn add_group(&self, region: &str, group: &str, desired: i32, states: &[&str]) {
        lock(&self.groups).insert(
            (region.to_string(), group.to_string()),
            GroupState {
                desired_capacity: desired,
                instances: states
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (format!("i-{group}-{i}"), s.to_string()))
                    .collect(),
            },
        );
    }

    /// The latest `Players` data point of `metric` in `region`.
    pub fn set_players(&self, region: &str, metric: &str, count: f64) {
        lock(&self.players).insert((region.to_string(), metric.to_string()), count);
    }

    /// The group's desired capacity, `None` when it does not exist in `region`.
    pub fn desired(&self, region: &str, group: &str) -> Option<i32> {
        lock(&self.groups)
            .get(&(region.to_string(), group.to_string()))
            .map(|g| g.desired_capacity)
    }
}

impl Cloud for FakeCloud {
    async fn list_records(&self, zone: &str, start: &RecordStart) -> Result<RecordPage, Error> {
        self.zone.list(&self.recorder, zone, start)
    }

    async fn groups(
        &self,
        region: &str,
        groups: &[String],
    ) -> Result<BTreeMap<String, GroupState>, Error> {
        self.recorder.call(format!(
            "DescribeAutoScalingGroups {region} {}",
            groups.join(",")
        ))?;
        let all = lock(&self.groups);
        Ok(groups
            .iter()
            .filter_map(|g| {
                all.get(&(region.to_string(), g.clone()))
                    .map(|s| (g.clone(), s.clone()))
            })
            .collect())
    }

    async fn players(
        &self,
        region: &str,
        namespace: &str,
        metrics: &[String],
        _window: Window,
    ) -> Result<BTreeMap<String, f64>, Error> {
        self.recorder.call(format!(
            "GetMetricData {region} {namespace} {}",
            metrics.join(",")
        ))?;
        let all = lock(&self.players);
        Ok(metrics
            .iter()
            .filter_map(|m| {
                all.get(&(region.to_string(), m.clone()))
                    .map(|v| (m.clone(), *v))
            })
            .collect())
    }

    async fn set_desired(&self, region: &str, group: &str, desired: i32) -> Result<(), Error> {
        let call = format!("UpdateAutoScalingGroup {region} {group} DesiredCapacity={desired}");
        self.recorder.call(&call)?;
        match lock(&self.groups).get_mut(&(region.to_string(), group.to_string())) {
            Some(g) => {
                g.desired_capacity = desired;
                Ok(())
            }
            None => Err(Error::Aws {
                operation: call,
                message: "service error: ValidationError: AutoScalingGroup name not found"
                    .to_string(),
            }),
        }
    }

    async fn start_token(&self, parameter: &str) -> Result<Secret, Error> {
        let call = format!("GetParameter {parameter}");
        self.recorder.call(&call)?;
        lock(&self.token)
            .clone()
            .map(Secret::new)
            .ok_or(Error::Aws {
                operation: call,
                message: "service error: ParameterNotFound".to_string(),
            })
    }
}
