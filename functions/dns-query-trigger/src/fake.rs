//! [`Cloud`] in memory, for fast tests: Auto Scaling groups with their desired
//! capacity, the keep-alive data points put, and every call recorded (with failures
//! injected per operation through [`Recorder::fail`]).

use std::collections::BTreeMap;
use std::sync::Mutex;

use cm_core::fake::{lock, Recorder};
use cm_core::Error;

use crate::cloud::Cloud;
use crate::config::KeepAliveMetric;

/// One PutMetricData data point.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    pub namespace: String,
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
    pub unit: String,
    pub value: f64,
}

#[derive(Debug, Default)]
pub struct FakeCloud {
    pub recorder: Recorder,
    groups: Mutex<BTreeMap<String, i32>>,
    datapoints: Mutex<Vec<Datapoint>>,
}

impl FakeCloud {
    /// One group at `desired`.
    pub fn with_group(name: &str, desired: i32) -> Self {
        let fake = FakeCloud::default();
        lock(&fake.groups).insert(name.to_string(), desired);
        fake
    }

    /// The group's desired capacity, `None` when it does not exist.
    pub fn desired(&self, name: &str) -> Option<i32> {
        lock(&self.groups).get(name).copied()
    }

    pub fn datapoints(&self) -> Vec<Datapoint> {
        lock(&self.datapoints).clone()
    }
}

impl Cloud for FakeCloud {
    async fn set_desired_capacity(&self, asg_name: &str, desired: i32) -> Result<(), Error> {
        let call = format!("UpdateAutoScalingGroup {asg_name} DesiredCapacity={desired}");
        self.recorder.call(&call)?;
        match lock(&self.groups).get_mut(asg_name) {
            Some(current) => {
                *current = desired;
                Ok(())
            }
            None => Err(Error::Aws {
                operation: call,
                message: "service error: ValidationError: AutoScalingGroup name not found"
                    .to_string(),
            }),
        }
    }

    async fn put_keep_alive(&self, metric: &KeepAliveMetric) -> Result<(), Error> {
        self.recorder.call(format!(
            "PutMetricData {}/{}={}",
            metric.namespace, metric.name, metric.value
        ))?;
        lock(&self.datapoints).push(Datapoint {
            namespace: metric.namespace.clone(),
            name: metric.name.clone(),
            dimensions: metric.dimensions.clone(),
            unit: metric.unit.as_str().to_string(),
            value: metric.value,
        });
        Ok(())
    }
}
