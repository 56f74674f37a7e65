//! The FOCUS 1.2 columns of the cost export: each column's name, feature level and data type
//! as the specification defines them (`docs/focus-1.2/`), where its value comes from, and, for
//! a column our data cannot fill, why (declared in the export's metadata and the README, never
//! invented). And the documented mapping of Azure service names to FOCUS's ServiceCategory.

use serde::Serialize;
use utoipa::ToSchema;

/// FOCUS's feature level of a column (`x_` columns are our own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum Level {
    Mandatory,
    Conditional,
    Recommended,
    Custom,
}

/// FOCUS's data type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum DataType {
    String,
    Decimal,
    #[serde(rename = "Date/Time")]
    #[schema(rename = "Date/Time")]
    DateTime,
    #[serde(rename = "JSON")]
    #[schema(rename = "JSON")]
    Json,
}

/// How a column is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    /// From our data, on every row.
    Data,
    /// A value that holds for every row of the dataset (e.g. ProviderName).
    Constant,
    /// A stand-in for a value we do not collect; `note` says what and why.
    Substitute,
    /// Always null: we do not hold the data; `note` says why.
    Null,
}

/// One column of the FOCUS export.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Column {
    pub name: &'static str,
    pub feature_level: Level,
    pub data_type: DataType,
    pub fill: Fill,
    /// Where the value comes from, or why there is none.
    pub note: &'static str,
}

const fn col(
    name: &'static str,
    feature_level: Level,
    data_type: DataType,
    fill: Fill,
    note: &'static str,
) -> Column {
    Column {
        name,
        feature_level,
        data_type,
        fill,
        note,
    }
}

use DataType as T;
use Fill as F;
use Level as L;

const NO_PRICE_SHEET: &str = "not collected: AzCops reads Cost Management's actual and amortized cost aggregates, not price sheets or meter quantities, so there is no list or contracted unit price to multiply (FOCUS requires a value: this column is left null and is a known non-conformance)";
const NO_QUANTITY: &str = "not collected: the daily cost rows are aggregated per resource group, service and meter category across meters with different units, so there is no single quantity and unit at this grain";
const NO_RESOURCE: &str = "not held at this grain: costs_daily is one row per resource group × service × meter category per day; per-resource costs (resource_costs) exist only as multi-day windows for the rules and do not add up per day";
const NO_LOCATION: &str = "not held at this grain: Cost Management's daily rows are not grouped by location, and a resource group's rows may span regions";
const NO_PRICING: &str = "not collected: pricing and commitment-discount details (SKU, price id, reservation or savings plan) are not part of the cost aggregates AzCops collects";

