//! Logging: `tracing` as text for people or JSON for Application Insights.
//!
//! The Functions host relays the handler's stdout at Information and stderr at Error, so the
//! services log to stdout and the level is carried in the line itself. Commands whose stdout
//! is their result (`azcops collect`, `azcops enqueue`) log to stderr instead.

use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogConfig, LogFormat};

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Stdout,
    Stderr,
}

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init(config: &LogConfig, output: Output) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.filter)
        .map_err(|e| anyhow::anyhow!("configuration: RUST_LOG: invalid filter: {e}"))?;
    let registry = tracing_subscriber::registry().with(filter);
    let (writer, terminal) = match output {
        Output::Stdout => (
            BoxMakeWriter::new(std::io::stdout),
            std::io::IsTerminal::is_terminal(&std::io::stdout()),
        ),
        Output::Stderr => (
            BoxMakeWriter::new(std::io::stderr),
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
        ),
    };
    match config.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(writer),
            )
            .try_init()?,
        // Colours only for a terminal: under the Functions host stdout lands in its log.
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_target(false)
                    .with_ansi(terminal)
                    .with_writer(writer),
            )
            .try_init()?,
    }
    Ok(())
}
