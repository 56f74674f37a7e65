//! The app as the Functions host sees it: `host.json` (custom handler, HTTP route prefix,
//! queue settings, `functionTimeout`) and one `functions/<name>/function.json` per function,
//! with `%SETTING%` references resolved from the environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::schedule::Schedule;
use crate::storage::message::MessageEncoding;

/// `customHandler.description` and the settings around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerDescription {
    /// `defaultExecutablePath`, as written.
    pub executable: String,
    /// `arguments`, `%VAR%` already expanded (unset variables removed).
    pub arguments: Vec<String>,
    /// `workingDirectory`, resolved against the app root (empty: the app root).
    pub working_directory: PathBuf,
}

/// `extensions.queues`, with the queue extension's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOptions {
    pub batch_size: u8,
    pub new_batch_threshold: u32,
    pub max_dequeue_count: u32,
    pub visibility_timeout: Duration,
    pub max_polling_interval: Duration,
    pub message_encoding: MessageEncoding,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            batch_size: 16,
            new_batch_threshold: 8,
            max_dequeue_count: 5,
            visibility_timeout: Duration::ZERO,
            max_polling_interval: Duration::from_secs(60),
            message_encoding: MessageEncoding::Base64,
        }
    }
}

/// What starts a function.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// `httpTrigger`: `methods` lower-case (empty: any), `route` (default: the function name).
    Http { methods: Vec<String>, route: String },
    /// `timerTrigger` on a resolved schedule.
    Timer {
        binding: String,
        schedule: Schedule,
        use_monitor: bool,
        run_on_startup: bool,
    },
    /// `queueTrigger` on a resolved queue name.
    Queue {
        binding: String,
        queue_name: String,
        connection: String,
    },
}

/// One function folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub name: String,
    pub trigger: Trigger,
}

/// The whole app.
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    pub root: PathBuf,
    pub handler: HandlerDescription,
    pub route_prefix: String,
    pub queues: QueueOptions,
    pub function_timeout: Option<Duration>,
    pub functions: Vec<Function>,
}

