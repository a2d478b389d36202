//! Software USIM for tests, demos and labs.
pub mod modem;
