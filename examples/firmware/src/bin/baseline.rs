//! The `footprint` image's platform without Blaze: the same executor,
//! SysTick time driver, semihosting report and panic handler, and the same
//! embassy-net stack (`StackResources<3>`, static IPv4, multicast) on a port
//! of the same in-memory hub, which sends one UDP datagram to the group
//! address Blaze uses and receives it on a second stack. No node is
//! linked: `scripts/embedded` subtracts this image's flash from the
//! footprint image's to measure the protocol stack itself.
#![no_std]
#![no_main]

use blaze_firmware::scenario::{FwHub, FwPort};
use blaze_firmware::{exit, init_time, report};
use core::net::Ipv4Addr;
use embassy_executor::Spawner;
use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{IpEndpoint, Ipv4Cidr, Stack, StackResources, StaticConfigV4};
use embassy_time::{Duration, with_timeout};
use static_cell::{ConstStaticCell, StaticCell};

/// One datagram of room, as the node's runner has.
const DATAGRAM: usize = 320;

/// A socket's storage.
struct SocketBuffers {
    rx_meta: [PacketMetadata; 1],
    rx: [u8; DATAGRAM],
    tx_meta: [PacketMetadata; 1],
    tx: [u8; DATAGRAM],
}

impl SocketBuffers {
    const fn new() -> Self {
        SocketBuffers {
            rx_meta: [PacketMetadata::EMPTY; 1],
            rx: [0; DATAGRAM],
            tx_meta: [PacketMetadata::EMPTY; 1],
            tx: [0; DATAGRAM],
        }
    }

    fn socket(&mut self, stack: Stack<'static>) -> UdpSocket<'_> {
        UdpSocket::new(
            stack,
            &mut self.rx_meta,
            &mut self.rx,
            &mut self.tx_meta,
            &mut self.tx,
        )
    }
}

static HUB: ConstStaticCell<FwHub> = ConstStaticCell::new(FwHub::new());
static NET: StaticCell<[StackResources<3>; 2]> = StaticCell::new();
static SOCKETS: StaticCell<[SocketBuffers; 2]> = StaticCell::new();

#[embassy_executor::task(pool_size = 2)]
async fn net_task(mut runner: embassy_net::Runner<'static, FwPort>) -> ! {
    runner.run().await
}

/// Starts the stack of hub port `index` (10.0.0.<index + 1>/24).
fn start(
    spawner: Spawner,
    hub: &'static FwHub,
    index: u8,
    resources: &'static mut StackResources<3>,
) -> Option<Stack<'static>> {
    let port = hub.port(usize::from(index))?;
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, index + 1), 24),
        gateway: None,
        dns_servers: Default::default(),
    });
    let (stack, runner) = embassy_net::new(port, config, resources, 0x5eed_0000 + u64::from(index));
    spawner.spawn(net_task(runner).ok()?);
    Some(stack)
}

/// Sends one datagram from port 0 to the group, and receives it on port 1.
async fn exchange(spawner: Spawner) -> Option<bool> {
    let group = blaze_embassy::Config::default().group;
    let hub: &'static FwHub = HUB.take();
    let [net_a, net_b] = NET.init_with(|| [StackResources::new(), StackResources::new()]);
    let a = start(spawner, hub, 0, net_a)?;
    let b = start(spawner, hub, 1, net_b)?;
    a.wait_config_up().await;
    b.wait_config_up().await;
    b.join_multicast_group(*group.ip()).ok()?;
    let [buf_a, buf_b] = SOCKETS.init_with(|| [SocketBuffers::new(), SocketBuffers::new()]);
    let mut tx = buf_a.socket(a);
    tx.bind(group.port() + 1).ok()?;
    let mut rx = buf_b.socket(b);
    rx.bind(group.port()).ok()?;
    tx.send_to(b"baseline", IpEndpoint::from(group)).await.ok()?;
    let mut got = [0u8; DATAGRAM];
    let (n, meta) = with_timeout(Duration::from_secs(10), rx.recv_from(&mut got))
        .await
        .ok()?
        .ok()?;
    Some(got.get(..n) == Some(b"baseline") && meta.endpoint.port == group.port() + 1)
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    // SAFETY: the first call in `main`, once, before the tick's
    // interrupt is enabled (`init_time`): `paint`'s contract.
    unsafe { blaze_firmware::stack::paint() };
    let Some(p) = cortex_m::Peripherals::take() else {
        exit(false)
    };
    init_time(p.SYST);
    let ok = exchange(spawner).await == Some(true);
    report(format_args!(
        "test udp_datagram ... {}",
        if ok { "ok" } else { "FAILED" }
    ));
    let passed = u32::from(ok);
    report(format_args!("{passed} passed, {} failed", 1 - passed));
    exit(ok)
}
