//! [`Cloud`] in memory, for fast tests: Auto Scaling groups with their desired
//! capacity, the keep-alive data points put, and every call recorded (with failures
//! injected per operation through [`Recorder::fail`]).

use std::sync::Mutex;

use cm_core::fake::{lock, Groups, Recorder};
use cm_core::Error;

use crate::cloud::Cloud;
use crate::config::KeepAliveMetric;

/// One PutMetricData data point.
pub use cm_core::fake::Datapoint;

#[derive(Debug, Default)]
pub struct FakeCloud {
    pub recorder: Recorder,
    groups: Groups,
    datapoints: Mutex<Vec<Datapoint>>,
}

impl FakeCloud {
    /// One group at `desired`.
    pub fn with_group(name: &str, desired: i32) -> Self {
        let fake = FakeCloud::default();
        fake.groups.insert(name, desired);
        fake
    }

    /// The group's desired capacity, `None` when it does not exist.
    pub fn desired(&self, name: &str) -> Option<i32> {
        self.groups.desired(name)
    }

    pub fn datapoints(&self) -> Vec<Datapoint> {
        lock(&self.datapoints).clone()
    }
}

impl Cloud for FakeCloud {
    async fn set_desired_capacity(&self, asg_name: &str, desired: i32) -> Result<(), Error> {
        self.groups.set_desired(&self.recorder, asg_name, desired)
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
