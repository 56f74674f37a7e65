variable "name" {
  description = "Vault name (globally unique, 3-24 letters, digits, hyphens)."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "Key Vault names are 3-24 letters, digits and single hyphens, starting with a letter."
  }
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the vault."
  type        = string
}

variable "tenant_id" {
  description = "Entra ID tenant of the vault."
  type        = string
  validation {
    condition     = can(regex("^[0-9a-fA-F-]{36}$", var.tenant_id))
    error_message = "tenant_id must be a GUID."
  }
}

variable "sku_name" {
  description = "standard or premium."
  type        = string
  default     = "standard"
  validation {
    condition     = contains(["standard", "premium"], var.sku_name)
    error_message = "sku_name must be standard or premium."
  }
}

variable "soft_delete_retention_days" {
  description = "Days a deleted vault or secret is kept (7-90)."
  type        = number
  default     = 90
  validation {
    condition     = var.soft_delete_retention_days >= 7 && var.soft_delete_retention_days <= 90
    error_message = "soft_delete_retention_days must be between 7 and 90."
  }
}

variable "purge_protection_enabled" {
  description = "Purge protection: keep it on (always in prod); dev may turn it off to recreate the vault. Cannot be turned off once on."
  type        = bool
  default     = true
}

variable "private_endpoint_subnet_id" {
  description = "Subnet for the vault's private endpoint."
  type        = string
}

variable "private_dns_zone_id" {
  description = "Private DNS zone privatelink.vaultcore.azure.net."
  type        = string
}

variable "secrets_officer_principal_ids" {
  description = "Object IDs granted Key Vault Secrets Officer (who writes secrets, e.g. the deployer)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
