variable "module_settings" {
  description = "The function app module's own settings (empty values are left out)."
  type        = map(string)
}

variable "key_vault_secret_uris" {
  description = "App settings given as Key Vault references: setting name => secret URI. Not for authentication or database settings."
  type        = map(string)
  default     = {}
  validation {
    condition = !anytrue([
      for k in keys(var.key_vault_secret_uris) :
      contains(["AZCOPS_OPERATOR_TENANT_ID", "DATABASE_URL", "AZCOPS_MIGRATE_ON_START", "AZCOPS_KEY_VAULT_URL", "AZURE_CLIENT_ID"], k) || startswith(k, "AZCOPS_AUTH_") || startswith(k, "AZCOPS_DATABASE_")
    ])
    error_message = "key_vault_secret_uris cannot set AZCOPS_AUTH_*, AZCOPS_DATABASE_*, AZCOPS_OPERATOR_TENANT_ID, DATABASE_URL, AZCOPS_MIGRATE_ON_START, AZCOPS_KEY_VAULT_URL or AZURE_CLIENT_ID."
  }
}

variable "extra_app_settings" {
  description = "More app settings. They never override the module's own, and cannot name authentication or database settings."
  type        = map(string)
  default     = {}
  validation {
    condition = !anytrue([
      for k in keys(var.extra_app_settings) :
      contains(["AZCOPS_OPERATOR_TENANT_ID", "DATABASE_URL", "AZCOPS_MIGRATE_ON_START", "AZCOPS_KEY_VAULT_URL", "AZURE_CLIENT_ID"], k) || startswith(k, "AZCOPS_AUTH_") || startswith(k, "AZCOPS_DATABASE_")
    ])
    error_message = "extra_app_settings cannot set AZCOPS_AUTH_*, AZCOPS_DATABASE_*, AZCOPS_OPERATOR_TENANT_ID, DATABASE_URL, AZCOPS_MIGRATE_ON_START, AZCOPS_KEY_VAULT_URL or AZURE_CLIENT_ID: the function app module sets them."
  }
}
