variable "subscription_id" {
  description = "Subscription to deploy into."
  type        = string
  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.subscription_id))
    error_message = "subscription_id must be a GUID."
  }
}

variable "environment" {
  description = "Environment name, part of every resource name."
  type        = string
  default     = "dev"
  validation {
    condition     = can(regex("^[a-z0-9]{2,5}$", var.environment))
    error_message = "environment must be 2-5 lower-case letters or digits."
  }
}

variable "location" {
  description = "Region (one with Flex Consumption and PostgreSQL Flexible Server)."
  type        = string
  default     = "westeurope"
}

variable "name_suffix" {
  description = "Short suffix making globally unique names unique (storage, vault, server, app)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9]{3,6}$", var.name_suffix))
    error_message = "name_suffix must be 3-6 lower-case letters or digits."
  }
}

variable "monitored_subscription_ids" {
  description = "Subscriptions of the operator's tenant that the managed identity reads."
  type        = list(string)
  default     = []
}

variable "auth_audience" {
  description = "AZCOPS_AUTH_AUDIENCE: the API's application ID URI or client ID."
  type        = string
  validation {
    condition     = length(var.auth_audience) > 0
    error_message = "auth_audience must not be empty."
  }
}

variable "ui_client_id" {
  description = "AZCOPS_UI_CLIENT_ID: client id of the web page's app registration (a single-page application, redirect URI https://<app>/api/ui/, with a delegated permission to the API). Empty: the page says sign-in is not configured."
  type        = string
  default     = ""
}

variable "operator_tenant_id" {
  description = "AZCOPS_OPERATOR_TENANT_ID (defaults to the deployer's tenant)."
  type        = string
  default     = null
}

variable "azure_app_client_id" {
  description = "Client ID of the multi-tenant app registration; empty to use the managed identity for Azure APIs."
  type        = string
  default     = ""
}

variable "postgresql_entra_admin" {
  description = "Entra ID administrator of the server (object_id, principal_name, principal_type), or null."
  type = object({
    object_id      = string
    principal_name = string
    principal_type = string
  })
  default = null
}

variable "tags" {
  description = "Extra tags."
  type        = map(string)
  default     = {}
}
