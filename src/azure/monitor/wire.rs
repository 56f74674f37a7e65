//! Azure Monitor metrics answers: the ARM `Response` (one resource, or the subscription-scope
//! variant split by `microsoft.resourceid`) and the data plane's `metrics:getBatch` answer
//! (one item per resource). The `Metric` shape is the same in both.

use serde::{Deserialize, Serialize};

/// `GET {resourceId}/providers/Microsoft.Insights/metrics`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetricsResponse {
    #[serde(default)]
    pub timespan: Option<String>,
    /// May differ from the interval asked for (`AutoAdjustTimegrain`).
    #[serde(default)]
    pub interval: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub resourceregion: Option<String>,
    #[serde(default)]
    pub value: Vec<Metric>,
}

/// `POST …/metrics:getBatch`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BatchResponse {
    #[serde(default)]
    pub values: Vec<BatchItem>,
}

/// The metrics of one resource in a batch answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BatchItem {
    #[serde(default)]
    pub resourceid: Option<String>,
    #[serde(default)]
    pub resourceregion: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub starttime: Option<String>,
    #[serde(default)]
    pub endtime: Option<String>,
    #[serde(default)]
    pub interval: Option<String>,
    #[serde(default)]
    pub value: Vec<Metric>,
}

/// The batch request body: `{"resourceids":[…]}` (lower-case key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRequest {
    pub resourceids: Vec<String>,
}

/// One metric of one resource. A failure for this metric alone still comes in a 200, with
/// `errorCode` other than `Success` and no time series.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metric {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: LocalizableString,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(rename = "errorCode", default)]
    pub error_code: Option<String>,
    #[serde(rename = "errorMessage", default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub timeseries: Vec<TimeSeries>,
}

impl Metric {
    /// True unless Azure reported an error code other than `Success` for it.
    pub fn succeeded(&self) -> bool {
        self.error_code
            .as_deref()
            .is_none_or(|code| code.eq_ignore_ascii_case("Success"))
    }
}

/// `{value, localizedValue}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LocalizableString {
    #[serde(default)]
    pub value: String,
    #[serde(rename = "localizedValue", default)]
    pub localized_value: Option<String>,
}

/// One series of a metric: its dimension values and data points.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TimeSeries {
    #[serde(default)]
    pub metadatavalues: Vec<MetadataValue>,
    #[serde(default)]
    pub data: Vec<MetricValue>,
}

impl TimeSeries {
    /// The value of dimension `name` (case-insensitive), e.g. `microsoft.resourceid`.
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.metadatavalues
            .iter()
            .find(|m| m.name.value.eq_ignore_ascii_case(name))
            .and_then(|m| m.value.as_deref())
    }
}

/// A dimension value.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetadataValue {
    #[serde(default)]
    pub name: LocalizableString,
    #[serde(default)]
    pub value: Option<String>,
}

/// One data point; aggregates are absent where there was no data. Numbers may be integers.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetricValue {
    #[serde(rename = "timeStamp", default)]
    pub time_stamp: Option<String>,
    #[serde(default)]
    pub average: Option<f64>,
    #[serde(default)]
    pub minimum: Option<f64>,
    #[serde(default)]
    pub maximum: Option<f64>,
    #[serde(default)]
    pub total: Option<f64>,
    #[serde(default)]
    pub count: Option<f64>,
}

impl MetricValue {
    /// The point's value: its `average`, else its `total`, else its `count` (for metrics
    /// queried only with those aggregations).
    pub fn value(&self) -> Option<f64> {
        self.average.or(self.total).or(self.count)
    }
}
