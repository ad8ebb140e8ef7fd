package gnmi

import (
	"net/netip"
	"time"

	"github.com/p4evpn/p4evpn/evpn/route"
)

// The typed telemetry the device publishes through State. Zero values mean
// "absent" and publish no leaf, except where a comment says otherwise.

// MACEntry is one forwarding entry of a MAC-VRF:
// NI/fdb/mac-table/entries/entry[mac-address][vlan]. The model has no
// remote-PE leaf here; a remote MAC's PE and label are its L2RIB BGP
// producer's next hop (L2RIBEntry).
type MACEntry struct {
	MAC  route.MAC
	VLAN uint16
	// EVI is the EVPN instance; 0 publishes no evi leaf.
	EVI uint32
	// Static selects entry-type STATIC; otherwise DYNAMIC.
	Static bool
	// Since is when the MAC entered the table; its state/age is the whole
	// seconds since. The published value holds at the notification's
	// timestamp (what subscribers receive); Get reports the age at the
	// time of the Get, so the device never republishes to refresh it. The
	// zero time (unknown) publishes no age.
	Since time.Time
	// Interface and Subinterface are the local attachment circuit; an
	// empty Interface (a remote MAC) publishes neither.
	Interface    string
	Subinterface uint32
}

// Producer is the source of an L2RIB entry.
type Producer string

// L2RIB producers (openconfig-network-instance l2rib).
const (
	ProducerLocal  Producer = "LOCAL"
	ProducerStatic Producer = "STATIC"
	ProducerBGP    Producer = "BGP"
)

// MobilityState is the MAC mobility state of an L2RIB producer
// (RFC 7432 §15.1); empty means normal.
type MobilityState string

// Mobility states.
const (
	MobilityFrozen    MobilityState = "FROZEN"
	MobilityDuplicate MobilityState = "DUPLICATE"
)

// L2RIBEntry is one MAC of a MAC-VRF's L2RIB with every producer that
// knows it: NI/fdb/l2rib/mac-table/entries/entry[mac-address].
type L2RIBEntry struct {
	MAC   route.MAC
	VLAN  uint16
	EVI   uint32
	L2VNI uint32
	// Producers is at most one per Producer kind.
	Producers []L2RIBProducer
}

// L2RIBProducer is …/producers/producer[producer].
type L2RIBProducer struct {
	Producer      Producer
	SeqNumber     uint32
	MobilityState MobilityState
	// ESI is the MAC's Ethernet segment; the zero ESI publishes no esi.
	ESI    route.ESI
	Sticky bool
	// NextHops are where the producer forwards the MAC: the remote PE and
	// its label for BGP, the AC for LOCAL. One next hop is referenced by
	// the producer's next-hop leaf; several (aliasing) form a next-hop
	// group of type ESI (BASE_ECMP without an ESI).
	NextHops []L2NextHop
}

// L2NextHop is an entry of the L2RIB's shared next-hop table
// (…/l2rib/mac-table/next-hops/next-hop[index]); the publisher assigns the
// index and shares equal next hops between MACs.
type L2NextHop struct {
	// PeerIP is the remote PE; invalid publishes no peer-ip.
	PeerIP netip.Addr
	// Label is the remote PE's service label for the MAC-VRF.
	Label        uint32
	ESI          route.ESI
	Resolved     bool
	Interface    string
	Subinterface uint32
}

// DesignatedForwarder is the DF election result of one Ethernet segment for
// one VLAN, published under the p4evpn augment
// /ethernet-segments/ethernet-segment[name]/designated-forwarders/
// designated-forwarder[vlan]/state, since openconfig-ethernet-segments has
// no DF state.
type DesignatedForwarder struct {
	VLAN uint16
	// Address is the elected DF's originating router IP.
	Address netip.Addr
	// Local is true when this PE is the DF.
	Local bool
}

// SessionState is the BGP FSM state enumeration.
type SessionState string

// BGP session states.
const (
	SessionIdle        SessionState = "IDLE"
	SessionConnect     SessionState = "CONNECT"
	SessionActive      SessionState = "ACTIVE"
	SessionOpenSent    SessionState = "OPENSENT"
	SessionOpenConfirm SessionState = "OPENCONFIRM"
	SessionEstablished SessionState = "ESTABLISHED"
)

// BGPNeighborState is the operational state of one BGP neighbor:
// NI/protocols/protocol[identifier=BGP][name]/bgp/neighbors/neighbor.
type BGPNeighborState struct {
	Address                netip.Addr
	SessionState           SessionState
	EstablishedTransitions uint64
	// LastEstablished is published as ns since the Unix epoch.
	LastEstablished                        time.Time
	UpdatesSent, UpdatesReceived           uint64
	NotificationsSent, NotificationsRecved uint64
	LocalPort, RemotePort                  uint16
	RemoteAddress                          netip.Addr
	NegotiatedHoldTime                     uint16
	// EVPN is the L2VPN_EVPN address family; nil publishes none.
	EVPN *AFISafiState
}

// AFISafiState is …/afi-safis/afi-safi[afi-safi-name=L2VPN_EVPN]/state.
type AFISafiState struct {
	Active                            bool
	Received, ReceivedPrePolicy, Sent uint32
	// Installed is the neighbor's routes selected and used for forwarding;
	// nil (unknown) publishes no installed leaf rather than a guess.
	Installed *uint32
}

// InterfaceState is the operational state and counters of a port:
// /interfaces/interface[name]/state.
type InterfaceState struct {
	Name string
	// OperStatus and AdminStatus are the model's enums (UP, DOWN, …).
	OperStatus, AdminStatus string
	Ifindex                 uint32
	Counters                InterfaceCounters
}

// InterfaceCounters are /interfaces/interface/state/counters; every field
// is published, zero included, because a counter at zero is a value.
type InterfaceCounters struct {
	InOctets, InPkts, InUnicastPkts, InBroadcastPkts, InMulticastPkts uint64
	InErrors, InDiscards                                              uint64
	OutOctets, OutPkts, OutUnicastPkts, OutBroadcastPkts              uint64
	OutMulticastPkts, OutDiscards, OutErrors                          uint64
}
