variable "name" {
  description = "Function app name (globally unique host name; at most 32 characters to avoid host ID collisions)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "Function app names here are 2-32 lower-case letters, digits and hyphens."
  }
}

variable "location" {
  description = "Azure region (one where Flex Consumption is available)."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group of the app and its FC1 plan."
  type        = string
}

variable "instance_memory_in_mb" {
  description = "Instance memory: 512, 2048 or 4096 MB."
  type        = number
  default     = 2048
  validation {
    condition     = contains([512, 2048, 4096], var.instance_memory_in_mb)
    error_message = "instance_memory_in_mb must be 512, 2048 or 4096."
  }
}

variable "maximum_instance_count" {
  description = "Scale-out limit (40-1000)."
  type        = number
  default     = 40
  validation {
    condition     = var.maximum_instance_count >= 40 && var.maximum_instance_count <= 1000
    error_message = "maximum_instance_count must be between 40 and 1000."
  }
}

variable "subnet_id" {
  description = "VNet integration subnet (delegated to Microsoft.App/environments)."
  type        = string
}

variable "public_network_access_enabled" {
  description = "Inbound from the internet: the HTTP API is public (it checks Entra ID tokens itself); turn off when callers come through a private network."
  type        = bool
  default     = true
}

variable "identity_id" {
  description = "Resource ID of the user-assigned managed identity."
  type        = string
}

variable "identity_client_id" {
  description = "Its client ID (AZURE_CLIENT_ID, AzureWebJobsStorage__clientId)."
  type        = string
}

variable "identity_principal_id" {
  description = "Its object ID (for the Monitoring Metrics Publisher role on Application Insights)."
  type        = string
}

variable "storage_account_name" {
  description = "AzureWebJobsStorage account (holds the ingestion queue)."
  type        = string
}

variable "deployment_container_endpoint" {
  description = "Blob container URL for the deployment package."
  type        = string
}

variable "lake_url" {
  description = "AZCOPS_LAKE_URL, e.g. abfss://raw@<account>.dfs.core.windows.net."
  type        = string
  validation {
    condition     = can(regex("^(abfss://[a-z0-9-]+@[a-z0-9]+\\.dfs\\.core\\.windows\\.net|https://[a-z0-9]+\\.blob\\.core\\.windows\\.net/)", var.lake_url))
    error_message = "lake_url must be abfss://<container>@<account>.dfs.core.windows.net[/prefix] or https://<account>.blob.core.windows.net/<container>."
  }
}

variable "export_queue_name" {
  description = "AZCOPS_EXPORT_QUEUE (must match functions/export-job's queueName)."
  type        = string
  default     = "azcops-export"
}

variable "follow_up_queue_name" {
  description = "AZCOPS_FOLLOW_UP_QUEUE (must match functions/ingest-follow-up's queueName)."
  type        = string
  default     = "azcops-ingest-follow-up"
}

variable "ingest_queue_name" {
  description = "AZCOPS_INGEST_QUEUE (must match functions/ingest-subscription's queueName)."
  type        = string
  default     = "azcops-ingest"
}

variable "key_vault_id" {
  description = "Vault of the Key Vault references, if any (the app's system identity gets Key Vault Secrets User there)."
  type        = string
  default     = null
}

variable "key_vault_uri" {
  description = "AZCOPS_KEY_VAULT_URL (https://<vault>.vault.azure.net/) of the per-tenant client secrets; empty when the app reads none."
  type        = string
  default     = ""
  validation {
    condition     = var.key_vault_uri == "" || can(regex("^https://[a-zA-Z0-9-]+\\.vault\\.", var.key_vault_uri))
    error_message = "key_vault_uri must be empty or a vault URI such as https://kv-azcops.vault.azure.net/."
  }
}

