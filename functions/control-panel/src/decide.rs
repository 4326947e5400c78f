//! The decisions, pure: who may do what ([`admit`]: the route, the Discord signature
//! and its timestamp; [`authorized`]: the start token, compared in constant time),
//! each container's state from its group ([`state`]), and what to answer or do
//! ([`decide`]).

use std::collections::{BTreeMap, BTreeSet};

use cm_core::autoscaling::GroupState;
use cm_core::registry::{self, Entry};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::parse::{interaction, Command, Request, Route, Secret};

/// How far a Discord request's timestamp may be from the clock, either way.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// A container's state, from its Auto Scaling group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Desired 0 and no instance.
    Asleep,
    /// Desired 1 or more and no InService instance yet.
    Starting,
    /// An InService instance.
    Up,
    /// Desired 0 with instances still there.
    Stopping,
    /// The group could not be read (it does not exist, or its region did not answer).
    Unknown,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Asleep => "asleep",
            State::Starting => "starting",
            State::Up => "up",
            State::Stopping => "stopping",
            State::Unknown => "unknown",
        }
    }
}

/// The state of a container whose group is `group` (`None`: not read).
pub fn state(group: Option<&GroupState>) -> State {
    let Some(group) = group else {
        return State::Unknown;
    };
    if group.instances.iter().any(|(_, s)| s == "InService") {
        State::Up
    } else if group.desired_capacity >= 1 {
        State::Starting
    } else if group.instances.is_empty() {
        State::Asleep
    } else {
        State::Stopping
    }
}

/// One container as the page, the JSON and Discord show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerView {
    pub name: String,
    pub state: State,
    /// `<name>.<domain>`
    pub address: String,
    /// The latest count of the presence probe; `None` when it reported none lately.
    pub players: Option<u64>,
}

/// Why a Discord request is refused (for the log; the answer is a bare 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    MissingHeaders,
    BadSignature,
    WrongSignature,
    BadTimestamp,
    StaleTimestamp,
}

impl Denied {
    pub fn as_str(self) -> &'static str {
        match self {
            Denied::MissingHeaders => "X-Signature-Ed25519 or X-Signature-Timestamp missing",
            Denied::BadSignature => "the signature is not 64 bytes in hex",
            Denied::WrongSignature => "the signature does not verify",
            Denied::BadTimestamp => "the timestamp is not a number of seconds",
            Denied::StaleTimestamp => "the timestamp is more than 5 minutes from now",
        }
    }
}

/// Checks a Discord request: the Ed25519 signature of `timestamp` + `body` by `key`
/// first, then the timestamp within [`MAX_CLOCK_SKEW_SECONDS`] of `now` (Unix
/// seconds).
pub fn verify_discord(
    key: &VerifyingKey,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), Denied> {
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(Denied::MissingHeaders);
    };
    let mut bytes = [0u8; 64];
    hex::decode_to_slice(signature, &mut bytes).map_err(|_| Denied::BadSignature)?;
    let signature = Signature::from_bytes(&bytes);
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body);
    key.verify_strict(&message, &signature)
        .map_err(|_| Denied::WrongSignature)?;
    let sent: i64 = timestamp
        .parse()
        .ok()
        .filter(|_| timestamp.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(Denied::BadTimestamp)?;
    if (now - sent).abs() > MAX_CLOCK_SKEW_SECONDS {
        return Err(Denied::StaleTimestamp);
    }
    Ok(())
}

/// Whether `bearer` is the start token. Both are hashed first, so the comparison
/// takes the same time whatever their lengths and contents; an empty stored token
/// lets no one in.
pub fn authorized(token: &Secret, bearer: &Secret) -> bool {
    let token = token.expose().trim();
    if token.is_empty() {
        return false;
    }
    let a = Sha256::digest(token.as_bytes());
    let b = Sha256::digest(bearer.expose().as_bytes());
    bool::from(a.as_slice().ct_eq(b.as_slice()))
}

