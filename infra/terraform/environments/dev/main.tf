data "azurerm_client_config" "current" {}

locals {
  # Customer tenants through a multi-tenant app registration whose secrets are in the vault.
  client_secrets = var.azure_app_client_id != ""
  name           = "azcops-${var.environment}"
  suffix         = var.name_suffix
  tags = merge(var.tags, {
    app         = "azcops"
    environment = var.environment
  })
}

module "resource_group" {
  source   = "../../modules/resource_group"
  name     = "rg-${local.name}"
  location = var.location
  tags     = local.tags
}

module "networking" {
  source              = "../../modules/networking"
  name                = "vnet-${local.name}"
  location            = var.location
  resource_group_name = module.resource_group.name
  tags                = local.tags
}

module "monitoring" {
  source              = "../../modules/monitoring"
  name                = local.name
  location            = var.location
  resource_group_name = module.resource_group.name
  retention_in_days   = 30
  daily_quota_gb      = 1
  tags                = local.tags

  diagnostic_targets = {
    postgresql    = { resource_id = module.postgresql.id }
    keyvault      = { resource_id = module.keyvault.id }
    deploy_vault  = { resource_id = module.deploy_vault.id }
    storage       = { resource_id = module.storage.id, logs = false }
    storage_blob  = { resource_id = "${module.storage.id}/blobServices/default" }
    storage_queue = { resource_id = "${module.storage.id}/queueServices/default" }
    function_app  = { resource_id = module.function_app.id }
  }
}

module "keyvault" {
  source              = "../../modules/keyvault"
  name                = "kv-${local.name}-${local.suffix}"
  location            = var.location
  resource_group_name = module.resource_group.name
  tenant_id           = data.azurerm_client_config.current.tenant_id
  # Purge protection stays on (module default) even in dev: a destroyed dev vault keeps its name
  # for soft_delete_retention_days, so pick another name_suffix to recreate sooner.
  soft_delete_retention_days = 7
  private_endpoint_subnet_id = module.networking.private_endpoint_subnet_id
  private_dns_zone_id        = module.networking.private_dns_zone_ids["vault"]
  # The deployer writes per-tenant client secrets (azure-client-secret-<tenant>) here.
  secrets_officer_principal_ids = [data.azurerm_client_config.current.object_id]
  tags                          = local.tags
}

# The deploy step's secrets (the database administrator's URL, for `azcops migrate`): a vault of
# its own, on which the app's identities have no role at all.
module "deploy_vault" {
  source                        = "../../modules/keyvault"
  name                          = "kv-${local.name}-d${local.suffix}"
  location                      = var.location
  resource_group_name           = module.resource_group.name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  soft_delete_retention_days    = 7
  private_endpoint_subnet_id    = module.networking.private_endpoint_subnet_id
  private_dns_zone_id           = module.networking.private_dns_zone_ids["vault"]
  secrets_officer_principal_ids = [data.azurerm_client_config.current.object_id]
  tags                          = local.tags
}

module "storage" {
  source              = "../../modules/storage"
  name                = "stazcops${var.environment}${local.suffix}"
  location            = var.location
  resource_group_name = module.resource_group.name
  replication_type    = "LRS"
  # The deployer uploads the package; the app only reads it.
  package_writer_principal_ids = [data.azurerm_client_config.current.object_id]
  private_endpoint_subnet_id   = module.networking.private_endpoint_subnet_id
  private_dns_zone_ids         = module.networking.private_dns_zone_ids
  tags                         = local.tags
}

module "postgresql" {
  source                = "../../modules/postgresql"
  name                  = "psql-${local.name}-${local.suffix}"
  location              = var.location
  resource_group_name   = module.resource_group.name
  tenant_id             = data.azurerm_client_config.current.tenant_id
  delegated_subnet_id   = module.networking.database_subnet_id
  private_dns_zone_id   = module.networking.private_dns_zone_ids["postgresql"]
  sku_name              = "B_Standard_B1ms"
  storage_mb            = 32768
  backup_retention_days = 7
  high_availability     = false
  entra_admin           = var.postgresql_entra_admin
  runtime_principal = {
    name      = module.identity.name
    object_id = module.identity.principal_id
  }
  tags = local.tags

  # The server's private DNS zone must be linked to the VNet before the server is created.
  depends_on = [module.networking]
}

module "identity" {
  source                     = "../../modules/identity"
  name                       = "id-${local.name}"
  location                   = var.location
  resource_group_name        = module.resource_group.name
  monitored_subscription_ids = var.monitored_subscription_ids
  # Per-tenant client secrets only with the app registration; the managed identity reads none.
  reads_key_vault = local.client_secrets
  key_vault_id    = module.keyvault.id
  storage = {
    account_id              = module.storage.id
    lake_container_id       = module.storage.lake_container_id
    deployment_container_id = module.storage.deployment_container_id
    host_container_ids      = module.storage.host_container_ids
    queue_ids               = module.storage.queue_ids
  }
  tags = local.tags
}

# The administrator's database URL (with its password) lives only in the deployment vault, for
# `azcops migrate` in the deploy step; the app logs in with its managed identity instead.
# Writing it needs network access to the vault's private endpoint.
resource "azurerm_key_vault_secret" "database_admin_url" {
  #checkov:skip=CKV_AZURE_41:The secret changes when the server's password is rotated by Terraform; an expiry date would break the deploy step on a date nobody watches.
  name         = "database-admin-url"
  key_vault_id = module.deploy_vault.id
  value        = module.postgresql.database_url
  content_type = "text/uri"

  depends_on = [module.deploy_vault]
}

module "function_app" {
  source                 = "../../modules/function_app"
  name                   = "func-${local.name}-${local.suffix}"
  location               = var.location
  resource_group_name    = module.resource_group.name
  instance_memory_in_mb  = 2048
  maximum_instance_count = 40
  subnet_id              = module.networking.function_subnet_id

  identity_id           = module.identity.id
  identity_client_id    = module.identity.client_id
  identity_principal_id = module.identity.principal_id

  storage_account_name          = module.storage.name
  deployment_container_endpoint = module.storage.deployment_container_endpoint
  lake_url                      = module.storage.lake_url
  ingest_queue_name             = module.storage.ingest_queue_name
  export_queue_name             = module.storage.export_queue_name
  follow_up_queue_name          = module.storage.follow_up_queue_name

  key_vault_uri = local.client_secrets ? module.keyvault.uri : ""
  database_url  = module.postgresql.runtime_database_url

  auth = {
    audience           = var.auth_audience
    operator_tenant_id = coalesce(var.operator_tenant_id, data.azurerm_client_config.current.tenant_id)
    ui_client_id       = var.ui_client_id
  }
  azure_credential    = local.client_secrets ? "client-secret" : "managed-identity"
  azure_app_client_id = var.azure_app_client_id
  db_max_connections  = 5

  application_insights_connection_string = module.monitoring.application_insights_connection_string
  application_insights_id                = module.monitoring.application_insights_id
  tags                                   = local.tags

  # Role assignments first, so the host can reach storage and the vault when it starts.
  depends_on = [module.identity]
}
