//! What one invocation saw and did: the invocation's response, and its log line.

use serde::Serialize;

/// A call that changed something.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "call")]
pub enum Action {
    UpdateAutoScalingGroup {
        region: String,
        group: String,
        desired_capacity: i32,
    },
    /// One data point of the region's PutMetricData.
    PutMetricData {
        region: String,
        namespace: String,
        metric: String,
        /// The `ContainerName` dimension's value.
        container: String,
        value: f64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `DATA_MESSAGE` or `CONTROL_MESSAGE`.
    pub message_type: String,
    pub log_group: String,
    pub lines_seen: usize,
    /// Lines asking for `<label>.<domain>` (a container or not).
    pub lines_matched: usize,
    /// Empty when no line asked for a registered container.
    pub actions: Vec<Action>,
    /// Labels asked for that are not in the registry (removed containers, names that
    /// never were): nothing done for them.
    pub unknown: Vec<String>,
    /// Groups of registered containers that no longer exist: nothing done for them.
    pub gone: Vec<String>,
}
