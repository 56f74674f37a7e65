locals {
  # The settings the binary reads (README, "Configuration"); empty values are left out
  # ("an empty value means not set").
  azcops_settings = {
    AZURE_CLIENT_ID      = var.identity_client_id
    AZCOPS_KEY_VAULT_URL = var.key_vault_uri
    # The runtime login: the managed identity's database role, with an Entra ID token as the
    # password; no password anywhere in the app's settings. Migrations are a deploy step
    # (`azcops migrate` as the owner), refused on start in Azure.
    DATABASE_URL                     = var.database_url
    AZCOPS_DATABASE_AUTH             = "entra"
    AZCOPS_DB_MAX_CONNECTIONS        = tostring(var.db_max_connections)
    AZCOPS_MIGRATE_ON_START          = "false"
    AZCOPS_AUTH_MODE                 = "entra"
    AZCOPS_AUTH_JWKS_URL             = var.auth.jwks_url
    AZCOPS_AUTH_AUDIENCE             = var.auth.audience
    AZCOPS_AUTH_ISSUERS              = var.auth.issuers
    AZCOPS_OPERATOR_TENANT_ID        = var.auth.operator_tenant_id
    AZCOPS_UI_CLIENT_ID              = var.auth.ui_client_id
    AZCOPS_UI_AUTHORITY              = var.auth.ui_authority
    AZCOPS_AZURE_CREDENTIAL          = var.azure_credential
    AZCOPS_AZURE_APP_CLIENT_ID       = var.azure_app_client_id
    AZCOPS_AZURE_CLIENT_SECRET_NAME  = "azure-client-secret-{tenant}"
    AZCOPS_QUEUE_CONNECTION          = "AzureWebJobsStorage"
    AZCOPS_INGEST_QUEUE              = var.ingest_queue_name
    AZCOPS_EXPORT_QUEUE              = var.export_queue_name
    AZCOPS_FOLLOW_UP_QUEUE           = var.follow_up_queue_name
    AZCOPS_QUEUE_MESSAGE_ENCODING    = "base64"
    AZCOPS_QUEUE_MAX_DEQUEUE_COUNT   = "5"
    AZCOPS_LAKE_URL                  = var.lake_url
    AZCOPS_LOG_FORMAT                = "json"
    RUST_LOG                         = var.rust_log
    AzureWebJobsStorage__accountName = var.storage_account_name
    AzureWebJobsStorage__credential  = "managedidentity"
    AzureWebJobsStorage__clientId    = var.identity_client_id
    # Application Insights with Entra ID (local authentication is off on the component).
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "ClientId=${var.identity_client_id};Authorization=AAD"
  }
}

# Extras and Key Vault references merged in, never overriding the settings above that say how
# callers are authenticated and how the app logs in to the database (see that module).
module "settings" {
  source                = "../app_settings"
  module_settings       = local.azcops_settings
  key_vault_secret_uris = var.key_vault_secret_uris
  extra_app_settings    = var.extra_app_settings
}

resource "azurerm_service_plan" "this" {
  #checkov:skip=CKV_AZURE_212:Flex Consumption (FC1) scales from zero per function group; there is no worker count to set a minimum for.
  #checkov:skip=CKV_AZURE_225:zone_balancing_enabled is for dedicated (Premium/Elastic) plans with two or more workers; an FC1 plan has no workers to spread, and Flex zone redundancy is not configured through this argument.
  name                = "asp-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = var.tags
}

resource "azurerm_function_app_flex_consumption" "this" {
  name                = var.name
  location            = var.location
  resource_group_name = var.resource_group_name
  service_plan_id     = azurerm_service_plan.this.id
  tags                = var.tags

  # The Rust binary is a custom handler: host.json starts ./handler.
  runtime_name           = "custom"
  runtime_version        = "1.0"
  instance_memory_in_mb  = var.instance_memory_in_mb
  maximum_instance_count = var.maximum_instance_count

  # Deployment package (scripts/package -> dist/azcops-functions.zip) in a blob container,
  # read with the user-assigned identity.
  storage_container_type            = "blobContainer"
  storage_container_endpoint        = var.deployment_container_endpoint
  storage_authentication_type       = "UserAssignedIdentity"
  storage_user_assigned_identity_id = var.identity_id

  virtual_network_subnet_id     = var.subnet_id
  https_only                    = true
  public_network_access_enabled = var.public_network_access_enabled

  # System-assigned too: Key Vault references resolve with it by default.
  identity {
    type         = "SystemAssigned, UserAssigned"
    identity_ids = [var.identity_id]
  }

  app_settings = module.settings.app_settings

  site_config {
    application_insights_connection_string = var.application_insights_connection_string
    minimum_tls_version                    = "1.2"
  }
}

# Key Vault references, if any, are resolved with the app's system-assigned identity.
resource "azurerm_role_assignment" "key_vault_references" {
  count                = length(var.key_vault_secret_uris) > 0 ? 1 : 0
  scope                = var.key_vault_id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_function_app_flex_consumption.this.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

# Telemetry with Entra ID authentication.
resource "azurerm_role_assignment" "telemetry" {
  scope                = var.application_insights_id
  role_definition_name = "Monitoring Metrics Publisher"
  principal_id         = var.identity_principal_id
  principal_type       = "ServicePrincipal"
}
