//! # gen-ar: autoregressive generative models
//!
//! The chain rule p(x) = Π_i p(x_i | x_<i) (tutorial, chapter 7): scoring and
//! learning are exact and parallel, sampling is sequential (O(D) or O(T)
//! passes), and there is no latent variable to infer.
#![warn(missing_docs)]

pub mod binary;
pub mod decoding;
pub mod sequence;

pub use decoding::{
    DecodeOptions, Hypothesis, NextToken, beam_search, generate, next_token_distribution,
};
