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
  value       = "${azurerm_storage_account.this.primary_blob_endpoint}${azurerm_storage_container.raw.name}"
}

output "lake_container_id" {
  description = "Resource Manager ID of the raw container (scope of the app's Storage Blob Data Contributor)."
  value       = "${local.blob_service_id}/containers/${azurerm_storage_container.raw.name}"
}

output "deployment_container_id" {
  description = "Resource Manager ID of the deployment container (the app reads, the deployer writes)."
  value       = "${local.blob_service_id}/containers/${azurerm_storage_container.deployments.name}"
}

output "host_container_ids" {
  description = "Resource Manager IDs of the Functions host's own containers, by name."
  value       = { for name, c in azurerm_storage_container.host : name => "${local.blob_service_id}/containers/${c.name}" }
}

output "queue_ids" {
  description = "Resource Manager IDs of the ingestion and export queues and their poison queues, by name."
  value       = { for q in local.queue_names : q => "${local.queue_service_id}/queues/${azurerm_storage_queue.ingest[q].name}" }
}

output "deployment_container_endpoint" {
  description = "Blob container URL for the Flex Consumption deployment package."
  value       = "${azurerm_storage_account.this.primary_blob_endpoint}${azurerm_storage_container.deployments.name}"
}

output "export_queue_name" {
  description = "The export jobs' queue."
  value       = var.export_queue_name
}

output "follow_up_queue_name" {
  description = "The ingestion follow-up queue."
  value       = var.follow_up_queue_name
}

output "ingest_queue_name" {
  description = "The ingestion queue."
  value       = var.ingest_queue_name
}
