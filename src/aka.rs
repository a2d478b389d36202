//! 3GPP AKA arithmetic (TS 33.102, TS 35.206).
