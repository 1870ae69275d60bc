//! Sharing: share links, share copy and posters (issue 20).
pub mod poster;
