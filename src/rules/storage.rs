//! stub
use super::Rule;
pub(crate) const RULES: [Rule; 0] = [];
