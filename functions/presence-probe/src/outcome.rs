//! What one invocation saw and did: the invocation's response, and its log line.

use serde::Serialize;

/// A call that changed something.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "call")]
pub enum Action {
    PutMetricData {
        namespace: String,
        metric: String,
        value: f64,
    },
}

/// What is known about players after this invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Presence {
    /// Nothing was asked (`GAME_PROTOCOL=none`, or no InService instance).
    NotProbed,
    /// The game server answered with a count.
    Answered,
    /// Asked, but no count: no answer in time, or one that could not be read.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `minecraft-java`, `minecraft-bedrock`, `a2s` or `none`.
    pub protocol: String,
    pub presence: Presence,
    /// The count put, when the server answered.
    pub players: Option<u32>,
    pub max_players: Option<u32>,
    /// `host:port` asked.
    pub target: Option<String>,
    /// The InService instance the count is about.
    pub instance_id: Option<String>,
    /// Why nothing was asked, or why the count is unknown.
    pub note: Option<String>,
    /// The schedule's rule, from the event.
    pub rule: Option<String>,
    /// Empty unless a count was put.
    pub actions: Vec<Action>,
}
