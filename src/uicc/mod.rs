//! ISO 7816-4 / TS 102 221 / TS 31.102 card layer.
