//! [`Cloud`] in memory, for fast tests: the hosted zone's records (listed in Route
//! 53's order, in pages), Auto Scaling groups by region with their desired capacity,
//! the keep-alive data points put in each region, every call recorded (with failures
//! injected per operation through [`Recorder::fail`]), and a clock moved by hand.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cm_core::fake::{lock, Recorder};
use cm_core::registry::{self, Entry, Record, RecordPage, RecordStart};
use cm_core::Error;

use crate::cache::Clock;
use crate::cloud::{Cloud, Scaled};
use crate::config::{KeepAliveMetric, DIMENSION};
use crate::decide::Datum;

/// One PutMetricData data point.
pub use cm_core::fake::Datapoint;

#[derive(Debug)]
pub struct FakeCloud {
    pub recorder: Recorder,
    records: Mutex<Vec<Record>>,
    page_size: Mutex<usize>,
    /// By (region, group).
    groups: Mutex<BTreeMap<(String, String), i32>>,
    /// (region, data point), in the order put.
    datapoints: Mutex<Vec<(String, Datapoint)>>,
}

impl Default for FakeCloud {
    fn default() -> Self {
        FakeCloud {
            recorder: Recorder::default(),
            records: Mutex::new(Vec::new()),
            page_size: Mutex::new(300),
            groups: Mutex::new(BTreeMap::new()),
            datapoints: Mutex::new(Vec::new()),
        }
    }
}

/// Route 53's listing order: the name's labels reversed, then the type.
fn order(name: &str, kind: &str) -> (Vec<String>, String) {
    let labels = name
        .trim_end_matches('.')
        .to_ascii_lowercase()
        .split('.')
        .rev()
        .map(str::to_string)
        .collect();
    (labels, kind.to_string())
}

impl FakeCloud {
    /// Adds a record set (the name as Route 53 lists it, with its trailing dot).
    pub fn add_record(&self, name: &str, kind: &str, values: &[&str]) {
        let mut records = lock(&self.records);
        records.push(Record {
            name: name.to_string(),
            kind: kind.to_string(),
            values: values.iter().map(|v| v.to_string()).collect(),
        });
        records.sort_by_key(|r| order(&r.name, &r.kind));
    }

    /// Registers `entry` under `domain` as a container's stack does.
    pub fn register(&self, entry: &Entry, domain: &str) {
        self.add_record(
            &format!("{}.", registry::record_name(&entry.name, domain)),
            "TXT",
            &[&format!("\"{}\"", registry::format_value(entry))],
        );
    }

    /// Removes the container's entry, as deleting its stack does.
    pub fn deregister(&self, name: &str, domain: &str) {
        let record = format!("{}.", registry::record_name(name, domain));
        lock(&self.records).retain(|r| r.name != record);
    }

    /// Registers `entry` and creates its group in its region at `desired`.
    pub fn add_container(&self, entry: &Entry, domain: &str, desired: i32) {
        self.register(entry, domain);
        self.add_group(&entry.region, &entry.asg, desired);
    }

    /// How many records a page of the listing holds.
    pub fn set_page_size(&self, size: usize) {
        *lock(&self.page_size) = size.max(1);
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
        self.recorder.call(format!(
            "ListResourceRecordSets {zone} {} {}",
            start.name, start.kind
        ))?;
        let records = lock(&self.records);
        let size = *lock(&self.page_size);
        let from = order(&start.name, &start.kind);
        let rest: Vec<&Record> = records
            .iter()
            .filter(|r| order(&r.name, &r.kind) >= from)
            .collect();
        let page: Vec<Record> = rest.iter().take(size).map(|r| (*r).clone()).collect();
        let next = rest.get(size).map(|r| RecordStart {
            name: r.name.clone(),
            kind: r.kind.clone(),
        });
        Ok(RecordPage {
            records: page,
            next,
        })
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

    async fn put_keep_alive(
        &self,
        region: &str,
        metric: &KeepAliveMetric,
        datums: &[Datum],
    ) -> Result<(), Error> {
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
