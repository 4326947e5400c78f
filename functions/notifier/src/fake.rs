//! [`Cloud`] in memory, for fast tests: the SSM parameter, the answers each URL
//! gives (scripted), the requests each URL received, and every call recorded (with
//! failures injected per operation through [`Recorder::fail`]; an injected `Post`
//! failure is a request that got no answer).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use cm_core::fake::{lock, Recorder};
use cm_core::http::{HttpRequest, HttpResponse, Method};
use cm_core::Error;

use crate::cloud::{Cloud, ParameterValue};
use crate::decide::Rendered;
use crate::parse::Webhook;

/// One scripted answer of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scripted {
    Reply(HttpResponse),
    /// No answer at all (a timeout, a refused connection).
    NoAnswer,
}

/// A status with no header and no body.
pub fn status(code: u16) -> Scripted {
    reply(code, &[], "")
}

/// A status with headers and a body.
pub fn reply(code: u16, headers: &[(&str, &str)], body: &str) -> Scripted {
    Scripted::Reply(HttpResponse {
        status: code,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    })
}

/// A request a URL received: the POST the real cloud sends
/// ([`HttpRequest::header`] and [`HttpRequest::text`] read it).
pub type Posted = HttpRequest;

/// A posted body as JSON (`Null` when it is not JSON).
pub fn body_json(posted: &Posted) -> serde_json::Value {
    serde_json::from_slice(&posted.body).unwrap_or_default()
}

#[derive(Debug, Default)]
pub struct FakeCloud {
    pub recorder: Recorder,
    parameter: Mutex<Option<(String, ParameterValue)>>,
    scripts: Mutex<HashMap<String, VecDeque<Scripted>>>,
    posts: Mutex<Vec<Posted>>,
}

impl FakeCloud {
    /// The SecureString parameter `name` holding `value`.
    pub fn with_parameter(name: &str, value: &str) -> Self {
        Self::with_parameter_of_type(name, "SecureString", value)
    }

    /// The parameter `name` of type `parameter_type` holding `value`.
    pub fn with_parameter_of_type(name: &str, parameter_type: &str, value: &str) -> Self {
        let fake = FakeCloud::default();
        *lock(&fake.parameter) =
            Some((name.to_string(), ParameterValue::new(parameter_type, value)));
        fake
    }

    /// `url` answers `replies` in order, then the last one again and again. A URL
    /// without a script answers 204.
    pub fn script(&self, url: &str, replies: impl IntoIterator<Item = Scripted>) {
        lock(&self.scripts).insert(url.to_string(), replies.into_iter().collect());
    }

    /// Every request received, in order.
    pub fn posts(&self) -> Vec<Posted> {
        lock(&self.posts).clone()
    }

    /// The requests `url` received, in order.
    pub fn posts_to(&self, url: &str) -> Vec<Posted> {
        self.posts().into_iter().filter(|p| p.url == url).collect()
    }
}

impl Cloud for FakeCloud {
    async fn webhook_parameter(&self, name: &str) -> Result<ParameterValue, Error> {
        let call = format!("GetParameter {name}");
        self.recorder.call(&call)?;
        match &*lock(&self.parameter) {
            Some((stored, value)) if stored == name => Ok(value.clone()),
            _ => Err(Error::Aws {
                operation: call,
                message: "service error: ParameterNotFound".to_string(),
            }),
        }
    }

    async fn post(&self, webhook: &Webhook, message: &Rendered) -> Result<HttpResponse, Error> {
        self.recorder.call(format!("Post {}", webhook.label()))?;
        let next = {
            let mut scripts = lock(&self.scripts);
            match scripts.get_mut(webhook.url()) {
                None => status(204),
                Some(queue) if queue.len() > 1 => queue.pop_front().unwrap_or_else(|| status(204)),
                Some(queue) => queue.front().cloned().unwrap_or_else(|| status(204)),
            }
        };
        match next {
            Scripted::NoAnswer => Err(Error::Http {
                operation: format!("POST {}", webhook.label()),
                message: "no answer within 5000 ms (the fake)".to_string(),
            }),
            Scripted::Reply(response) => {
                lock(&self.posts).push(Posted {
                    method: Method::Post,
                    url: webhook.url().to_string(),
                    headers: message.headers.clone(),
                    body: message.body.clone(),
                });
                Ok(response)
            }
        }
    }
}
