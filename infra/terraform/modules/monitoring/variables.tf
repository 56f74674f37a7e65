variable "name" {
  description = "Base name: log-<name> and appi-<name>."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z0-9][-a-zA-Z0-9]{2,56}$", var.name))
    error_message = "name must be 3-57 letters, digits and hyphens."
  }
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group."
  type        = string
}

variable "retention_in_days" {
  description = "Log Analytics retention (30-730 days)."
  type        = number
  default     = 30
  validation {
    condition     = var.retention_in_days >= 30 && var.retention_in_days <= 730
    error_message = "retention_in_days must be between 30 and 730."
  }
}

variable "daily_quota_gb" {
  description = "Daily ingestion cap in GB (-1 for none)."
  type        = number
  default     = -1
  validation {
    condition     = var.daily_quota_gb == -1 || var.daily_quota_gb > 0
    error_message = "daily_quota_gb must be -1 or positive."
  }
}

variable "diagnostic_targets" {
  description = "Resources whose diagnostics go to the workspace: static key => { resource_id, logs (false for targets with metrics only, e.g. a storage account itself) }."
  type = map(object({
    resource_id = string
    logs        = optional(bool, true)
  }))
  default = {}
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
