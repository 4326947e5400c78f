//! What one invocation saw and did: the invocation's response, and its log line.

use std::fmt;

use serde::Serialize;

/// A call that changed something.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "call")]
pub enum Action {
    /// One data point (`Players`, or `SecondsToPlayable` with the first answer).
    PutMetricData {
        namespace: String,
        metric: String,
        value: f64,
    },
    /// The first answer since the launch, marked on the instance.
    CreateTags {
        instance_id: String,
        key: String,
        value: String,
    },
    /// A server that never answered within the boot grace: the group to 0.
    UpdateAutoScalingGroup {
        group: String,
        desired_capacity: i32,
    },
    /// A message to the container's topic.
    Publish {
        topic_arn: String,
        event_type: String,
        subject: String,
        message: String,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::PutMetricData {
                namespace,
                metric,
                value,
            } => write!(f, "PutMetricData {namespace}/{metric}={value}"),
            Action::CreateTags {
                instance_id,
                key,
                value,
            } => write!(f, "CreateTags {instance_id} {key}={value}"),
            Action::UpdateAutoScalingGroup {
                group,
                desired_capacity,
            } => write!(f, "UpdateAutoScalingGroup {group} {desired_capacity}"),
            Action::Publish {
                topic_arn,
                event_type,
                ..
            } => write!(f, "Publish {topic_arn} ({event_type})"),
        }
    }
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

/// Where the server stands in its start, after this invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Boot {
    /// It answered for the first time since its instance launched: it is playable.
    FirstAnswer,
    /// It has answered since its launch: from now on the idle alarm judges it.
    AnsweredBefore,
    /// It has not answered yet, and the boot grace is not over.
    Booting,
    /// It never answered within the boot grace: it is being stopped.
    Failed,
    /// It never answered within the boot grace, but the group is at 0 already.
    Stopping,
    /// Its instance has no launch time: the grace cannot be judged.
    LaunchUnknown,
}

impl Boot {
    pub fn name(self) -> &'static str {
        match self {
            Boot::FirstAnswer => "first-answer",
            Boot::AnsweredBefore => "answered-before",
            Boot::Booting => "booting",
            Boot::Failed => "failed",
            Boot::Stopping => "stopping",
            Boot::LaunchUnknown => "launch-unknown",
        }
    }
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
    /// Where the server stands in its start; `None` when nothing was asked.
    pub boot: Option<Boot>,
    /// From the instance's launch to its first answer, put once per launch.
    pub seconds_to_playable: Option<i64>,
    /// While booting: how much of the boot grace is left.
    pub grace_left_seconds: Option<i64>,
    /// What was changed, in order.
    pub actions: Vec<Action>,
}

impl Outcome {
    /// The log line's message: "players: 2", "players: 0; playable after 95 s",
    /// "players unknown: no answer within 2000 ms (booting)", "players unknown: ...;
    /// no answer within the boot grace: boot failed, stopped", "not probed: ...".
    pub fn summary(&self) -> String {
        let note = self.note.as_deref().unwrap_or_default();
        match (self.presence, self.players, self.boot) {
            (Presence::Answered, Some(players), Some(Boot::FirstAnswer)) => {
                let after = self
                    .seconds_to_playable
                    .map(|s| format!(" after {s} s"))
                    .unwrap_or_default();
                format!("players: {players}; playable{after}")
            }
            (Presence::Answered, Some(players), _) => format!("players: {players}"),
            (Presence::Unknown, _, Some(Boot::Failed)) => format!(
                "players unknown: {note}; no answer within the boot grace: boot failed, stopped"
            ),
            (Presence::Unknown, _, boot) => {
                format!("players unknown: {note} ({})", boot.map_or("", Boot::name))
            }
            _ => format!("not probed: {note}"),
        }
    }
}