/// What to answer, before any read or write.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The HTML status page of `domain`.
    Page {
        domain: String,
        containers: Vec<ContainerView>,
    },
    /// `{"containers": [...]}`
    Status(Vec<ContainerView>),
    /// 202: the container's group was set to 1.
    Started { name: String, address: String },
    /// A JSON error `{"error": message}` with this status (401, 404, 405, 413, 502,
    /// 503...); `allow` for a 405.
    Error {
        status: u16,
        message: String,
        allow: Option<&'static str>,
    },
    /// Discord's PING answered: `{"type":1}`.
    Pong,
    /// A Discord message: `{"type":4,"data":{"content":...}}`.
    Discord(String),
}

impl Answer {
    pub fn error(status: u16, message: impl Into<String>) -> Answer {
        Answer::Error {
            status,
            message: message.into(),
            allow: None,
        }
    }

    pub fn unauthorized() -> Answer {
        Answer::error(401, "unauthorized")
    }
}

/// The request, admitted: what it asks for once routed and authenticated as far as
/// the request alone allows.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Answered from the request alone (refused, PING, unknown route...); `note`
    /// says why for the log.
    Answer {
        answer: Answer,
        note: Option<String>,
    },
    Page,
    Status,
    /// `POST /start/{name}` with a bearer token, yet to be compared.
    Start {
        name: String,
        bearer: Secret,
    },
    DiscordStatus,
    DiscordStart {
        name: String,
    },
}

impl Input {
    /// Whether it answers Discord (and so must answer within Discord's 3 seconds).
    pub fn is_discord(&self) -> bool {
        matches!(self, Input::DiscordStatus | Input::DiscordStart { .. })
    }
}

fn answer(answer: Answer, note: impl Into<Option<String>>) -> Input {
    Input::Answer {
        answer,
        note: note.into(),
    }
}

/// Routes the request; a Discord request is verified here, before its body is read.
/// `now`: Unix seconds.
pub fn admit(config: &Config, request: &Request, now: i64) -> Input {
    match &request.route {
        Route::Page => Input::Page,
        Route::Status => Input::Status,
        Route::NotFound => answer(Answer::error(404, "not found"), None),
        Route::TooLarge => answer(Answer::error(413, "the body is too large"), None),
        Route::MethodNotAllowed { allow } => answer(
            Answer::Error {
                status: 405,
                message: "method not allowed".into(),
                allow: Some(allow),
            },
            None,
        ),
        Route::Start { name } => match &request.bearer {
            None => answer(
                Answer::unauthorized(),
                "no Authorization: Bearer header".to_string(),
            ),
            Some(bearer) => Input::Start {
                name: name.clone(),
                bearer: bearer.clone(),
            },
        },
        Route::Discord => {
            let Some(key) = &config.discord_public_key else {
                return answer(
                    Answer::error(404, "not found"),
                    "DISCORD_PUBLIC_KEY is not set".to_string(),
                );
            };
            if let Err(denied) = verify_discord(
                key,
                request.signature.as_deref(),
                request.timestamp.as_deref(),
                &request.body,
                now,
            ) {
                return answer(Answer::unauthorized(), denied.as_str().to_string());
            }
            match interaction(&request.body) {
                Err(why) => answer(Answer::error(400, "not an interaction"), why),
                Ok(Command::Ping) => answer(Answer::Pong, None),
                Ok(Command::Status) => Input::DiscordStatus,
                Ok(Command::Start { name: Some(name) }) if registry::is_container_name(&name) => {
                    Input::DiscordStart { name }
                }
                Ok(Command::Start { name: Some(_) }) => answer(
                    Answer::Discord(
                        "A container's name is lower-case letters, digits and hyphens.".into(),
                    ),
                    None,
                ),
                Ok(Command::Start { name: None }) => answer(
                    Answer::Discord("Give the container's name: `/start name:<container>`.".into()),
                    None,
                ),
                Ok(Command::Unknown { name }) => answer(
                    Answer::Discord("This panel knows `/status` and `/start`.".into()),
                    format!("unknown command {name:?}"),
                ),
                Ok(Command::Unsupported { kind }) => answer(
                    Answer::error(400, "unsupported interaction type"),
                    format!("interaction type {kind}"),
                ),
            }
        }
    }
}

