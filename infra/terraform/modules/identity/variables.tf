variable "name" {
  description = "Name of the user-assigned managed identity."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z0-9][-a-zA-Z0-9_]{2,127}$", var.name))
    error_message = "Identity names are 3-128 letters, digits, hyphens and underscores."
  }
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the identity."
  type        = string
}

variable "monitored_subscription_ids" {
  description = "Subscriptions (GUIDs) the identity reads: Reader, Cost Management Reader, Monitoring Reader."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for s in var.monitored_subscription_ids : can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", s))])
    error_message = "monitored_subscription_ids must be subscription GUIDs (not /subscriptions/... paths)."
  }
}

variable "key_vault_id" {
  description = "Vault the identity reads secrets from (Key Vault Secrets User)."
  type        = string
  validation {
    condition     = can(regex("/providers/Microsoft.KeyVault/vaults/[^/]+$", var.key_vault_id))
    error_message = "key_vault_id must be a Key Vault resource ID."
  }
}

variable "storage_account_id" {
  description = "Account the identity uses (Storage Blob Data Contributor, Storage Queue Data Contributor)."
  type        = string
  validation {
    condition     = can(regex("/providers/Microsoft.Storage/storageAccounts/[^/]+$", var.storage_account_id))
    error_message = "storage_account_id must be a storage account resource ID."
  }
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
