output "id" {
  description = "Resource ID of the identity."
  value       = azurerm_user_assigned_identity.this.id
}

output "client_id" {
  description = "Client ID (AZURE_CLIENT_ID, AzureWebJobsStorage__clientId)."
  value       = azurerm_user_assigned_identity.this.client_id
}

output "principal_id" {
  description = "Object ID of the identity's service principal."
  value       = azurerm_user_assigned_identity.this.principal_id
}

output "tenant_id" {
  description = "Tenant of the identity."
  value       = azurerm_user_assigned_identity.this.tenant_id
}

output "name" {
  description = "Name of the identity (its role name in PostgreSQL with Entra ID authentication)."
  value       = azurerm_user_assigned_identity.this.name
}
