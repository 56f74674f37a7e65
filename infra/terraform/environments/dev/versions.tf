terraform {
  required_version = ">= 1.9"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.40"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # Configure a remote state per environment, e.g.:
  # backend "azurerm" {
  #   resource_group_name  = "rg-tfstate"
  #   storage_account_name = "sttfstateazcops"
  #   container_name       = "tfstate"
  #   key                  = "azcops-dev.tfstate"
  #   use_azuread_auth     = true
  # }
}

provider "azurerm" {
  features {
    key_vault {
      # Purge protection is on: never try to purge a vault on destroy.
      purge_soft_delete_on_destroy = false
    }
  }
  subscription_id = var.subscription_id
  # Shared-key access is disabled on the storage account: use Entra ID for its data plane.
  storage_use_azuread = true
}
