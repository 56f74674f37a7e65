//! The Azure client against local stand-ins for Azure and Entra ID: retries, throttling,
//! timeouts, broken connections and bodies, paging, tokens, error reporting, and the
//! Cost Management query budget shared in PostgreSQL.

mod budget;
mod fakes;
mod paging;
mod retries;
mod tokens;
