//! Azure Resource Graph: the inventory of a subscription and the KQL library.

pub mod queries;
