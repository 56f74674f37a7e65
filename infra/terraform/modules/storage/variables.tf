variable "name" {
  description = "Storage account name (globally unique, 3-24 lower-case letters and digits)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.name))
    error_message = "Storage account names are 3-24 lower-case letters and digits."
  }
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the account."
  type        = string
}

variable "replication_type" {
  description = "LRS (dev), ZRS, GRS, RAGRS, GZRS or RAGZRS."
  type        = string
  default     = "ZRS"
  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "RAGRS", "GZRS", "RAGZRS"], var.replication_type)
    error_message = "replication_type must be LRS, ZRS, GRS, RAGRS, GZRS or RAGZRS."
  }
}

variable "shared_access_key_enabled" {
  description = "Shared-key (account key / SAS) access. Off: the app, the Functions host (identity-based AzureWebJobsStorage) and Terraform (storage_use_azuread) all use Entra ID."
  type        = bool
  default     = false
}

variable "soft_delete_retention_days" {
  description = "Days deleted blobs and containers are kept (1-365)."
  type        = number
  default     = 7
  validation {
    condition     = var.soft_delete_retention_days >= 1 && var.soft_delete_retention_days <= 365
    error_message = "soft_delete_retention_days must be between 1 and 365."
  }
}

variable "export_queue_name" {
  description = "The export jobs' queue (AZCOPS_EXPORT_QUEUE, functions/export-job); its poison queue is <name>-poison."
  type        = string
  default     = "azcops-export"
  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9]|-[a-z0-9]){2,55}$", var.export_queue_name))
    error_message = "Queue names are 3-56 lower-case letters, digits and single hyphens (room for -poison)."
  }
}

variable "follow_up_queue_name" {
  description = "The ingestion follow-up queue (AZCOPS_FOLLOW_UP_QUEUE, functions/ingest-follow-up); its poison queue is <name>-poison."
  type        = string
  default     = "azcops-ingest-follow-up"
  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9]|-[a-z0-9]){2,55}$", var.follow_up_queue_name))
    error_message = "Queue names are 3-56 lower-case letters, digits and single hyphens (room for -poison)."
  }
}

variable "ingest_queue_name" {
  description = "The ingestion queue (AZCOPS_INGEST_QUEUE, functions/ingest-subscription); its poison queue is <name>-poison."
  type        = string
  default     = "azcops-ingest"
  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9]|-[a-z0-9]){2,55}$", var.ingest_queue_name))
    error_message = "Queue names are 3-56 lower-case letters, digits and single hyphens (room for -poison)."
  }
}

variable "deployment_container_name" {
  description = "Blob container holding the Flex Consumption deployment package."
  type        = string
  default     = "deployments"
  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9]|-[a-z0-9]){2,62}$", var.deployment_container_name))
    error_message = "Container names are 3-63 lower-case letters, digits and single hyphens."
  }
}

variable "raw_retention_days" {
  description = "Days each raw snapshot stays immutable (WORM: no overwrite, no delete), 1-146000."
  type        = number
  default     = 365
  validation {
    condition     = var.raw_retention_days >= 1 && var.raw_retention_days <= 146000
    error_message = "raw_retention_days must be between 1 and 146000."
  }
}

variable "raw_immutability_locked" {
  description = "Lock the raw container's immutability policy (irreversible: the period can then only be lengthened)."
  type        = bool
  default     = false
}

variable "package_writer_principal_ids" {
  description = "Principals that upload the deployment package (the deployer, a CI identity): Storage Blob Data Contributor on the deployment container. Never the app's identity."
  type        = list(string)
  default     = []
}

variable "private_endpoint_subnet_id" {
  description = "Subnet for the blob and queue private endpoints."
  type        = string
}

variable "private_dns_zone_ids" {
  description = "Private DNS zone IDs with keys blob and queue (the networking module's private_dns_zone_ids)."
  type        = map(string)
  validation {
    condition     = alltrue([for k in ["blob", "queue"] : contains(keys(var.private_dns_zone_ids), k)])
    error_message = "private_dns_zone_ids needs the keys blob and queue."
  }
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
