//! The Function URL request (payload format 2.0) -> [`Request`]: the route, the
//! credentials it carries and its raw body (decoded when Lambda sent it base64); and,
//! once its signature is verified, a Discord interaction's body -> [`Command`].
//! Pure: no I/O.

use std::fmt;

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use base64::Engine;
use cm_core::registry;
use cm_core::Error;
use serde::Deserialize;
use serde_json::Value;

use crate::config::Config;

/// The largest body read: Discord's interactions are a few KiB; the other routes
/// take none.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A value that must never be logged or shown: its `Debug` and `Display` say only
/// that it is hidden.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the comparison only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(hidden)")
    }
}

/// What was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /`: the status page.
    Page,
    /// `GET /status`: the same as JSON.
    Status,
    /// `POST /start/{name}`.
    Start {
        name: String,
    },
    /// `POST /discord`: Discord's interactions endpoint.
    Discord,
    /// A body over [`MAX_BODY_BYTES`].
    TooLarge,
    NotFound,
    /// A known path with another method; `allow` is the method it takes.
    MethodNotAllowed {
        allow: &'static str,
    },
}

impl Route {
    /// A short name for logs and the outcome.
    pub fn label(&self) -> &'static str {
        match self {
            Route::Page => "page",
            Route::Status => "status",
            Route::Start { .. } => "start",
            Route::Discord => "discord",
            Route::TooLarge => "too-large",
            Route::NotFound => "not-found",
            Route::MethodNotAllowed { .. } => "method-not-allowed",
        }
    }
}

/// One request, as the panel needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub route: Route,
    /// The token of an `Authorization: Bearer <token>` header (`None`: no such
    /// header, another scheme, or an empty token).
    pub bearer: Option<Secret>,
    /// `X-Signature-Ed25519`, as sent.
    pub signature: Option<String>,
    /// `X-Signature-Timestamp`, as sent.
    pub timestamp: Option<String>,
    /// The raw body, exactly as signed (empty when too large).
    pub body: Vec<u8>,
}

/// The Function URL request -> [`Request`]. An event that is not a Function URL
/// request, or a base64 body that does not decode, is an `InvalidEvent`.
pub fn parse(event: &Value, _config: &Config) -> Result<Request, Error> {
    let request = LambdaFunctionUrlRequest::deserialize(event)
        .map_err(|e| Error::invalid_event(format!("not a Function URL request: {e}")))?;
    let method = request
        .request_context
        .http
        .method
        .clone()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| Error::invalid_event("requestContext.http.method is missing"))?
        .to_ascii_uppercase();
    let path = request
        .raw_path
        .clone()
        .or_else(|| request.request_context.http.path.clone())
        .filter(|p| p.starts_with('/'))
        .ok_or_else(|| Error::invalid_event("rawPath is missing or does not start with /"))?;
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
    };
    let body = match &request.body {
        None => Vec::new(),
        Some(body) if request.is_base64_encoded => base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| Error::invalid_event(format!("body is not valid base64: {e}")))?,
        Some(body) => body.as_bytes().to_vec(),
    };
    let (route, body) = if body.len() > MAX_BODY_BYTES {
        (Route::TooLarge, Vec::new())
    } else {
        (route(&method, &path), body)
    };
    Ok(Request {
        method,
        path,
        route,
        bearer: header("authorization").and_then(|v| bearer(&v)),
        signature: header("x-signature-ed25519"),
        timestamp: header("x-signature-timestamp"),
        body,
    })
}

/// The route of `method` `path`.
pub fn route(method: &str, path: &str) -> Route {
    let (route, allow) = match path {
        "/" => (Route::Page, "GET"),
        "/status" => (Route::Status, "GET"),
        "/discord" => (Route::Discord, "POST"),
        _ => match path.strip_prefix("/start/") {
            Some(name) if registry::is_container_name(name) => (
                Route::Start {
                    name: name.to_string(),
                },
                "POST",
            ),
            _ => return Route::NotFound,
        },
    };
    if method == allow {
        route
    } else {
        Route::MethodNotAllowed { allow }
    }
}

