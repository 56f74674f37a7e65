output "id" {
  description = "Resource ID of the account."
  value       = azurerm_storage_account.this.id
}

output "name" {
  description = "Account name (AzureWebJobsStorage__accountName)."
  value       = azurerm_storage_account.this.name
}

output "primary_blob_endpoint" {
  description = "https://<account>.blob.core.windows.net/"
  value       = azurerm_storage_account.this.primary_blob_endpoint
}

output "lake_url" {
  description = "AZCOPS_LAKE_URL for the raw container."
  value       = "abfss://${azurerm_storage_container.raw.name}@${azurerm_storage_account.this.name}.dfs.core.windows.net"
}

output "deployment_container_endpoint" {
  description = "Blob container URL for the Flex Consumption deployment package."
  value       = "${azurerm_storage_account.this.primary_blob_endpoint}${azurerm_storage_container.deployments.name}"
}

output "ingest_queue_name" {
  description = "The ingestion queue."
  value       = var.ingest_queue_name
}
