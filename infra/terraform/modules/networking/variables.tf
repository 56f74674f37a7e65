variable "name" {
  description = "Name of the virtual network (also prefixes NSG and DNS link names)."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z0-9][-a-zA-Z0-9._]{0,62}[a-zA-Z0-9_]$", var.name))
    error_message = "VNet names are 2-64 characters: letters, digits, '-', '.', '_'."
  }
}

variable "location" {
  description = "Azure region."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group to create the network in."
  type        = string
}

variable "address_space" {
  description = "Address space of the VNet."
  type        = list(string)
  default     = ["10.0.0.0/16"]
  validation {
    condition     = length(var.address_space) > 0 && alltrue([for c in var.address_space : can(cidrhost(c, 0))])
    error_message = "address_space must be a non-empty list of CIDR blocks."
  }
}

variable "subnet_prefixes" {
  description = "CIDR of each subnet: function (VNet integration, /27 or larger), private_endpoints, database (delegated to PostgreSQL), app."
  type = object({
    function          = string
    private_endpoints = string
    database          = string
    app               = string
  })
  default = {
    function          = "10.0.1.0/24"
    private_endpoints = "10.0.2.0/24"
    database          = "10.0.3.0/24"
    app               = "10.0.4.0/24"
  }
  validation {
    condition     = alltrue([for c in values(var.subnet_prefixes) : can(cidrhost(c, 0))])
    error_message = "Every subnet prefix must be a CIDR block."
  }
  validation {
    condition     = tonumber(split("/", var.subnet_prefixes.function)[1]) <= 27
    error_message = "Flex Consumption VNet integration needs a /27 or larger function subnet."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
