# terraform test (offline: no provider): extras and Key Vault references never change how
# callers are authenticated or how the app logs in to the database.

variables {
  module_settings = {
    AZCOPS_AUTH_MODE          = "entra"
    AZCOPS_AUTH_AUDIENCE      = "api://azcops"
    AZCOPS_OPERATOR_TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    DATABASE_URL              = "postgres://id-azcops-dev@psql.postgres.database.azure.com:5432/azcops?sslmode=require"
    AZCOPS_DATABASE_AUTH      = "entra"
    AZCOPS_MIGRATE_ON_START   = "false"
    AZCOPS_KEY_VAULT_URL      = ""
    RUST_LOG                  = "info"
  }
}

run "other_settings_are_added_and_empty_ones_left_out" {
  command = plan
  variables {
    extra_app_settings    = { AZCOPS_AZURE_COST_QPU_LIMITS = "12,60,600" }
    key_vault_secret_uris = { AZCOPS_AZURE_CLIENT_SECRET = "https://kv.vault.azure.net/secrets/s" }
  }
  assert {
    condition     = output.app_settings["AZCOPS_AZURE_COST_QPU_LIMITS"] == "12,60,600"
    error_message = "An extra setting is missing."
  }
  assert {
    condition     = output.app_settings["AZCOPS_AZURE_CLIENT_SECRET"] == "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/s)"
    error_message = "A Key Vault reference is missing."
  }
  assert {
    condition     = output.app_settings["AZCOPS_AUTH_MODE"] == "entra" && !contains(keys(output.app_settings), "AZCOPS_KEY_VAULT_URL")
    error_message = "The module's settings are not what it set."
  }
}

run "extras_cannot_turn_authentication_off" {
  command = plan
  variables {
    extra_app_settings = { AZCOPS_AUTH_MODE = "disabled" }
  }
  expect_failures = [var.extra_app_settings]
}

run "extras_cannot_change_the_operator_tenant" {
  command = plan
  variables {
    extra_app_settings = { AZCOPS_OPERATOR_TENANT_ID = "00000000-0000-0000-0000-000000000000" }
  }
  expect_failures = [var.extra_app_settings]
}

run "extras_cannot_change_the_database_login" {
  command = plan
  variables {
    extra_app_settings = { DATABASE_URL = "postgres://azcops:secret@psql/azcops", AZCOPS_DATABASE_AUTH = "password" }
  }
  expect_failures = [var.extra_app_settings]
}

run "extras_cannot_fill_in_a_setting_the_module_left_empty" {
  command = plan
  variables {
    extra_app_settings = { AZCOPS_KEY_VAULT_URL = "https://attacker.vault.azure.net/" }
  }
  expect_failures = [var.extra_app_settings]
}

run "extras_cannot_migrate_on_start" {
  command = plan
  variables {
    extra_app_settings = { AZCOPS_MIGRATE_ON_START = "true" }
  }
  expect_failures = [var.extra_app_settings]
}

run "key_vault_references_cannot_hold_the_database_url" {
  command = plan
  variables {
    key_vault_secret_uris = { DATABASE_URL = "https://kv.vault.azure.net/secrets/database-admin-url" }
  }
  expect_failures = [var.key_vault_secret_uris]
}