/// `Bearer <token>` (the scheme in any case) -> the token.
fn bearer(value: &str) -> Option<Secret> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| Secret::new(token))
}

/// A Discord interaction, once its signature is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Type 1: Discord checking the endpoint.
    Ping,
    /// `/status`
    Status,
    /// `/start name:<container>`; `None` when the option is missing.
    Start { name: Option<String> },
    /// Another slash command.
    Unknown { name: String },
    /// Another interaction type (a button, an autocomplete, a modal).
    Unsupported { kind: i64 },
}

/// The interaction's body -> [`Command`]; the error says what is wrong.
pub fn interaction(body: &[u8]) -> Result<Command, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let kind = doc
        .get("type")
        .and_then(Value::as_i64)
        .ok_or("the interaction has no numeric type")?;
    match kind {
        1 => Ok(Command::Ping),
        2 => {
            let data = doc.get("data").ok_or("the command has no data")?;
            let name = data
                .get("name")
                .and_then(Value::as_str)
                .ok_or("the command has no name")?;
            match name {
                "status" => Ok(Command::Status),
                "start" => {
                    let option = data
                        .get("options")
                        .and_then(Value::as_array)
                        .and_then(|options| {
                            options
                                .iter()
                                .find(|o| o.get("name").and_then(Value::as_str) == Some("name"))
                        })
                        .and_then(|o| o.get("value"))
                        .and_then(Value::as_str)
                        .map(|v| v.trim().to_ascii_lowercase());
                    Ok(Command::Start { name: option })
                }
                other => Ok(Command::Unknown {
                    name: other.chars().take(32).collect(),
                }),
            }
        }
        other => Ok(Command::Unsupported { kind: other }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_method_and_path() {
        assert_eq!(route("GET", "/"), Route::Page);
        assert_eq!(route("GET", "/status"), Route::Status);
        assert_eq!(
            route("POST", "/start/mc"),
            Route::Start { name: "mc".into() }
        );
        assert_eq!(route("POST", "/discord"), Route::Discord);
        assert_eq!(route("POST", "/"), Route::MethodNotAllowed { allow: "GET" });
        assert_eq!(
            route("GET", "/start/mc"),
            Route::MethodNotAllowed { allow: "POST" }
        );
        assert_eq!(
            route("GET", "/discord"),
            Route::MethodNotAllowed { allow: "POST" }
        );
        for path in [
            "/x",
            "/status/",
            "/start/",
            "/start/MC",
            "/start/a/b",
            "/start/-x",
            "/start/%2e%2e",
            "//",
        ] {
            assert_eq!(route("POST", path), Route::NotFound, "{path}");
        }
    }

    #[test]
    fn reads_only_bearer_tokens() {
        assert_eq!(bearer("Bearer abc"), Some(Secret::new("abc")));
        assert_eq!(bearer("bearer  abc "), Some(Secret::new("abc")));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(format!("{:?}", Secret::new("abc")), "Secret(hidden)");
    }

    #[test]
    fn reads_interactions() {
        assert_eq!(interaction(br#"{"type":1}"#), Ok(Command::Ping));
        assert_eq!(
            interaction(br#"{"type":2,"data":{"name":"status"}}"#),
            Ok(Command::Status)
        );
        assert_eq!(
            interaction(
                br#"{"type":2,"data":{"name":"start","options":[{"name":"name","type":3,"value":" MC "}]}}"#
            ),
            Ok(Command::Start {
                name: Some("mc".into())
            })
        );
        assert_eq!(
            interaction(br#"{"type":2,"data":{"name":"start"}}"#),
            Ok(Command::Start { name: None })
        );
        assert_eq!(
            interaction(br#"{"type":2,"data":{"name":"stop"}}"#),
            Ok(Command::Unknown {
                name: "stop".into()
            })
        );
        assert_eq!(
            interaction(br#"{"type":3}"#),
            Ok(Command::Unsupported { kind: 3 })
        );
        for bad in [&b"{"[..], br#"{"type":"1"}"#, br#"{"type":2}"#] {
            assert!(interaction(bad).is_err());
        }
    }
}
