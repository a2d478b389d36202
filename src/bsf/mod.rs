//! The emulated network side: HSS/AuC, BSF (Ub server) and a key API for servers (Zn-like).
//!
//! Lands with the GBA issue.
