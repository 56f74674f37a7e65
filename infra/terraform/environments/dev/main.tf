data "azurerm_client_config" "current" {}

locals {
  name   = "azcops-${var.environment}"
  suffix = var.name_suffix
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
  # The deployer writes the database-url secret below.
  secrets_officer_principal_ids = [data.azurerm_client_config.current.object_id]
  tags                          = local.tags
}

module "storage" {
  source                     = "../../modules/storage"
  name                       = "stazcops${var.environment}${local.suffix}"
  location                   = var.location
  resource_group_name        = module.resource_group.name
  replication_type           = "LRS"
  private_endpoint_subnet_id = module.networking.private_endpoint_subnet_id
  private_dns_zone_ids       = module.networking.private_dns_zone_ids
  tags                       = local.tags
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
  tags                  = local.tags

  # The server's private DNS zone must be linked to the VNet before the server is created.
  depends_on = [module.networking]
}

module "identity" {
  source                     = "../../modules/identity"
  name                       = "id-${local.name}"
  location                   = var.location
  resource_group_name        = module.resource_group.name
  monitored_subscription_ids = var.monitored_subscription_ids
  key_vault_id               = module.keyvault.id
  storage_account_id         = module.storage.id
  tags                       = local.tags
}

# The database URL (with its password) lives only in Key Vault; the app gets it through a
# Key Vault reference. Writing it needs network access to the vault's private endpoint.
resource "azurerm_key_vault_secret" "database_url" {
  #checkov:skip=CKV_AZURE_41:The secret changes when the server's password is rotated by Terraform; an expiry date would break the app on a date nobody watches.
  name         = "database-url"
  key_vault_id = module.keyvault.id
  value        = module.postgresql.database_url
  content_type = "text/uri"

  depends_on = [module.keyvault]
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

  key_vault_id  = module.keyvault.id
  key_vault_uri = module.keyvault.uri
  key_vault_secret_uris = {
    DATABASE_URL = azurerm_key_vault_secret.database_url.versionless_id
  }

  auth = {
    audience           = var.auth_audience
    operator_tenant_id = coalesce(var.operator_tenant_id, data.azurerm_client_config.current.tenant_id)
  }
  azure_credential    = var.azure_app_client_id == "" ? "managed-identity" : "client-secret"
  azure_app_client_id = var.azure_app_client_id
  db_max_connections  = 5

  application_insights_connection_string = module.monitoring.application_insights_connection_string
  application_insights_id                = module.monitoring.application_insights_id
  tags                                   = local.tags

  # Role assignments first, so the host can reach storage and the vault when it starts.
  depends_on = [module.identity]
}
