// p4evpn: an EVPN provider-edge pipeline (RFC 7432, EVPN over MPLS) for the
// v1model architecture.
//
// See README.md in this directory for the tables, who writes them and when,
// and a picture of the flows. The pieces:
//
//   include/headers.p4  types and widths, constants, headers, metadata
//   include/parser.p4   parser, deparser, (empty) checksum controls
//   include/ingress.p4  classification, learning, MAC forwarding
//   include/egress.p4   replica treatment, filters, encapsulation
//
// Compile (p4c built outside this repository, see README.md):
//   p4c-bm2-ss --arch v1model --std p4-16 -o build/evpn.json \
//       --p4runtime-files build/evpn.p4info.txtpb evpn.p4

#include <core.p4>
#include <v1model.p4>

#include "include/headers.p4"
#include "include/parser.p4"
#include "include/ingress.p4"
#include "include/egress.p4"

V1Switch(
    ingress_parser(),
    no_verify_checksum(),
    ingress(),
    egress(),
    no_compute_checksum(),
    ingress_deparser()
) main;
