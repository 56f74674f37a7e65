output "id" {
  description = "Resource ID of the function app."
  value       = azurerm_function_app_flex_consumption.this.id
}

output "name" {
  description = "Function app name (for func azure functionapp publish)."
  value       = azurerm_function_app_flex_consumption.this.name
}

output "default_hostname" {
  description = "Host name; the API is at https://<host>/api/."
  value       = azurerm_function_app_flex_consumption.this.default_hostname
}

output "service_plan_id" {
  description = "Resource ID of the FC1 plan."
  value       = azurerm_service_plan.this.id
}

output "system_principal_id" {
  description = "Object ID of the app's system-assigned identity (resolves Key Vault references)."
  value       = azurerm_function_app_flex_consumption.this.identity[0].principal_id
}
