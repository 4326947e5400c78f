//! The one error type of Container Manager's functions.

use aws_smithy_types::error::display::DisplayErrorContext;

use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Missing or malformed environment variables.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The event could not be understood; nothing was changed.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// An AWS call failed (after the SDK's retries).
    #[error("{operation} failed: {message}")]
    Aws { operation: String, message: String },
    /// A request to a plain URL (a webhook, a CloudFormation response) failed: no HTTP
    /// answer (connection, TLS, timeout), or answers the caller gave up on (a webhook
    /// still refusing after its retries). The message never quotes the URL.
    #[error("{operation} failed: {message}")]
    Http { operation: String, message: String },
}

impl Error {
    pub fn invalid_event(message: impl Into<String>) -> Self {
        Error::InvalidEvent(message.into())
    }

    /// An SDK error with its whole chain of causes, e.g. the service's error code and
    /// message or the connection failure, not just "service error".
    pub fn aws<E: std::error::Error>(operation: impl Into<String>, err: E) -> Self {
        Error::Aws {
            operation: operation.into(),
            message: DisplayErrorContext(&err).to_string(),
        }
    }

    /// A short, stable name for the kind of error (the Lambda `errorType`).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config(_) => "ConfigError",
            Error::InvalidEvent(_) => "InvalidEvent",
            Error::Aws { .. } => "AwsError",
            Error::Http { .. } => "HttpError",
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(err: Error) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.kind().to_string(),
            error_message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("ValidationError: group not found")]
    struct Inner;

    #[test]
    fn aws_errors_keep_the_whole_cause_chain() {
        let err = Error::aws("UpdateAutoScalingGroup", Outer(Inner));
        let text = err.to_string();
        assert!(
            text.starts_with("UpdateAutoScalingGroup failed: outer"),
            "{text}"
        );
        assert!(text.contains("ValidationError: group not found"), "{text}");
        let diagnostic = lambda_runtime::Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, "AwsError");
    }
}
