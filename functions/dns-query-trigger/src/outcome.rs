//! What one invocation saw and did: the invocation's response, and its log line.

use serde::Serialize;

/// A call that changed something.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "call")]
pub enum Action {
    UpdateAutoScalingGroup {
        group: String,
        desired_capacity: i32,
    },
    PutMetricData {
        namespace: String,
        metric: String,
        value: f64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `DATA_MESSAGE` or `CONTROL_MESSAGE`.
    pub message_type: String,
    pub log_group: String,
    pub lines_seen: usize,
    pub lines_matched: usize,
    /// Empty when no line asked for the container's name.
    pub actions: Vec<Action>,
}