variable "database_url" {
  description = "DATABASE_URL of the runtime login: postgres://<managed identity's role>@<server>:5432/<database>?sslmode=require, without a password (AZCOPS_DATABASE_AUTH=entra: the password is a token of the managed identity)."
  type        = string
  validation {
    condition     = can(regex("^postgres(ql)?://[^:/@]+@[^/]+/[^?]+\\?(.*&)?sslmode=(require|verify-ca|verify-full)", var.database_url)) && !can(regex("password=", var.database_url))
    error_message = "database_url must be postgres://<role>@<host>[:port]/<database>?sslmode=require with no password (neither user:password@ nor ?password=)."
  }
}

variable "key_vault_secret_uris" {
  description = "App settings given as Key Vault references: setting name => versionless secret URI. Not for authentication or database settings (the database password is a token)."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for u in values(var.key_vault_secret_uris) : can(regex("^https://[a-zA-Z0-9-]+\\.vault\\.[^/]+/secrets/[a-zA-Z0-9-]+(/[0-9a-f]{32})?$", u))])
    error_message = "Each value must be a Key Vault secret URI (https://<vault>.vault.azure.net/secrets/<name>[/<version>])."
  }
}

variable "auth" {
  description = "Entra ID token validation: AZCOPS_AUTH_JWKS_URL, AZCOPS_AUTH_AUDIENCE, AZCOPS_AUTH_ISSUERS, AZCOPS_OPERATOR_TENANT_ID; the web page's sign-in: AZCOPS_UI_CLIENT_ID (empty: the page says sign-in is not configured), AZCOPS_UI_AUTHORITY."
  type = object({
    jwks_url           = optional(string, "https://login.microsoftonline.com/common/discovery/v2.0/keys")
    audience           = string
    issuers            = optional(string, "https://login.microsoftonline.com/{tid}/v2.0,https://sts.windows.net/{tid}/")
    operator_tenant_id = string
    ui_client_id       = optional(string, "")
    ui_authority       = optional(string, "https://login.microsoftonline.com/organizations/v2.0")
  })
  validation {
    condition     = startswith(var.auth.jwks_url, "https://") && startswith(var.auth.ui_authority, "https://") && var.auth.audience != "" && can(regex("^[0-9a-fA-F-]{36}$", var.auth.operator_tenant_id))
    error_message = "auth needs https JWKS and page sign-in URLs, a non-empty audience and the operator tenant's GUID."
  }
}

variable "azure_credential" {
  description = "AZCOPS_AZURE_CREDENTIAL: managed-identity or client-secret (multi-tenant app registration)."
  type        = string
  default     = "managed-identity"
  validation {
    condition     = contains(["managed-identity", "client-secret"], var.azure_credential)
    error_message = "azure_credential must be managed-identity or client-secret."
  }
}

variable "azure_app_client_id" {
  description = "AZCOPS_AZURE_APP_CLIENT_ID of the multi-tenant app registration (with client-secret)."
  type        = string
  default     = ""
}

variable "db_max_connections" {
  description = "AZCOPS_DB_MAX_CONNECTIONS per instance (1-200); mind the server's max_connections times maximum_instance_count."
  type        = number
  default     = 5
  validation {
    condition     = var.db_max_connections >= 1 && var.db_max_connections <= 200
    error_message = "db_max_connections must be between 1 and 200."
  }
}

variable "rust_log" {
  description = "RUST_LOG filter."
  type        = string
  default     = "info"
}

variable "extra_app_settings" {
  description = "More app settings, e.g. AZCOPS_AZURE_COST_QPU_LIMITS. They never override the module's own, and cannot name authentication or database settings (the app_settings module refuses them)."
  type        = map(string)
  default     = {}
}

variable "application_insights_connection_string" {
  description = "Application Insights connection string."
  type        = string
  sensitive   = true
}

variable "application_insights_id" {
  description = "Application Insights resource ID (Monitoring Metrics Publisher for the identity)."
  type        = string
}

variable "tags" {
  description = "Tags."
  type        = map(string)
  default     = {}
}
