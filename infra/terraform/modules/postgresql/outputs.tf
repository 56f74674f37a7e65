output "id" {
  description = "Resource ID of the server."
  value       = azurerm_postgresql_flexible_server.this.id
}

output "name" {
  description = "Server name."
  value       = azurerm_postgresql_flexible_server.this.name
}

output "fqdn" {
  description = "Private FQDN of the server."
  value       = azurerm_postgresql_flexible_server.this.fqdn
}

output "database_name" {
  description = "Application database."
  value       = azurerm_postgresql_flexible_server_database.app.name
}

output "administrator_login" {
  description = "Login of the password administrator (schema owner; migrations only)."
  value       = azurerm_postgresql_flexible_server.this.administrator_login
}

output "administrator_password" {
  description = "Its password (store it in Key Vault; never print it)."
  value       = random_password.admin.result
  sensitive   = true
}

output "database_url" {
  description = "The administrator's postgres:// URL with the password, for `azcops migrate` in the deploy step (the deployment vault's secret database-admin-url); never an app setting."
  value       = "postgres://${azurerm_postgresql_flexible_server.this.administrator_login}:${urlencode(random_password.admin.result)}@${azurerm_postgresql_flexible_server.this.fqdn}:5432/${azurerm_postgresql_flexible_server_database.app.name}?sslmode=require"
  sensitive   = true
}

output "runtime_database_url" {
  description = "DATABASE_URL of the app (AZCOPS_DATABASE_AUTH=entra): the managed identity's role, no password."
  value       = "postgres://${var.runtime_principal.name}@${azurerm_postgresql_flexible_server.this.fqdn}:5432/${azurerm_postgresql_flexible_server_database.app.name}?sslmode=require"
}

output "runtime_login_sql" {
  description = "The deploy step that makes the managed identity the runtime login: `create_principal` as an Entra administrator in the postgres database, `grant` as the administrator (after `azcops migrate`) in the application database."
  value = {
    create_principal = "SELECT * FROM pgaadauth_create_principal_with_oid('${var.runtime_principal.name}', '${var.runtime_principal.object_id}', 'service', false, false);"
    grant            = "GRANT azcops_runtime TO \"${var.runtime_principal.name}\";"
  }
}
