output "app_settings" {
  description = "The function app's settings: extras, then Key Vault references, then the module's own."
  value       = local.app_settings
}
