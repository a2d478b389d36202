//! GBA (TS 33.220 / 24.109): key derivation, NAF_Id, B-TID, the Ub client and the bootstrapping cache.
//!
//! Lands with the GBA issue.
