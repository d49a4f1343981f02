//! Logging shim: forwards to `defmt` when the feature is on, otherwise
//! evaluates its arguments and discards them.
#![allow(unused_macros, reason = "not every level is used in every build")]

macro_rules! debug {
    ($($arg:expr),* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::debug!($($arg),*);
        #[cfg(not(feature = "defmt"))]
        let _ = ($(&$arg),*);
    }};
}

macro_rules! info {
    ($($arg:expr),* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::info!($($arg),*);
        #[cfg(not(feature = "defmt"))]
        let _ = ($(&$arg),*);
    }};
}

macro_rules! warn {
    ($($arg:expr),* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::warn!($($arg),*);
        #[cfg(not(feature = "defmt"))]
        let _ = ($(&$arg),*);
    }};
}
