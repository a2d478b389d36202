//! Software USIM for tests, demos and labs.
