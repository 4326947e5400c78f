//! [`Cloud`] in memory, for fast tests: the hosted zone's records ([`Zone`]: listed
//! in Route 53's order, in pages), Auto Scaling groups by region with their desired
//! capacity, the keep-alive data points put in each region, every call recorded (with
//! failures injected per operation through [`Recorder::fail`]), and a clock moved by
//! hand.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cm_core::fake::{lock, Recorder, Zone};
use cm_core::registry::{Entry, RecordPage, RecordStart};
use cm_core::Error;

use crate::cache::Clock;
use crate::cloud::{Cloud, KeepAlive, Scaled};
use crate::config::DIMENSION;

/// One PutMetricData data point.
pub use cm_core::fake::Datapoint;

#[derive(Debug, Default)]
pub struct FakeCloud {
    pub recorder: Recorder,
    /// The hosted zone, which holds the registry.
    pub zone: Zone,
    /// By (region, group).
    groups: Mutex<BTreeMap<(String, String), i32>>,
    /// (region, data point), in the order put.
    datapoints: Mutex<Vec<(String, Datapoint)>>,
}

impl FakeCloud {
    /// Registers `entry` and creates its group in its region at `desired`.
    pub fn add_container(&self, entry: &Entry, domain: &str, desired: i32) {
        self.zone.register(entry, domain);
        self.add_group(&entry.region, &entry.asg, desired);
    }

    /// A group in `region` at `desired`.
    pub fn add_group(&self, region: &str, group: &str, desired: i32) {
        lock(&self.groups).insert((region.to_string(), group.to_string()), desired);
    }

    /// Deletes a group.
    pub fn remove_group(&self, region: &str, group: &str) {
        lock(&self.groups).remove(&(region.to_string(), group.to_string()));
    }

    /// The group's desired capacity, `None` when it does not exist in `region`.
    pub fn desired(&self, region: &str, group: &str) -> Option<i32> {
        lock(&self.groups)
            .get(&(region.to_string(), group.to_string()))
            .copied()
    }

    /// The data points put in `region`.
    pub fn datapoints(&self, region: &str) -> Vec<Datapoint> {
        lock(&self.datapoints)
            .iter()
            .filter(|(r, _)| r == region)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// The calls of `operation` made in `region` (the region is each regional call's
    /// first argument).
    pub fn count_in(&self, operation: &str, region: &str) -> usize {
        self.recorder
            .calls()
            .iter()
            .filter(|c| {
                let mut words = c.split_whitespace();
                words.next() == Some(operation) && words.next() == Some(region)
            })
            .count()
    }
}

impl Cloud for FakeCloud {
    async fn list_records(&self, zone: &str, start: &RecordStart) -> Result<RecordPage, Error> {
        self.zone.list(&self.recorder, zone, start)
    }

    /// A group that does not exist is [`Scaled::Gone`], as the real one reads AWS's
    /// ValidationError.
    async fn set_desired(&self, region: &str, group: &str, desired: i32) -> Result<Scaled, Error> {
        self.recorder.call(format!(
            "UpdateAutoScalingGroup {region} {group} DesiredCapacity={desired}"
        ))?;
        match lock(&self.groups).get_mut(&(region.to_string(), group.to_string())) {
            Some(current) => {
                *current = desired;
                Ok(Scaled::Done)
            }
            None => Ok(Scaled::Gone),
        }
    }

    async fn put_keep_alive(&self, region: &str, put: KeepAlive<'_>) -> Result<(), Error> {
        let (metric, datums) = (put.metric, put.datums);
        self.recorder.call(format!(
            "PutMetricData {region} {}/{} {}",
            metric.namespace,
            metric.name,
            datums
                .iter()
                .map(|d| format!("{}={}", d.container, d.value))
                .collect::<Vec<_>>()
                .join(",")
        ))?;
        lock(&self.datapoints).extend(datums.iter().map(|d| {
            (
                region.to_string(),
                Datapoint {
                    namespace: metric.namespace.clone(),
                    name: metric.name.clone(),
                    dimensions: [(DIMENSION.to_string(), d.container.clone())].into(),
                    unit: metric.unit.as_str().to_string(),
                    value: d.value,
                },
            )
        }));
        Ok(())
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    elapsed: Mutex<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            start: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
        }
    }
}

impl ManualClock {
    /// Moves the clock on by `by`.
    pub fn advance(&self, by: Duration) {
        *lock(&self.elapsed) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *lock(&self.elapsed)
    }
}
