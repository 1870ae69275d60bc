//! Share posters (being written).
