locals {
  # Settings only the function app module sets: how callers are authenticated and how the app
  # logs in to the database. variables.tf refuses them in extras and Key Vault references, the
  # merge lets the module's win anyway, and the check below verifies the result.
  protected_prefixes = ["AZCOPS_AUTH_", "AZCOPS_DATABASE_"]
  protected_names    = ["AZCOPS_OPERATOR_TENANT_ID", "DATABASE_URL", "AZCOPS_MIGRATE_ON_START", "AZCOPS_KEY_VAULT_URL", "AZURE_CLIENT_ID"]

  # An empty value means "not set" to the binary: such settings are left out.
  module_settings = { for k, v in var.module_settings : k => v if v != "" }

  # Later maps win: the module's own settings over Key Vault references over extras.
  app_settings = merge(
    var.extra_app_settings,
    { for name, uri in var.key_vault_secret_uris : name => "@Microsoft.KeyVault(SecretUri=${uri})" },
    local.module_settings,
  )

  protected_in_app_settings = [
    for k in keys(local.app_settings) : k
    if contains(local.protected_names, k) || anytrue([for p in local.protected_prefixes : startswith(k, p)])
  ]
}

# Every authentication and database setting the app runs with is the module's own.
check "protected_settings_are_the_modules" {
  assert {
    condition = alltrue([
      for k in local.protected_in_app_settings : lookup(local.module_settings, k, null) == local.app_settings[k]
    ])
    error_message = "An authentication or database app setting (AZCOPS_AUTH_*, AZCOPS_DATABASE_*, AZCOPS_OPERATOR_TENANT_ID, DATABASE_URL, AZCOPS_MIGRATE_ON_START, AZCOPS_KEY_VAULT_URL, AZURE_CLIENT_ID) does not come from the module."
  }
}