impl AppConfig {
    /// Reads `host.json` and `functions/*/function.json` under `root`.
    pub fn load(root: &Path, lookup: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let host = read_json(&root.join("host.json"))?;
        let mut config = Self::from_host_json(root, &host, lookup)?;
        let dir = root.join("functions");
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path().join("function.json");
            if !path.is_file() {
                continue;
            }
            let name = path
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let json = read_json(&path)?;
            config.functions.push(
                parse_function(&name, &json, lookup)
                    .with_context(|| format!("in {}", path.display()))?,
            );
        }
        config.functions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(config)
    }

    /// The host-level settings of `host.json` (no functions yet).
    pub fn from_host_json(
        root: &Path,
        host: &Value,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let section = host
            .get("customHandler")
            .or_else(|| host.get("httpWorker"))
            .context("host.json has no customHandler section")?;
        let description = section
            .get("description")
            .context("Missing worker Description.")?;
        let executable = str_field(description, "defaultExecutablePath")
            .context("customHandler.description.defaultExecutablePath is missing")?;
        let arguments = description
            .get("arguments")
            .and_then(Value::as_array)
            .map(|args| {
                args.iter()
                    .filter_map(Value::as_str)
                    .map(|a| expand(a, lookup))
                    .filter(|a| !a.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let working = str_field(description, "workingDirectory").unwrap_or_default();
        let route_prefix = host
            .pointer("/extensions/http/routePrefix")
            .and_then(Value::as_str)
            .unwrap_or("api")
            .trim_matches('/')
            .to_owned();
        let function_timeout = match host.get("functionTimeout").and_then(Value::as_str) {
            Some(text) => Some(parse_timespan(text)?),
            None => None,
        };
        Ok(Self {
            root: root.to_path_buf(),
            handler: HandlerDescription {
                executable,
                arguments,
                working_directory: root.join(working),
            },
            route_prefix,
            queues: queue_options(host.pointer("/extensions/queues"))?,
            function_timeout,
            functions: Vec::new(),
        })
    }
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn str_field(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// `extensions.queues` with defaults (`newBatchThreshold` defaults to `batchSize / 2`).
pub fn queue_options(section: Option<&Value>) -> anyhow::Result<QueueOptions> {
    let mut options = QueueOptions::default();
    let Some(section) = section else {
        return Ok(options);
    };
    let number = |key: &str| section.get(key).and_then(Value::as_u64);
    let span = |key: &str| section.get(key).and_then(Value::as_str).map(parse_timespan);
    if let Some(n) = number("batchSize") {
        if !(1..=32).contains(&n) {
            bail!("extensions.queues.batchSize must be 1–32, not {n}");
        }
        options.batch_size = u8::try_from(n)?;
    }
    options.new_batch_threshold = match number("newBatchThreshold") {
        Some(n) => u32::try_from(n)?,
        None => u32::from(options.batch_size / 2),
    };
    if let Some(n) = number("maxDequeueCount") {
        options.max_dequeue_count = u32::try_from(n)?.max(1);
    }
    if let Some(d) = span("visibilityTimeout") {
        options.visibility_timeout = d?;
    }
    if let Some(d) = span("maxPollingInterval") {
        options.max_polling_interval = d?.max(Duration::from_millis(100));
    }
    if let Some(e) = section.get("messageEncoding").and_then(Value::as_str) {
        options.message_encoding = e.parse().map_err(anyhow::Error::msg)?;
    }
    Ok(options)
}

fn parse_function(
    name: &str,
    json: &Value,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Function> {
    let bindings = json
        .get("bindings")
        .and_then(Value::as_array)
        .context("no bindings")?;
    let trigger = bindings
        .iter()
        .find(|b| {
            b.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.to_ascii_lowercase().ends_with("trigger"))
        })
        .context("no trigger binding")?;
    let kind = str_field(trigger, "type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let binding = str_field(trigger, "name").unwrap_or_default();
    let trigger = match kind.as_str() {
        "httptrigger" => Trigger::Http {
            methods: trigger
                .get("methods")
                .and_then(Value::as_array)
                .map(|m| {
                    m.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_ascii_lowercase)
                        .collect()
                })
                .unwrap_or_default(),
            route: str_field(trigger, "route").unwrap_or_else(|| name.to_owned()),
        },
        "timertrigger" => {
            let text = expand(
                &str_field(trigger, "schedule").context("no schedule")?,
                lookup,
            );
            Trigger::Timer {
                binding,
                schedule: Schedule::parse(&text)?,
                use_monitor: trigger
                    .get("useMonitor")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
                run_on_startup: trigger
                    .get("runOnStartup")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            }
        }
        "queuetrigger" => Trigger::Queue {
            binding,
            queue_name: expand(
                &str_field(trigger, "queueName").context("no queueName")?,
                lookup,
            )
            .to_ascii_lowercase(),
            connection: str_field(trigger, "connection")
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "AzureWebJobsStorage".into()),
        },
        other => bail!("trigger type `{other}` is not supported by `azcops host`"),
    };
    Ok(Function {
        name: name.to_owned(),
        trigger,
    })
}

/// Expands `%NAME%` references from `lookup`; an unset name expands to nothing.
pub fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('%') else { break };
        out.push_str(&rest[..start]);
        let name = &after[..end];
        if name.is_empty() {
            out.push('%');
        } else {
            out.push_str(&lookup(name).unwrap_or_default());
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Parses a .NET `TimeSpan` as host.json writes it: `hh:mm:ss`, `d.hh:mm:ss`, optional `.fff`.
pub fn parse_timespan(text: &str) -> anyhow::Result<Duration> {
    let bad = || anyhow::anyhow!("`{text}` is not a time span (hh:mm:ss)");
    let parts: Vec<&str> = text.trim().split(':').collect();
    let [hours, minutes, seconds] = parts.as_slice() else {
        return Err(bad());
    };
    let (days, hours) = match hours.split_once('.') {
        Some((d, h)) => (d.parse::<u64>().map_err(|_| bad())?, h),
        None => (0, *hours),
    };
    let hours: u64 = hours.parse().map_err(|_| bad())?;
    let minutes: u64 = minutes.parse().map_err(|_| bad())?;
    let seconds: f64 = seconds.parse().map_err(|_| bad())?;
    if minutes >= 60 || !(0.0..60.0).contains(&seconds) {
        return Err(bad());
    }
    let whole = ((days * 24 + hours) * 60 + minutes) * 60;
    Ok(Duration::from_secs(whole) + Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(name: &str) -> Option<String> {
        (name == "QUEUE").then(|| "Work-Items".to_owned())
    }

    #[test]
    fn variables_are_expanded_and_unset_ones_removed() {
        assert_eq!(expand("%QUEUE%-x", &env), "Work-Items-x");
        assert_eq!(expand("a%MISSING%b", &env), "ab");
        assert_eq!(expand("100%", &env), "100%");
        assert_eq!(expand("%%", &env), "%");
    }

    #[test]
    fn time_spans_are_read_as_dotnet_writes_them() {
        assert_eq!(
            parse_timespan("00:01:00").ok(),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_timespan("1.00:00:01").ok(),
            Some(Duration::from_secs(86_401))
        );
        assert_eq!(
            parse_timespan("00:00:00.5").ok(),
            Some(Duration::from_millis(500))
        );
        assert!(parse_timespan("10s").is_err());
    }

    #[test]
    fn queue_options_default_like_the_extension() {
        let defaults = queue_options(None).unwrap();
        assert_eq!(defaults, QueueOptions::default());
        let some =
            queue_options(Some(&json!({"batchSize": 4, "messageEncoding": "none"}))).unwrap();
        assert_eq!(some.new_batch_threshold, 2);
        assert_eq!(some.message_encoding, MessageEncoding::None);
        assert_eq!(some.max_dequeue_count, 5);
    }

    #[test]
    fn the_repositorys_app_is_read() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let app = AppConfig::load(root, &|_| None).unwrap();
        assert_eq!(app.route_prefix, "api");
        assert_eq!(app.handler.executable, "handler");
        assert_eq!(app.handler.arguments, vec!["handler".to_owned()]);
        assert_eq!(app.queues.max_polling_interval, Duration::from_secs(10));
        assert_eq!(app.queues.batch_size, 4);
        assert_eq!(app.function_timeout, Some(Duration::from_secs(1800)));
        let names: Vec<_> = app.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "api",
                "export-job",
                "ingest-daily",
                "ingest-follow-up",
                "ingest-hourly",
                "ingest-subscription"
            ]
        );
        assert!(matches!(
            &app.functions[5].trigger,
            Trigger::Queue { queue_name, binding, .. } if queue_name == "azcops-ingest" && binding == "message"
        ));
        assert!(matches!(
            &app.functions[3].trigger,
            Trigger::Queue { queue_name, binding, .. } if queue_name == "azcops-ingest-follow-up" && binding == "message"
        ));
        assert!(matches!(
            &app.functions[1].trigger,
            Trigger::Queue { queue_name, binding, .. } if queue_name == "azcops-export" && binding == "message"
        ));
    }

    #[test]
    fn queue_names_resolve_settings() {
        let json =
            json!({"bindings": [{"type": "queueTrigger", "name": "m", "queueName": "%QUEUE%"}]});
        let f = parse_function("q", &json, &env).unwrap();
        assert!(
            matches!(f.trigger, Trigger::Queue { queue_name, connection, .. }
            if queue_name == "work-items" && connection == "AzureWebJobsStorage")
        );
    }
}
