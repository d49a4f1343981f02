//! Logging shim: forwards to `log` or `defmt`, or evaluates its arguments
//! and discards them when neither feature is on.
#![allow(unused_macros, reason = "not every level is used in every build")]

#[cfg(all(feature = "defmt", feature = "log"))]
compile_error!("the `defmt` and `log` features are mutually exclusive");

macro_rules! trace {
    ($($arg:expr),* $(,)?) => {{
        #[cfg(feature = "log")]
        ::log::trace!($($arg),*);
        #[cfg(feature = "defmt")]
        ::defmt::trace!($($arg),*);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        let _ = ($(&$arg),*);
    }};
}

macro_rules! debug {
    ($($arg:expr),* $(,)?) => {{
        #[cfg(feature = "log")]
        ::log::debug!($($arg),*);
        #[cfg(feature = "defmt")]
        ::defmt::debug!($($arg),*);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        let _ = ($(&$arg),*);
    }};
}
