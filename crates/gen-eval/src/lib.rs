//! gen-eval