/// What was read before deciding.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The registry's entries; `Err`: why it could not be read; `None`: not read.
    pub registry: Option<Result<Vec<Entry>, String>>,
    /// The groups read, by container name.
    pub groups: BTreeMap<String, GroupState>,
    /// The containers whose group could not be read (its region did not answer).
    pub unread: BTreeSet<String>,
    /// The latest `Players` data point, by container name.
    pub players: BTreeMap<String, f64>,
    /// Whether the bearer token matched the start token; `Err`: why the token could
    /// not be read; `None`: not read.
    pub authorized: Option<Result<bool, String>>,
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Answer {
        answer: Answer,
        note: Option<String>,
    },
    /// Set the entry's group to 1, then answer the way `reply` says.
    Start { entry: Entry, reply: Reply },
}

/// Who asked for a start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Http,
    Discord,
}

/// Each registered container with its state, address and players, by name.
pub fn views(config: &Config, entries: &[Entry], observed: &Observed) -> Vec<ContainerView> {
    let mut views: Vec<ContainerView> = entries
        .iter()
        .map(|e| ContainerView {
            name: e.name.clone(),
            state: state(observed.groups.get(&e.name)),
            address: format!("{}.{}", e.name, config.domain_name),
            players: observed
                .players
                .get(&e.name)
                .filter(|p| p.is_finite() && **p >= 0.0 && **p < 1e9)
                .map(|p| p.round() as u64),
        })
        .collect();
    views.sort_by(|a, b| a.name.cmp(&b.name));
    views
}

/// The `/status` message for Discord (within its 2,000 characters).
pub fn discord_status(config: &Config, views: &[ContainerView]) -> String {
    if views.is_empty() {
        return format!("No container is registered under {}.", config.domain_name);
    }
    let mut lines = Vec::new();
    for v in views {
        let players = match v.players {
            Some(1) => ", 1 player".to_string(),
            Some(n) => format!(", {n} players"),
            None => String::new(),
        };
        lines.push(format!(
            "**{}**: {}{} ({})",
            v.name,
            v.state.as_str(),
            players,
            v.address
        ));
    }
    truncate(lines.join("\n"), 2000)
}

fn truncate(text: String, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text;
    }
    let mut cut: String = text.chars().take(max_chars - 1).collect();
    cut.push('…');
    cut
}

fn find<'a>(entries: &'a [Entry], name: &str) -> Option<&'a Entry> {
    entries.iter().find(|e| e.name == name)
}

