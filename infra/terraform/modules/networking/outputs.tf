output "vnet_id" {
  description = "Resource ID of the VNet."
  value       = azurerm_virtual_network.this.id
}

output "vnet_name" {
  description = "Name of the VNet."
  value       = azurerm_virtual_network.this.name
}

output "function_subnet_id" {
  description = "Subnet for the function app's VNet integration (delegated to Microsoft.App/environments)."
  value       = azurerm_subnet.function.id
}

output "private_endpoint_subnet_id" {
  description = "Subnet for private endpoints."
  value       = azurerm_subnet.private_endpoints.id
}

output "database_subnet_id" {
  description = "Subnet delegated to PostgreSQL Flexible Server."
  value       = azurerm_subnet.database.id
}

output "app_subnet_id" {
  description = "Spare application subnet."
  value       = azurerm_subnet.app.id
}

output "private_dns_zone_ids" {
  description = "Private DNS zone IDs by key: postgresql, blob, dfs, queue, vault."
  value       = { for k, z in azurerm_private_dns_zone.this : k => z.id }
}