/// Every column, in file order.
pub const COLUMNS: &[Column] = &[
    col(
        "BilledCost",
        L::Mandatory,
        T::Decimal,
        F::Data,
        "costs_daily.cost: Cost Management's ActualCost of the day, in BillingCurrency",
    ),
    col(
        "BillingAccountId",
        L::Mandatory,
        T::String,
        F::Substitute,
        "the subscription's billing scope when it was registered with one; otherwise the subscription's ARM id (/subscriptions/{id}) stands in: AzCops queries costs at subscription scope and does not learn the billing account",
    ),
    col(
        "BillingAccountName",
        L::Mandatory,
        T::String,
        F::Null,
        "not collected: the billing account's display name is not visible at subscription scope",
    ),
    col(
        "BillingCurrency",
        L::Mandatory,
        T::String,
        F::Data,
        "costs_daily.currency (ISO 4217)",
    ),
    col(
        "BillingPeriodEnd",
        L::Mandatory,
        T::DateTime,
        F::Substitute,
        "the first day of the calendar month after the charge's day, 00:00Z (exclusive end): the calendar month stands in for the billing period, which AzCops does not collect",
    ),
    col(
        "BillingPeriodStart",
        L::Mandatory,
        T::DateTime,
        F::Substitute,
        "the first day of the charge's calendar month, 00:00Z: the calendar month stands in for the billing period, which AzCops does not collect",
    ),
    col(
        "ChargeCategory",
        L::Mandatory,
        T::String,
        F::Substitute,
        "\"Usage\" on every row: Cost Management's ChargeType (purchase, refund, tax) is not kept by the daily aggregate",
    ),
    col(
        "ChargeClass",
        L::Mandatory,
        T::String,
        F::Null,
        "null (not a correction): a restated day replaces the earlier rows in place, so no row is a correction of a previously invoiced period",
    ),
    col(
        "ChargeDescription",
        L::Mandatory,
        T::String,
        F::Data,
        "costs_daily.meter_category (null when empty)",
    ),
    col(
        "ChargeFrequency",
        L::Recommended,
        T::String,
        F::Constant,
        "\"Usage-Based\", as every row is a usage charge (see ChargeCategory)",
    ),
    col(
        "ChargePeriodEnd",
        L::Mandatory,
        T::DateTime,
        F::Data,
        "the day after costs_daily.date, 00:00Z (exclusive end)",
    ),
    col(
        "ChargePeriodStart",
        L::Mandatory,
        T::DateTime,
        F::Data,
        "costs_daily.date, 00:00Z",
    ),
    col(
        "ContractedCost",
        L::Mandatory,
        T::Decimal,
        F::Null,
        NO_PRICE_SHEET,
    ),
    col(
        "EffectiveCost",
        L::Mandatory,
        T::Decimal,
        F::Data,
        "costs_daily.amortized_cost: Cost Management's AmortizedCost of the day, in BillingCurrency",
    ),
    col(
        "InvoiceIssuerName",
        L::Mandatory,
        T::String,
        F::Substitute,
        "\"Microsoft\": assumes a direct agreement with Microsoft; for a CSP subscription the partner issues the invoice, which AzCops does not learn",
    ),
    col(
        "ListCost",
        L::Mandatory,
        T::Decimal,
        F::Null,
        NO_PRICE_SHEET,
    ),
    col(
        "PricingQuantity",
        L::Mandatory,
        T::Decimal,
        F::Null,
        NO_QUANTITY,
    ),
    col("PricingUnit", L::Mandatory, T::String, F::Null, NO_QUANTITY),
    col(
        "ProviderName",
        L::Mandatory,
        T::String,
        F::Constant,
        "\"Microsoft\"",
    ),
    col(
        "PublisherName",
        L::Mandatory,
        T::String,
        F::Substitute,
        "\"Microsoft\": the daily aggregate does not keep Marketplace publishers apart",
    ),
    col(
        "ServiceCategory",
        L::Mandatory,
        T::String,
        F::Data,
        "from costs_daily.service_name by the documented mapping (service_category_mapping; anything else is \"Other\")",
    ),
    col(
        "ServiceName",
        L::Mandatory,
        T::String,
        F::Data,
        "costs_daily.service_name (Cost Management's ServiceName); \"Unknown\" when Azure gave none",
    ),
    col(
        "SubAccountId",
        L::Conditional,
        T::String,
        F::Data,
        "the subscription's ARM id, /subscriptions/{id}",
    ),
    col(
        "SubAccountName",
        L::Conditional,
        T::String,
        F::Data,
        "the subscription's display name",
    ),
    col(
        "SubAccountType",
        L::Conditional,
        T::String,
        F::Constant,
        "\"Subscription\"",
    ),
    col("RegionId", L::Conditional, T::String, F::Null, NO_LOCATION),
    col(
        "RegionName",
        L::Conditional,
        T::String,
        F::Null,
        NO_LOCATION,
    ),
    col(
        "ResourceId",
        L::Conditional,
        T::String,
        F::Null,
        NO_RESOURCE,
    ),
    col(
        "ResourceName",
        L::Conditional,
        T::String,
        F::Null,
        NO_RESOURCE,
    ),
    col(
        "ResourceType",
        L::Conditional,
        T::String,
        F::Null,
        NO_RESOURCE,
    ),
    col("Tags", L::Conditional, T::Json, F::Null, NO_RESOURCE),
    col(
        "ConsumedQuantity",
        L::Conditional,
        T::Decimal,
        F::Null,
        NO_QUANTITY,
    ),
    col(
        "ConsumedUnit",
        L::Conditional,
        T::String,
        F::Null,
        NO_QUANTITY,
    ),
    col(
        "ListUnitPrice",
        L::Conditional,
        T::Decimal,
        F::Null,
        NO_PRICE_SHEET,
    ),
    col(
        "ContractedUnitPrice",
        L::Conditional,
        T::Decimal,
        F::Null,
        NO_PRICE_SHEET,
    ),
    col(
        "PricingCategory",
        L::Conditional,
        T::String,
        F::Null,
        NO_PRICING,
    ),
    col("SkuId", L::Conditional, T::String, F::Null, NO_PRICING),
    col("SkuPriceId", L::Conditional, T::String, F::Null, NO_PRICING),
    col(
        "CommitmentDiscountId",
        L::Conditional,
        T::String,
        F::Null,
        NO_PRICING,
    ),
    col(
        "CommitmentDiscountCategory",
        L::Conditional,
        T::String,
        F::Null,
        NO_PRICING,
    ),
    col(
        "CommitmentDiscountName",
        L::Conditional,
        T::String,
        F::Null,
        NO_PRICING,
    ),
    col(
        "CommitmentDiscountStatus",
        L::Conditional,
        T::String,
        F::Null,
        NO_PRICING,
    ),
    col(
        "CommitmentDiscountType",
        L::Conditional,
        T::String,
        F::Null,
        NO_PRICING,
    ),
    col(
        "x_ResourceGroupName",
        L::Custom,
        T::String,
        F::Data,
        "costs_daily.resource_group, lower-cased (null for charges outside any resource group)",
    ),
    col(
        "x_MeterCategory",
        L::Custom,
        T::String,
        F::Data,
        "costs_daily.meter_category (null when empty)",
    ),
];

