resource "azurerm_user_assigned_identity" "this" {
  name                = var.name
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

locals {
  subscription_roles = ["Reader", "Cost Management Reader", "Monitoring Reader"]
  subscription_assignments = {
    for pair in setproduct(var.monitored_subscription_ids, local.subscription_roles) :
    "${pair[0]}/${pair[1]}" => { subscription_id = pair[0], role = pair[1] }
  }
  # Static keys, so for_each is known at plan time even before the vault and account exist.
  # Each data-plane role on the narrowest scope that works: the lake's container, the host's
  # own containers, the deployment container (read only) and the ingestion and export queues.
  # Storage Blob Delegator (only generateUserDelegationKey, which Azure checks on the account,
  # not a container) lets the app sign user-delegation SAS links of finished exports; what such
  # a link may do is also bounded by the identity's data roles (here: the lake's container).
  resource_assignments = merge(
    {
      lake_blob_data_contributor = { scope = var.storage.lake_container_id, role = "Storage Blob Data Contributor" }
      deployment_blob_reader     = { scope = var.storage.deployment_container_id, role = "Storage Blob Data Reader" }
      blob_delegator             = { scope = var.storage.account_id, role = "Storage Blob Delegator" }
    },
    { for name, id in var.storage.host_container_ids : "host_blob_data_owner/${name}" => { scope = id, role = "Storage Blob Data Owner" } },
    { for name, id in var.storage.queue_ids : "queue_data_contributor/${name}" => { scope = id, role = "Storage Queue Data Contributor" } },
    # A plan-time flag rather than a test of key_vault_id, which is unknown until the vault exists.
    { for k, v in { key_vault_secrets_user = { scope = var.key_vault_id, role = "Key Vault Secrets User" } } : k => v if var.reads_key_vault },
  )
}

# Read access to the monitored subscriptions (inventory, costs, metrics).
resource "azurerm_role_assignment" "subscription" {
  for_each             = local.subscription_assignments
  scope                = "/subscriptions/${each.value.subscription_id}"
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.this.principal_id
  principal_type       = "ServicePrincipal"
}

# The app's own resources: write the lake, read its package, run the host, use the queues,
# read per-tenant client secrets (only when a vault is given).
resource "azurerm_role_assignment" "resource" {
  for_each             = local.resource_assignments
  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.this.principal_id
  principal_type       = "ServicePrincipal"
}
