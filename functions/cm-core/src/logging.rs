//! Logs through `tracing`, as Lambda's advanced logging controls define them, the way
//! lambda_runtime's own tracing set-up reads them:
//! - level: `AWS_LAMBDA_LOG_LEVEL` (Lambda sets it from `ApplicationLogLevel`), else
//!   `RUST_LOG` (the local override, which may also carry per-crate filters), else
//!   `INFO`;
//! - format: `AWS_LAMBDA_LOG_FORMAT`: `JSON` (the template's choice, and the default
//!   when unset), one flat object per line; `Text` gives plain lines.

use tracing_subscriber::EnvFilter;

/// The log format Lambda asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

/// What `init` sets up, from the variables' values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub format: Format,
    /// `tracing_subscriber` filter directives, e.g. `info` or `warn,dns_query_trigger=debug`.
    pub filter: String,
}

impl Settings {
    pub fn from_vars(
        log_format: Option<&str>,
        lambda_level: Option<&str>,
        rust_log: Option<&str>,
    ) -> Settings {
        let format = match log_format.map(str::trim) {
            Some(f) if f.eq_ignore_ascii_case("text") => Format::Text,
            _ => Format::Json,
        };
        fn non_empty(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        let filter = non_empty(lambda_level)
            // Lambda's levels are upper case (TRACE ... FATAL); tracing has no FATAL.
            .map(|level| match level.to_ascii_lowercase().as_str() {
                "fatal" => "error".to_string(),
                other => other.to_string(),
            })
            .or_else(|| non_empty(rust_log).map(str::to_string))
            .filter(|f| EnvFilter::try_new(f).is_ok())
            .unwrap_or_else(|| "info".to_string());
        Settings { format, filter }
    }

    pub fn from_process() -> Settings {
        let var = |name| std::env::var(name).ok();
        Settings::from_vars(
            var("AWS_LAMBDA_LOG_FORMAT").as_deref(),
            var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
            var("RUST_LOG").as_deref(),
        )
    }
}

pub fn init() {
    let settings = Settings::from_process();
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_target(true)
        .with_env_filter(filter);
    // A second call (several handlers in one test process) keeps the first subscriber.
    let _ = match settings.format {
        Format::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        Format::Text => builder.without_time().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_level_wins_over_rust_log_and_info_is_the_default() {
        let s = Settings::from_vars(Some("JSON"), Some("DEBUG"), Some("warn"));
        assert_eq!((s.format, s.filter.as_str()), (Format::Json, "debug"));
        let s = Settings::from_vars(None, None, Some("warn,dns_query_trigger=trace"));
        assert_eq!(s.filter, "warn,dns_query_trigger=trace");
        let s = Settings::from_vars(None, Some(" "), None);
        assert_eq!((s.format, s.filter.as_str()), (Format::Json, "info"));
        assert_eq!(
            Settings::from_vars(None, Some("FATAL"), None).filter,
            "error"
        );
    }

    #[test]
    fn text_only_when_asked_and_bad_filters_fall_back_to_info() {
        assert_eq!(
            Settings::from_vars(Some("Text"), None, None).format,
            Format::Text
        );
        assert_eq!(
            Settings::from_vars(Some("json"), None, None).format,
            Format::Json
        );
        assert_eq!(Settings::from_vars(None, None, Some("=[")).filter, "info");
    }
}
