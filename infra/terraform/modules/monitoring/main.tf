resource "azurerm_log_analytics_workspace" "this" {
  name                = "log-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  sku                 = "PerGB2018"
  retention_in_days   = var.retention_in_days
  daily_quota_gb      = var.daily_quota_gb
  tags                = var.tags
}

resource "azurerm_application_insights" "this" {
  name                          = "appi-${var.name}"
  location                      = var.location
  resource_group_name           = var.resource_group_name
  workspace_id                  = azurerm_log_analytics_workspace.this.id
  application_type              = "other"
  local_authentication_disabled = true
  tags                          = var.tags
}

# Keys are static so for_each is known at plan time; values may come from other modules.
resource "azurerm_monitor_diagnostic_setting" "this" {
  for_each                   = var.diagnostic_targets
  name                       = "diag-${var.name}-${each.key}"
  target_resource_id         = each.value.resource_id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  dynamic "enabled_log" {
    for_each = each.value.logs ? [1] : []
    content {
      category_group = "allLogs"
    }
  }

  enabled_metric {
    category = "AllMetrics"
  }
}
