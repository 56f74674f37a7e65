locals {
  private_endpoints = ["blob", "queue"]
  # Resource Manager IDs of the containers and queues, the scopes of the identity module's
  # role assignments (data-plane roles narrowed to one container or queue).
  blob_service_id  = "${azurerm_storage_account.this.id}/blobServices/default"
  queue_service_id = "${azurerm_storage_account.this.id}/queueServices/default"
  queue_names = [
    var.ingest_queue_name, "${var.ingest_queue_name}-poison",
    var.export_queue_name, "${var.export_queue_name}-poison",
    var.follow_up_queue_name, "${var.follow_up_queue_name}-poison",
  ]
}

resource "azurerm_storage_account" "this" {
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys; customer-managed keys would need a key, a key rotation process and vault access for the storage service, which this deployment does not run.
  #checkov:skip=CKV_AZURE_33:Queue request logging is collected by the diagnostic setting on queueServices/default (monitoring module); classic Storage Analytics logging needs shared-key access, which is disabled.
  #checkov:skip=CKV2_AZURE_41:Shared-key access is disabled, so no account SAS can be issued; a SAS expiration policy has nothing to govern.
  #checkov:skip=CKV_AZURE_206:Replication is a variable (replication_type); dev uses LRS to keep it cheap, prod should use ZRS or GZRS.
  name                     = var.name
  resource_group_name      = var.resource_group_name
  location                 = var.location
  account_kind             = "StorageV2"
  account_tier             = "Standard"
  account_replication_type = var.replication_type
  # No hierarchical namespace: blob versioning needs a flat namespace (the app writes the lake
  # through the Blob API either way).
  is_hns_enabled                    = false
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = var.shared_access_key_enabled
  default_to_oauth_authentication   = true
  public_network_access_enabled     = false
  local_user_enabled                = false
  infrastructure_encryption_enabled = true
  sftp_enabled                      = false
  tags                              = var.tags

  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices", "Logging", "Metrics"]
  }

  blob_properties {
    versioning_enabled = true
    delete_retention_policy {
      days = var.soft_delete_retention_days
    }
    container_delete_retention_policy {
      days = var.soft_delete_retention_days
    }
  }
}

# Raw snapshots of the collectors (AZCOPS_LAKE_URL=https://<account>.blob.core.windows.net/raw).
# The app only creates blobs here (If-None-Match: *); the immutability policy below makes that
# the storage service's rule too.
resource "azurerm_storage_container" "raw" {
  #checkov:skip=CKV2_AZURE_21:Blob read requests are logged by the diagnostic setting on blobServices/default (monitoring module); classic Storage Analytics logging needs shared keys, which are disabled.
  name                  = "raw"
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

# Time-based retention (WORM) on the lake: a snapshot can be neither overwritten nor deleted
# for raw_retention_days after it is written, whoever asks. Left unlocked so the period can
# still be changed; lock it (raw_immutability_locked) once the period is settled: a locked
# policy can only be lengthened, and the container cannot be deleted while it holds blobs.
resource "azurerm_storage_container_immutability_policy" "raw" {
  storage_container_resource_manager_id = "${local.blob_service_id}/containers/${azurerm_storage_container.raw.name}"
  immutability_period_in_days           = var.raw_retention_days
  locked                                = var.raw_immutability_locked
}

# The Functions host's own containers (timer schedules and leases, function keys), created here
# so that the app's identity needs rights on these containers only, not on the account.
resource "azurerm_storage_container" "host" {
  #checkov:skip=CKV2_AZURE_21:Blob read requests are logged by the diagnostic setting on blobServices/default (monitoring module); classic Storage Analytics logging needs shared keys, which are disabled.
  for_each              = toset(["azure-webjobs-hosts", "azure-webjobs-secrets"])
  name                  = each.value
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

# Flex Consumption keeps the deployment package in a blob container. The deployer writes it;
# the app's identity can only read it (identity module).
resource "azurerm_storage_container" "deployments" {
  #checkov:skip=CKV2_AZURE_21:Blob read requests are logged by the diagnostic setting on blobServices/default (monitoring module); classic Storage Analytics logging needs shared keys, which are disabled.
  name                  = var.deployment_container_name
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

# The deployer (not the app) writes the package.
resource "azurerm_role_assignment" "package_writer" {
  for_each             = toset(var.package_writer_principal_ids)
  scope                = "${local.blob_service_id}/containers/${azurerm_storage_container.deployments.name}"
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = each.value
}

# The ingestion queue (functions/ingest-subscription), the export jobs' queue
# (functions/export-job) and the host's poison queue of each.
resource "azurerm_storage_queue" "ingest" {
  for_each           = toset(local.queue_names)
  name               = each.value
  storage_account_id = azurerm_storage_account.this.id
}

resource "azurerm_private_endpoint" "this" {
  for_each            = toset(local.private_endpoints)
  name                = "pe-${var.name}-${each.key}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}-${each.key}"
    private_connection_resource_id = azurerm_storage_account.this.id
    subresource_names              = [each.key]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = each.key
    private_dns_zone_ids = [var.private_dns_zone_ids[each.key]]
  }
}
