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
  resource_assignments = {
    key_vault_secrets_user         = { scope = var.key_vault_id, role = "Key Vault Secrets User" }
    storage_blob_data_contributor  = { scope = var.storage_account_id, role = "Storage Blob Data Contributor" }
    storage_queue_data_contributor = { scope = var.storage_account_id, role = "Storage Queue Data Contributor" }
  }
}

# Read access to the monitored subscriptions (inventory, costs, metrics).
resource "azurerm_role_assignment" "subscription" {
  for_each             = local.subscription_assignments
  scope                = "/subscriptions/${each.value.subscription_id}"
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.this.principal_id
  principal_type       = "ServicePrincipal"
}

# The app's own resources: read secrets, read/write the lake, use the queue.
resource "azurerm_role_assignment" "resource" {
  for_each             = local.resource_assignments
  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.this.principal_id
  principal_type       = "ServicePrincipal"
}
