//! What one request saw and did: the Function URL response (the invocation's
//! response) and, for the log, the route, the status, the write made and why a
//! request was refused (never a token, never the Authorization header).

use std::fmt;

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlResponse;
use aws_lambda_events::http::header::{HeaderName, HeaderValue};
use aws_lambda_events::http::HeaderMap;
use serde::Serialize;
use serde_json::json;

use crate::decide::Answer;
use crate::page;

/// A call that changed something.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "call")]
pub enum Action {
    UpdateAutoScalingGroup {
        region: String,
        group: String,
        desired_capacity: i32,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::UpdateAutoScalingGroup {
                region,
                group,
                desired_capacity,
            } => write!(
                f,
                "UpdateAutoScalingGroup {region} {group} DesiredCapacity={desired_capacity}"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `page`, `status`, `start`, `discord`, `not-found`...
    pub route: &'static str,
    /// The HTTP status answered.
    pub status: u16,
    /// How many containers were shown (status, page and Discord's `/status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containers: Option<usize>,
    pub actions: Vec<Action>,
    /// Why a request was refused or a read failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The response Lambda gives the caller (not logged).
    #[serde(skip)]
    pub response: LambdaFunctionUrlResponse,
}

impl Outcome {
    pub fn new(
        route: &'static str,
        answer: Answer,
        actions: Vec<Action>,
        note: Option<String>,
    ) -> Outcome {
        let containers = match &answer {
            Answer::Page { containers: v, .. } | Answer::Status(v) => Some(v.len()),
            _ => None,
        };
        let response = respond(&answer);
        Outcome {
            route,
            status: u16::try_from(response.status_code).unwrap_or(500),
            containers,
            actions,
            note,
            response,
        }
    }
}

fn header(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

/// The Function URL response for `answer`. Nothing is cached: states change.
pub fn respond(answer: &Answer) -> LambdaFunctionUrlResponse {
    let (status, content_type, body) = match answer {
        Answer::Page { domain, containers } => (
            200,
            "text/html; charset=utf-8",
            page::render(domain, containers),
        ),
        Answer::Status(views) => (
            200,
            "application/json",
            json!({ "containers": views }).to_string(),
        ),
        Answer::Started { name, address } => (
            202,
            "application/json",
            json!({ "name": name, "address": address, "state": "starting" }).to_string(),
        ),
        Answer::Error {
            status, message, ..
        } => (
            *status,
            "application/json",
            json!({ "error": message }).to_string(),
        ),
        Answer::Pong => (200, "application/json", json!({ "type": 1 }).to_string()),
        Answer::Discord(content) => (
            200,
            "application/json",
            json!({
                "type": 4,
                "data": { "content": content, "allowed_mentions": { "parse": [] } }
            })
            .to_string(),
        ),
    };
    let mut headers = HeaderMap::new();
    header(&mut headers, "content-type", content_type);
    header(&mut headers, "cache-control", "no-store");
    header(&mut headers, "x-content-type-options", "nosniff");
    header(&mut headers, "referrer-policy", "no-referrer");
    if let Answer::Page { .. } = answer {
        header(
            &mut headers,
            "content-security-policy",
            &page::CONTENT_SECURITY_POLICY,
        );
    }
    if let Answer::Error {
        allow: Some(allow), ..
    } = answer
    {
        header(&mut headers, "allow", allow);
    }
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = i64::from(status);
    response.headers = headers;
    response.body = Some(body);
    response.is_base64_encoded = false;
    response
}
