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

variable "reads_key_vault" {
  description = "Whether the app reads per-tenant client secrets from key_vault_id (AZCOPS_AZURE_CREDENTIAL=client-secret): Key Vault Secrets User there. False with the managed-identity credential."
  type        = bool
  default     = false
}

variable "key_vault_id" {
  description = "Vault of the per-tenant client secrets (used when reads_key_vault). Never the vault of the database administrator's secret."
  type        = string
  default     = null
  validation {
    condition     = var.key_vault_id == null || can(regex("/providers/Microsoft.KeyVault/vaults/[^/]+$", var.key_vault_id))
    error_message = "key_vault_id must be a Key Vault resource ID or null."
  }
}

variable "storage" {
  description = "Scopes of the app's storage roles, from the storage module: account_id (Storage Blob Delegator: user-delegation SAS links of exports), lake_container_id (Storage Blob Data Contributor), deployment_container_id (Storage Blob Data Reader), host_container_ids (Storage Blob Data Owner, by name), queue_ids (Storage Queue Data Contributor, by name)."
  type = object({
    account_id              = string
    lake_container_id       = string
    deployment_container_id = string
    host_container_ids      = map(string)
    queue_ids               = map(string)
  })
  validation {
    condition = alltrue([
      for id in concat([var.storage.lake_container_id, var.storage.deployment_container_id], values(var.storage.host_container_ids)) :
      can(regex("/providers/Microsoft.Storage/storageAccounts/[^/]+/blobServices/default/containers/[^/]+$", id))
    ])
    error_message = "Container scopes must be container resource IDs (.../blobServices/default/containers/<name>), not the account."
  }
  validation {
    condition     = can(regex("/providers/Microsoft.Storage/storageAccounts/[^/]+$", var.storage.account_id))
    error_message = "account_id must be the storage account's resource ID (the scope Azure checks generateUserDelegationKey on)."
  }
  validation {
    condition     = alltrue([for id in values(var.storage.queue_ids) : can(regex("/providers/Microsoft.Storage/storageAccounts/[^/]+/queueServices/default/queues/[^/]+$", id))])
    error_message = "Queue scopes must be queue resource IDs (.../queueServices/default/queues/<name>), not the account."
  }
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
