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
  description = "Login of the application's password user."
  value       = azurerm_postgresql_flexible_server.this.administrator_login
}

output "administrator_password" {
  description = "Its password (store it in Key Vault; never print it)."
  value       = random_password.admin.result
  sensitive   = true
}

output "database_url" {
  description = "postgres:// URL with the password, for the Key Vault secret database-url."
  value       = "postgres://${azurerm_postgresql_flexible_server.this.administrator_login}:${urlencode(random_password.admin.result)}@${azurerm_postgresql_flexible_server.this.fqdn}:5432/${azurerm_postgresql_flexible_server_database.app.name}?sslmode=require"
  sensitive   = true
}
