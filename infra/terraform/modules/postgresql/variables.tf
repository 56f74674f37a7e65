variable "name" {
  description = "Server name (globally unique, 3-63 lower-case letters, digits, hyphens)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.name))
    error_message = "Server names are 3-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen."
  }
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the server."
  type        = string
}

variable "tenant_id" {
  description = "Entra ID tenant for Entra ID authentication."
  type        = string
  validation {
    condition     = can(regex("^[0-9a-fA-F-]{36}$", var.tenant_id))
    error_message = "tenant_id must be a GUID."
  }
}

variable "delegated_subnet_id" {
  description = "Subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers."
  type        = string
}

variable "private_dns_zone_id" {
  description = "Private DNS zone privatelink.postgres.database.azure.com linked to the VNet."
  type        = string
}

variable "sku_name" {
  description = "Compute SKU, e.g. B_Standard_B1ms (dev), GP_Standard_D2ds_v5 (prod)."
  type        = string
  default     = "B_Standard_B1ms"
  validation {
    condition     = can(regex("^(B|GP|MO)_Standard_", var.sku_name))
    error_message = "sku_name must be a Flexible Server SKU: B_Standard_*, GP_Standard_* or MO_Standard_*."
  }
}

variable "storage_mb" {
  description = "Storage size in MB."
  type        = number
  default     = 32768
  validation {
    condition     = contains([32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4193280, 4194304, 8388608, 16777216, 33553408], var.storage_mb)
    error_message = "storage_mb must be one of the Flexible Server storage sizes (32768, 65536, ...)."
  }
}

variable "backup_retention_days" {
  description = "Point-in-time restore window in days (7-35)."
  type        = number
  default     = 7
  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 7 and 35."
  }
}

variable "geo_redundant_backup_enabled" {
  description = "Geo-redundant backups (cannot be changed after creation)."
  type        = bool
  default     = false
}

variable "high_availability" {
  description = "Zone-redundant high availability (not available on Burstable SKUs)."
  type        = bool
  default     = false
  validation {
    condition     = !var.high_availability || !startswith(var.sku_name, "B_")
    error_message = "High availability needs a General Purpose or Memory Optimized SKU."
  }
}

variable "zone" {
  description = "Availability zone of the primary (null lets Azure choose)."
  type        = string
  default     = null
}

variable "administrator_login" {
  description = "Password administrator login: owns the schema and runs the migrations (deploy step only, never the app)."
  type        = string
  default     = "azcops"
  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.administrator_login)) && !contains(["azure_superuser", "azure_pg_admin", "admin", "administrator", "root", "guest", "public"], var.administrator_login)
    error_message = "administrator_login must be a lower-case identifier and not a reserved name."
  }
}

variable "database_name" {
  description = "Application database."
  type        = string
  default     = "azcops"
  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.database_name))
    error_message = "database_name must be a lower-case identifier."
  }
}

variable "entra_admin" {
  description = "Entra ID administrator of the server (a group is best); null for none."
  type = object({
    object_id      = string
    principal_name = string
    principal_type = string
  })
  default = null
  validation {
    condition     = var.entra_admin == null || contains(["User", "Group", "ServicePrincipal"], try(var.entra_admin.principal_type, ""))
    error_message = "entra_admin.principal_type must be User, Group or ServicePrincipal."
  }
}

variable "runtime_principal" {
  description = "The app's managed identity, its runtime login with Entra ID authentication: name (its role name) and object_id (the principal ID)."
  type = object({
    name      = string
    object_id = string
  })
  validation {
    condition     = can(regex("^[a-zA-Z0-9][-a-zA-Z0-9_]{2,62}$", var.runtime_principal.name)) && can(regex("^[0-9a-fA-F-]{36}$", var.runtime_principal.object_id))
    error_message = "runtime_principal needs the identity's name (3-63 letters, digits, - and _) and its object ID (a GUID)."
  }
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