/// The column names, in file order (the CSV header, the JSON Lines keys).
pub const HEADER: &[&str] = &[
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "Tags",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ListUnitPrice",
    "ContractedUnitPrice",
    "PricingCategory",
    "SkuId",
    "SkuPriceId",
    "CommitmentDiscountId",
    "CommitmentDiscountCategory",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "x_ResourceGroupName",
    "x_MeterCategory",
];

/// ServiceCategory's allowed values (FOCUS 1.2).
pub const SERVICE_CATEGORIES: &[&str] = &[
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
];

/// Azure service names (Cost Management's ServiceName, compared without case) and their
/// ServiceCategory; any other name is "Other".
pub const SERVICE_CATEGORY_MAPPING: &[(&str, &str)] = &[
    ("Virtual Machines", "Compute"),
    ("Virtual Machines Licenses", "Compute"),
    ("Virtual Machine Scale Sets", "Compute"),
    ("Azure Kubernetes Service", "Compute"),
    ("Container Instances", "Compute"),
    ("Azure Container Apps", "Compute"),
    ("Functions", "Compute"),
    ("Batch", "Compute"),
    ("Cloud Services", "Compute"),
    ("Azure App Service", "Web"),
    ("Storage", "Storage"),
    ("Backup", "Storage"),
    ("Azure NetApp Files", "Storage"),
    ("Container Registry", "Storage"),
    ("SQL Database", "Databases"),
    ("SQL Managed Instance", "Databases"),
    ("Azure Cosmos DB", "Databases"),
    ("Azure Database for PostgreSQL", "Databases"),
    ("Azure Database for MySQL", "Databases"),
    ("Redis Cache", "Databases"),
    ("Virtual Network", "Networking"),
    ("Load Balancer", "Networking"),
    ("Application Gateway", "Networking"),
    ("NAT Gateway", "Networking"),
    ("VPN Gateway", "Networking"),
    ("ExpressRoute", "Networking"),
    ("Bandwidth", "Networking"),
    ("Azure DNS", "Networking"),
    ("Azure Front Door Service", "Networking"),
    ("Content Delivery Network", "Networking"),
    ("Traffic Manager", "Networking"),
    ("Network Watcher", "Networking"),
    ("Azure DDOS Protection", "Security"),
    ("Azure Firewall", "Security"),
    ("Key Vault", "Security"),
    ("Microsoft Defender for Cloud", "Security"),
    ("Sentinel", "Security"),
    ("Log Analytics", "Management and Governance"),
    ("Azure Monitor", "Management and Governance"),
    ("Automation", "Management and Governance"),
    ("Insight and Analytics", "Management and Governance"),
    ("Azure Synapse Analytics", "Analytics"),
    ("Azure Databricks", "Analytics"),
    ("HDInsight", "Analytics"),
    ("Azure Data Factory v2", "Analytics"),
    ("Stream Analytics", "Analytics"),
    ("Service Bus", "Integration"),
    ("Event Grid", "Integration"),
    ("Event Hubs", "Integration"),
    ("Logic Apps", "Integration"),
    ("API Management", "Integration"),
    ("Cognitive Services", "AI and Machine Learning"),
    ("Azure OpenAI", "AI and Machine Learning"),
    ("Azure Machine Learning", "AI and Machine Learning"),
    ("Microsoft Entra ID", "Identity"),
    ("Azure Active Directory B2C", "Identity"),
    ("IoT Hub", "Internet of Things"),
    ("Media Services", "Media"),
    ("Azure DevOps", "Developer Tools"),
    ("Azure Site Recovery", "Migration"),
    ("Azure Database Migration Service", "Migration"),
    ("Notification Hubs", "Mobile"),
    ("Azure Arc", "Multicloud"),
];

/// The ServiceCategory of an Azure service name.
pub fn service_category(service_name: &str) -> &'static str {
    SERVICE_CATEGORY_MAPPING
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(service_name.trim()))
        .map_or("Other", |(_, category)| category)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_the_columns_in_order() {
        let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(names, HEADER);
    }

    #[test]
    fn every_mapped_category_is_allowed_and_unknown_services_are_other() {
        for (service, category) in SERVICE_CATEGORY_MAPPING {
            assert!(
                SERVICE_CATEGORIES.contains(category),
                "{service}: {category}"
            );
        }
        assert_eq!(service_category("virtual machines"), "Compute");
        assert_eq!(service_category("Something New"), "Other");
    }

    #[test]
    fn a_column_without_data_says_why() {
        for c in COLUMNS {
            assert!(!c.note.is_empty(), "{}", c.name);
            assert_eq!(c.name.starts_with("x_"), c.feature_level == Level::Custom);
        }
    }
}
