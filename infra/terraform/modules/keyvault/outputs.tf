output "id" {
  description = "Resource ID of the vault."
  value       = azurerm_key_vault.this.id
}

output "name" {
  description = "Vault name."
  value       = azurerm_key_vault.this.name
}

output "uri" {
  description = "Vault URI (https://<name>.vault.azure.net/), for AZCOPS_KEY_VAULT_URL."
  value       = azurerm_key_vault.this.vault_uri
}
