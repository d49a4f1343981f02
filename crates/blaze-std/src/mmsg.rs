//! Linux `mmsghdr` plumbing shared by the batched receive and send paths:
//! the only `unsafe` outside the two system calls themselves.

use crate::MAX_BATCH;

/// Most segments in one UDP_SEGMENT message (the kernel's
/// UDP_MAX_SEGMENTS is 64 on older kernels).
pub(crate) const GSO_MAX_SEGMENTS: usize = 64;

/// Most payload bytes in one segmented message: the largest IPv4 UDP
/// payload, 65 507 bytes, with room to spare.
pub(crate) const GSO_MAX_BYTES: usize = 65_000;

/// Bytes of control data for one UDP_SEGMENT message.
#[allow(
    unsafe_code,
    reason = "CMSG_SPACE is declared unsafe by libc but only computes a size"
)]
// SAFETY: CMSG_SPACE is pure arithmetic on its argument.
const CONTROL_SPACE: usize = unsafe { libc::CMSG_SPACE(2) } as usize;

/// `u64` words in a control buffer: enough for CONTROL_SPACE, 8-aligned.
const CONTROL_WORDS: usize = 4;
const _: () = assert!(CONTROL_WORDS * 8 >= CONTROL_SPACE);

/// A control buffer for one UDP_SEGMENT message, aligned for `cmsghdr`.
pub(crate) type Control = [u64; CONTROL_WORDS];

/// `MAX_BATCH` headers with every length zero and every pointer null.
pub(crate) fn zeroed_headers() -> [libc::mmsghdr; MAX_BATCH] {
    #[allow(unsafe_code, reason = "mmsghdr has no safe constructor")]
    // SAFETY: `mmsghdr` is a C struct of integers and raw pointers, for
    // which all-zero bytes (zero lengths, null pointers) are valid.
    unsafe {
        std::mem::zeroed()
    }
}

/// Attaches a UDP_SEGMENT control message to `hdr`, in `control`: the
/// kernel splits the message into datagrams of `segment` bytes.
pub(crate) fn set_segment_size(hdr: &mut libc::msghdr, control: &mut Control, segment: u16) {
    *control = [0; CONTROL_WORDS];
    hdr.msg_control = control.as_mut_ptr().cast();
    hdr.msg_controllen = CONTROL_SPACE as _;
    #[allow(unsafe_code, reason = "cmsg headers are built through raw pointers")]
    // SAFETY: `msg_control` points at `control`, zeroed, 8-byte aligned
    // (an array of u64, as `cmsghdr` needs) and CONTROL_WORDS * 8 >=
    // CONTROL_SPACE bytes long (checked at compile time), and
    // `msg_controllen` is CONTROL_SPACE >= size_of::<cmsghdr>(), so
    // CMSG_FIRSTHDR returns a non-null pointer to the start of `control`.
    // CMSG_DATA of that header lies CMSG_LEN(0) bytes in, and the two-byte
    // segment size written there ends within CMSG_LEN(2) <= CONTROL_SPACE
    // bytes; the unaligned write makes no alignment assumption. `control`
    // is borrowed mutably for the whole block.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(hdr);
        (*cmsg).cmsg_level = libc::SOL_UDP;
        (*cmsg).cmsg_type = libc::UDP_SEGMENT;
        (*cmsg).cmsg_len = libc::CMSG_LEN(2) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), segment);
    }
}

/// A zeroed control buffer.
pub(crate) const fn empty_control() -> Control {
    [0; CONTROL_WORDS]
}

/// The segment size of a message received with UDP_GRO (the size of every
/// datagram coalesced into it but the last), read from the control data
/// the kernel wrote through `hdr`; `None` when there is none (a single
/// datagram).
pub(crate) fn gro_segment_size(hdr: &libc::msghdr) -> Option<usize> {
    #[allow(
        clippy::unnecessary_cast,
        reason = "msg_controllen is a size_t on glibc but a socklen_t on musl"
    )]
    let controllen = hdr.msg_controllen as usize;
    if hdr.msg_control.is_null() || controllen < CONTROL_SPACE_INT {
        return None;
    }
    #[allow(unsafe_code, reason = "cmsg headers are read through raw pointers")]
    // SAFETY: `msg_control` points at a live, 8-byte aligned control
    // buffer of at least CONTROL_WORDS * 8 bytes (set by the caller, see
    // `set_gro_control`), of which the kernel filled `msg_controllen`
    // bytes (checked above to hold one header with an `int`). CMSG_FIRSTHDR
    // and CMSG_NXTHDR only return headers lying within `msg_controllen`
    // (or null); a UDP_GRO header's data is one `int`, read unaligned
    // within the header's `cmsg_len` (checked against CMSG_LEN(4)).
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_UDP
                && (*cmsg).cmsg_type == UDP_GRO
                && (*cmsg).cmsg_len as usize >= libc::CMSG_LEN(4) as usize
            {
                let size = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
                return usize::try_from(size).ok().filter(|&s| s > 0);
            }
            cmsg = libc::CMSG_NXTHDR(hdr, cmsg);
        }
    }
    None
}

/// Points `hdr` at `control` for the kernel's UDP_GRO control message.
pub(crate) fn set_gro_control(hdr: &mut libc::msghdr, control: &mut Control) {
    *control = [0; CONTROL_WORDS];
    hdr.msg_control = control.as_mut_ptr().cast();
    hdr.msg_controllen = (CONTROL_WORDS * 8) as _;
}

/// The UDP_GRO socket option and control message type (`linux/udp.h`).
pub(crate) const UDP_GRO: libc::c_int = 104;

/// Bytes of control data for one UDP_GRO message (an `int`).
#[allow(
    unsafe_code,
    reason = "CMSG_SPACE is declared unsafe by libc but only computes a size"
)]
// SAFETY: CMSG_SPACE is pure arithmetic on its argument.
const CONTROL_SPACE_INT: usize = unsafe { libc::CMSG_SPACE(4) } as usize;
const _: () = assert!(CONTROL_WORDS * 8 >= CONTROL_SPACE_INT);
