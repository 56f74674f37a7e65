output "resource_group_name" {
  description = "Resource group."
  value       = module.resource_group.name
}

output "function_app_name" {
  description = "Function app (az functionapp deployment source config-zip -n ...)."
  value       = module.function_app.name
}

output "api_base_url" {
  description = "Base URL of the HTTP API."
  value       = "https://${module.function_app.default_hostname}/api"
}

output "managed_identity_client_id" {
  description = "AZURE_CLIENT_ID of the app."
  value       = module.identity.client_id
}

output "key_vault_uri" {
  description = "AZCOPS_KEY_VAULT_URL; put azure-client-secret-<tenant> secrets here."
  value       = module.keyvault.uri
}

output "storage_account_name" {
  description = "Storage account (lake, queue, deployment package)."
  value       = module.storage.name
}

output "lake_url" {
  description = "AZCOPS_LAKE_URL."
  value       = module.storage.lake_url
}

output "deploy_vault_name" {
  description = "Vault of the deploy step's secret database-admin-url (azcops migrate)."
  value       = module.deploy_vault.name
}

output "deployment_container_url" {
  description = "Blob container of the deployment package (the deployer uploads it; the app only reads)."
  value       = module.storage.deployment_container_endpoint
}

output "runtime_login_sql" {
  description = "Deploy-step SQL making the managed identity the runtime login (README, Deployment)."
  value       = module.postgresql.runtime_login_sql
}

output "postgresql_fqdn" {
  description = "Private FQDN of the database server."
  value       = module.postgresql.fqdn
}

output "log_analytics_workspace_id" {
  description = "Log Analytics workspace."
  value       = module.monitoring.log_analytics_workspace_id
}