/// The plan for `input` given what was read.
pub fn decide(config: &Config, input: &Input, observed: &Observed) -> Plan {
    let answer = |answer: Answer, note: Option<String>| Plan::Answer { answer, note };
    let registry = || match &observed.registry {
        Some(Ok(entries)) => Ok(entries.as_slice()),
        Some(Err(why)) => Err(why.clone()),
        None => Err("the registry was not read".to_string()),
    };
    match input {
        Input::Answer { answer: a, note } => answer(a.clone(), note.clone()),
        Input::Page | Input::Status | Input::DiscordStatus => match registry() {
            Err(why) => answer(
                if input.is_discord() {
                    Answer::Discord("The container list could not be read; try again.".into())
                } else {
                    Answer::error(502, "the container list could not be read")
                },
                Some(why),
            ),
            Ok(entries) => {
                let views = views(config, entries, observed);
                let note = (!observed.unread.is_empty()).then(|| {
                    format!(
                        "groups not read: {}",
                        observed
                            .unread
                            .iter()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
                match input {
                    Input::Page => answer(
                        Answer::Page {
                            domain: config.domain_name.clone(),
                            containers: views,
                        },
                        note,
                    ),
                    Input::Status => answer(Answer::Status(views), note),
                    _ => answer(Answer::Discord(discord_status(config, &views)), note),
                }
            }
        },
        Input::Start { name, .. } => match &observed.authorized {
            Some(Ok(true)) => match registry() {
                Err(why) => answer(
                    Answer::error(502, "the container list could not be read"),
                    Some(why),
                ),
                Ok(entries) => match find(entries, name) {
                    None => answer(
                        Answer::error(404, format!("no container named {name}")),
                        None,
                    ),
                    Some(entry) => Plan::Start {
                        entry: entry.clone(),
                        reply: Reply::Http,
                    },
                },
            },
            Some(Ok(false)) => answer(
                Answer::unauthorized(),
                Some("the bearer token is not the start token".into()),
            ),
            Some(Err(why)) => answer(
                Answer::error(503, "the start token could not be read"),
                Some(why.clone()),
            ),
            None => answer(
                Answer::error(503, "the start token could not be read"),
                Some("the start token was not read".into()),
            ),
        },
        Input::DiscordStart { name } => match registry() {
            Err(why) => answer(
                Answer::Discord("The container list could not be read; try again.".into()),
                Some(why),
            ),
            Ok(entries) => match find(entries, name) {
                Some(entry) => Plan::Start {
                    entry: entry.clone(),
                    reply: Reply::Discord,
                },
                None => {
                    let mut known: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
                    known.sort_unstable();
                    let known = if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    };
                    answer(
                        Answer::Discord(truncate(
                            format!("No container is named `{name}`. Known: {known}."),
                            2000,
                        )),
                        None,
                    )
                }
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cm_core::testing::registry_entry as entry;
    use ed25519_dalek::{Signer, SigningKey};

    fn group(desired: i32, states: &[&str]) -> GroupState {
        GroupState {
            desired_capacity: desired,
            instances: states
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("i-{i}"), s.to_string()))
                .collect(),
        }
    }

    #[test]
    fn the_state_follows_the_group() {
        assert_eq!(state(Some(&group(0, &[]))), State::Asleep);
        assert_eq!(state(Some(&group(1, &[]))), State::Starting);
        assert_eq!(state(Some(&group(1, &["Pending"]))), State::Starting);
        assert_eq!(state(Some(&group(1, &["Pending:Wait"]))), State::Starting);
        assert_eq!(state(Some(&group(1, &["InService"]))), State::Up);
        assert_eq!(state(Some(&group(0, &["InService"]))), State::Up);
        assert_eq!(
            state(Some(&group(2, &["Terminating", "InService"]))),
            State::Up
        );
        assert_eq!(
            state(Some(&group(0, &["Terminating:Wait"]))),
            State::Stopping
        );
        assert_eq!(state(None), State::Unknown);
        assert_eq!(serde_json::to_value(State::Asleep).unwrap(), "asleep");
    }

    fn config(key: Option<VerifyingKey>) -> Config {
        Config {
            domain_name: "example.com".into(),
            hosted_zone_id: "Z1".into(),
            start_token_parameter: "/cm/token".into(),
            discord_public_key: key,
            metric_namespace: "ContainerManager".into(),
        }
    }

    fn signed(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
        let mut message = timestamp.as_bytes().to_vec();
        message.extend_from_slice(body);
        hex::encode(key.sign(&message).to_bytes())
    }

    #[test]
    fn discord_requests_are_verified_before_their_timestamp() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let public = key.verifying_key();
        let body = br#"{"type":1}"#;
        let sig = signed(&key, "1000", body);
        assert_eq!(
            verify_discord(&public, Some(&sig), Some("1000"), body, 1000),
            Ok(())
        );
        assert_eq!(
            verify_discord(&public, Some(&sig), Some("1000"), body, 1300),
            Ok(())
        );
        assert_eq!(
            verify_discord(&public, Some(&sig), Some("1000"), body, 1301),
            Err(Denied::StaleTimestamp)
        );
        assert_eq!(
            verify_discord(&public, Some(&sig), Some("1000"), body, 699),
            Err(Denied::StaleTimestamp)
        );
        assert_eq!(
            verify_discord(&public, Some(&sig), Some("1000"), br#"{"type":2}"#, 1000),
            Err(Denied::WrongSignature)
        );
        assert_eq!(
            verify_discord(&public, Some(&sig), Some("1001"), body, 1000),
            Err(Denied::WrongSignature)
        );
        assert_eq!(
            verify_discord(&public, Some("zz"), Some("1000"), body, 1000),
            Err(Denied::BadSignature)
        );
        assert_eq!(
            verify_discord(&public, None, Some("1000"), body, 1000),
            Err(Denied::MissingHeaders)
        );
        let other = SigningKey::from_bytes(&[8u8; 32]);
        assert_eq!(
            verify_discord(
                &public,
                Some(&signed(&other, "1000", body)),
                Some("1000"),
                body,
                1000
            ),
            Err(Denied::WrongSignature)
        );
        let odd = signed(&key, "+1000", body);
        assert_eq!(
            verify_discord(&public, Some(&odd), Some("+1000"), body, 1000),
            Err(Denied::BadTimestamp)
        );
    }

    #[test]
    fn only_the_start_token_is_authorized() {
        let token = Secret::new("s3cret-token");
        assert!(authorized(&token, &Secret::new("s3cret-token")));
        assert!(authorized(
            &Secret::new("s3cret-token\n"),
            &Secret::new("s3cret-token")
        ));
        assert!(!authorized(&token, &Secret::new("s3cret-tokeN")));
        assert!(!authorized(&token, &Secret::new("s3cret")));
        assert!(!authorized(&Secret::new(" "), &Secret::new(" ")));
    }

    fn observed() -> Observed {
        let mut o = Observed {
            registry: Some(Ok(vec![entry("vh", "eu-west-1"), entry("mc", "us-east-1")])),
            ..Observed::default()
        };
        o.groups.insert("mc".into(), group(1, &["InService"]));
        o.players.insert("mc".into(), 2.0);
        o
    }

    #[test]
    fn the_status_lists_every_registered_container() {
        let cfg = config(None);
        let Plan::Answer {
            answer: Answer::Status(views),
            note,
        } = decide(&cfg, &Input::Status, &observed())
        else {
            panic!("not a status");
        };
        assert_eq!(note, None);
        assert_eq!(
            views,
            vec![
                ContainerView {
                    name: "mc".into(),
                    state: State::Up,
                    address: "mc.example.com".into(),
                    players: Some(2)
                },
                ContainerView {
                    name: "vh".into(),
                    state: State::Unknown,
                    address: "vh.example.com".into(),
                    players: None
                },
            ]
        );
        let Plan::Answer {
            answer: Answer::Discord(text),
            ..
        } = decide(&cfg, &Input::DiscordStatus, &observed())
        else {
            panic!("not a message");
        };
        assert_eq!(
            text,
            "**mc**: up, 2 players (mc.example.com)\n**vh**: unknown (vh.example.com)"
        );
        let failed = Observed {
            registry: Some(Err("throttled".into())),
            ..Observed::default()
        };
        assert!(matches!(
            decide(&cfg, &Input::Page, &failed),
            Plan::Answer {
                answer: Answer::Error { status: 502, .. },
                note: Some(_)
            }
        ));
    }

    #[test]
    fn a_start_needs_the_token_and_a_registered_name() {
        let cfg = config(None);
        let start = |name: &str| Input::Start {
            name: name.into(),
            bearer: Secret::new("t"),
        };
        let mut o = observed();
        o.authorized = Some(Ok(true));
        assert_eq!(
            decide(&cfg, &start("mc"), &o),
            Plan::Start {
                entry: entry("mc", "us-east-1"),
                reply: Reply::Http
            }
        );
        assert!(matches!(
            decide(&cfg, &start("nope"), &o),
            Plan::Answer {
                answer: Answer::Error { status: 404, .. },
                ..
            }
        ));
        o.authorized = Some(Ok(false));
        assert!(matches!(
            decide(&cfg, &start("mc"), &o),
            Plan::Answer {
                answer: Answer::Error { status: 401, .. },
                ..
            }
        ));
        o.authorized = Some(Err("AccessDenied".into()));
        assert!(matches!(
            decide(&cfg, &start("mc"), &o),
            Plan::Answer {
                answer: Answer::Error { status: 503, .. },
                ..
            }
        ));
        let discord = Input::DiscordStart { name: "zz".into() };
        assert_eq!(
            decide(&cfg, &discord, &observed()),
            Plan::Answer {
                answer: Answer::Discord("No container is named `zz`. Known: mc, vh.".into()),
                note: None
            }
        );
    }

    #[test]
    fn long_messages_are_cut_to_discords_limit() {
        let cut = truncate("é".repeat(2500), 2000);
        assert_eq!(cut.chars().count(), 2000);
        assert!(cut.ends_with('…'));
    }
}
