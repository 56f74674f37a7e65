//! Logging: `tracing` to stdout, as text for people or JSON for Application Insights.
//!
//! The Functions host relays the handler's stdout at Information and stderr at Error, so
//! everything goes to stdout and the level is carried in the line itself.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init(config: &LogConfig) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.filter)
        .map_err(|e| anyhow::anyhow!("configuration: RUST_LOG: invalid filter: {e}"))?;
    let registry = tracing_subscriber::registry().with(filter);
    match config.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init()?,
        LogFormat::Text => {
            // Colours only for a terminal: under the Functions host stdout lands in its log.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
            registry
                .with(fmt::layer().with_target(false).with_ansi(ansi))
                .try_init()?
        }
    }
    Ok(())
}
