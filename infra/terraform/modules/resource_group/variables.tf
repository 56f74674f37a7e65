variable "name" {
  description = "Name of the resource group."
  type        = string
  validation {
    condition     = can(regex("^[-\\w\\._\\(\\)]{1,89}[-\\w_\\(\\)]$", var.name))
    error_message = "Resource group names are 1-90 characters of letters, digits, '-', '_', '.', '(' and ')', not ending in '.'."
  }
}

variable "location" {
  description = "Azure region, e.g. westeurope."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "Use the region's short name in lower case (e.g. westeurope)."
  }
}

variable "tags" {
  description = "Tags for the resource group."
  type        = map(string)
  default     = {}
}
