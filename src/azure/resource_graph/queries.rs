//! The KQL library: every Resource Graph query AzCops runs. The simulated Azure recognises
//! these exact texts, so change them here and nowhere else.
//!
//! Each query projects `id` and orders by it, so `$skipToken` paging is stable.

/// The full inventory, with `properties`, for the `resources` table, each row with its resource
/// group's tags (`resourceGroupTags`, from `ResourceContainers`; null when Resource Graph has no
/// such group), so what a resource inherits costs no request of its own. The group is matched
/// on the subscription and the lower-cased group name (ARM compares names case-insensitively).
/// One cross-table `join` between `Resources` and `ResourceContainers`, `kind=leftouter`: within
/// Resource Graph's limits (three joins a query, all three may be cross-table between those two
/// tables). A leftouter join keeps one row per resource, since a group's id is unique.
pub const ALL_RESOURCES: &str = "Resources \
| extend rgKey = tolower(resourceGroup) \
| join kind=leftouter (ResourceContainers \
| where type =~ 'microsoft.resources/subscriptions/resourcegroups' \
| project subscriptionId, rgKey = tolower(resourceGroup), resourceGroupTags = tags) on subscriptionId, rgKey \
| project id, name, type, kind, location, resourceGroup, subscriptionId, tenantId, sku, tags, properties, resourceGroupTags \
| order by id asc";

/// Managed disks attached to nothing.
pub const UNATTACHED_DISKS: &str = "Resources \
| where type =~ 'microsoft.compute/disks' \
| where tostring(properties.diskState) =~ 'Unattached' \
| project id, name, type, location, resourceGroup, subscriptionId, tags, sku, \
diskSizeGb = toint(properties.diskSizeGB), timeCreated = tostring(properties.timeCreated) \
| order by id asc";

/// Public IP addresses bound to neither an IP configuration nor a NAT gateway.
pub const ORPHANED_PUBLIC_IPS: &str = "Resources \
| where type =~ 'microsoft.network/publicipaddresses' \
| where isnull(properties.ipConfiguration) and isnull(properties.natGateway) \
| project id, name, type, location, resourceGroup, subscriptionId, tags, sku, \
ipAddress = tostring(properties.ipAddress) \
| order by id asc";

/// Network interfaces attached to no virtual machine.
pub const ORPHANED_NICS: &str = "Resources \
| where type =~ 'microsoft.network/networkinterfaces' \
| where isnull(properties.virtualMachine) \
| project id, name, type, location, resourceGroup, subscriptionId, tags \
| order by id asc";

/// Snapshots created more than 90 days ago.
pub const STALE_SNAPSHOTS: &str = "Resources \
| where type =~ 'microsoft.compute/snapshots' \
| where todatetime(properties.timeCreated) < ago(90d) \
| project id, name, type, location, resourceGroup, subscriptionId, tags, sku, \
diskSizeGb = toint(properties.diskSizeGB), timeCreated = tostring(properties.timeCreated) \
| order by id asc";

/// Virtual machines with size, OS and power state.
pub const ALL_VMS: &str = "Resources \
| where type =~ 'microsoft.compute/virtualmachines' \
| project id, name, type, location, resourceGroup, subscriptionId, tags, \
vmSize = tostring(properties.hardwareProfile.vmSize), \
osType = tostring(properties.storageProfile.osDisk.osType), \
powerState = tostring(properties.extended.instanceView.powerState.code) \
| order by id asc";

/// App Service plans with SKU tier and worker count.
pub const APP_SERVICE_PLANS: &str = "Resources \
| where type =~ 'microsoft.web/serverfarms' \
| project id, name, type, location, resourceGroup, subscriptionId, tags, \
skuName = tostring(sku.name), skuTier = tostring(sku.tier), workers = toint(properties.numberOfWorkers) \
| order by id asc";

/// SQL databases with DTU or vCore SKU details.
pub const SQL_DATABASES: &str = "Resources \
| where type =~ 'microsoft.sql/servers/databases' \
| project id, name, type, location, resourceGroup, subscriptionId, tags, \
skuName = tostring(sku.name), skuTier = tostring(sku.tier), capacity = toint(sku.capacity), family = tostring(sku.family) \
| order by id asc";

/// Resources without a `cost-center` tag.
pub const MISSING_COST_CENTER_TAG: &str = "Resources \
| where isnull(tags['cost-center']) \
| project id, name, type, location, resourceGroup, subscriptionId, tags \
| order by id asc";

/// A named query of the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedQuery {
    pub name: &'static str,
    pub kql: &'static str,
}

/// The waste candidates, run concurrently.
pub const WASTE: [NamedQuery; 5] = [
    NamedQuery {
        name: "unattached_disks",
        kql: UNATTACHED_DISKS,
    },
    NamedQuery {
        name: "orphaned_public_ips",
        kql: ORPHANED_PUBLIC_IPS,
    },
    NamedQuery {
        name: "orphaned_nics",
        kql: ORPHANED_NICS,
    },
    NamedQuery {
        name: "stale_snapshots",
        kql: STALE_SNAPSHOTS,
    },
    NamedQuery {
        name: "missing_cost_center_tag",
        kql: MISSING_COST_CENTER_TAG,
    },
];

/// The rightsizing candidates, run concurrently.
pub const RIGHTSIZING: [NamedQuery; 3] = [
    NamedQuery {
        name: "vms",
        kql: ALL_VMS,
    },
    NamedQuery {
        name: "app_service_plans",
        kql: APP_SERVICE_PLANS,
    },
    NamedQuery {
        name: "sql_databases",
        kql: SQL_DATABASES,
    },
];
