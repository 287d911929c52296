//! (engine, in progress)
