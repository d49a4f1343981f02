//! The two delivery guarantees of the ring.

/// How a message is delivered; both are in one total order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Qos {
    /// Agreed delivery: delivered once every message before it in the total
    /// order is delivered.
    Agreed,
    /// Safe delivery: additionally, delivered only once every member of the
    /// ring is known to have received it.
    Safe,
}
