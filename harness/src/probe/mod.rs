//! (stack, in progress)
