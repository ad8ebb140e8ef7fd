package gnmi

// newSchema builds the tree of every path the server serves, exactly as
// OPENCONFIG.md lists them, plus one documented p4evpn augment (the DF per
// VLAN of an Ethernet segment, which openconfig-ethernet-segments lacks).
func newSchema() *schemaNode {
	root := container("",
		inModule(modInterfaces, interfacesSchema()),
		inModule(modNetworkInstance, networkInstancesSchema()),
		inModule(modEthernetSegments, ethernetSegmentsSchema()),
	)
	finish(root, nil, false)
	return root
}

func interfaceCounters(extra ...*schemaNode) *schemaNode {
	names := []string{
		"in-octets", "in-pkts", "in-unicast-pkts", "in-broadcast-pkts", "in-multicast-pkts",
		"in-errors", "in-discards", "out-octets", "out-pkts", "out-unicast-pkts",
		"out-broadcast-pkts", "out-multicast-pkts", "out-discards", "out-errors", "last-clear",
	}
	c := container("counters", extra...)
	for _, n := range names {
		c.children[n] = leaf(n, tUint64())
	}
	return c
}

func interfacesSchema() *schemaNode {
	name := leaf("name", tString())
	index := leaf("index", tUint32())
	vlanID := leaf("vlan-id", tUint(16, 1, 4094))
	return container("interfaces",
		list("interface", []string{"name"}, join(
			keyLeaves(name),
			cs(one(
				name,
				leaf("type", tIdentity(modIANAIfType, interfaceTypes...)),
				leaf("description", tString()),
				leaf("enabled", tBool()),
				leaf("mtu", tUint16()),
			),
				leaf("admin-status", tEnum(adminStatuses...)),
				leaf("oper-status", tEnum(operStatuses...)),
				leaf("ifindex", tUint32()),
				leaf("last-change", tUint64()),
				interfaceCounters(
					leaf("in-unknown-protos", tUint64()),
					leaf("in-fcs-errors", tUint64()),
					leaf("interface-transitions", tUint64()),
					leaf("link-transitions", tUint64()),
					leaf("resets", tUint64()),
				),
			),
			one(container("subinterfaces",
				list("subinterface", []string{"index"}, join(
					keyLeaves(index),
					cs(one(index, leaf("description", tString()), leaf("enabled", tBool())),
						leaf("oper-status", tEnum(operStatuses...)),
						interfaceCounters(),
					),
					one(inModule(modVLAN, container("vlan",
						container("match",
							container("single-tagged", cs(one(vlanID))...),
						),
					))),
				)...),
			)),
		)...),
	)
}

func routeTargets() []*schemaNode {
	rt := tPattern("union{oc-bgp-types:bgp-ext-community-type | AUTO}", checkRouteTarget)
	return cs(one(leafList("import-route-target", rt), leafList("export-route-target", rt)))
}

func networkInstancesSchema() *schemaNode {
	name := leaf("name", tString())
	vlanID := leaf("vlan-id", tUint(16, 1, 4094))
	id := leaf("id", tString())
	evi := leaf("evi", tString())
	identifier := leaf("identifier", tIdentity(modPolicyTypes, protocolIdentifiers...))
	protoName := leaf("name", tString())
	return container("network-instances",
		list("network-instance", []string{"name"}, join(
			keyLeaves(name),
			cs(one(
				name,
				leaf("type", tIdentity(modNITypes, niTypes...)),
				leaf("description", tString()),
				leaf("router-id", tDottedQuad()),
				leaf("route-distinguisher", tPattern("oc-ni-types:route-distinguisher", checkRD)),
			)),
			one(
				container("encapsulation", cs(one(
					leaf("encapsulation-type", tIdentity(modNITypes, encapsulations...)),
					leaf("label-allocation-mode", tIdentity(modNITypes, labelAllocModes...)),
					leaf("control-word", tBool()),
				))...),
				container("inter-instance-policies",
					container("import-export-policy", routeTargets()...),
				),
				container("vlans",
					list("vlan", []string{"vlan-id"}, join(
						keyLeaves(vlanID),
						cs(one(vlanID, leaf("name", tString()), leaf("status", tEnum("ACTIVE", "SUSPENDED")))),
					)...),
				),
				container("interfaces",
					list("interface", []string{"id"}, join(
						keyLeaves(id),
						cs(one(id, leaf("interface", tString()), leaf("subinterface", tUint32()))),
					)...),
				),
				fdbSchema(),
				container("evpn",
					container("evpn-instances",
						list("evpn-instance", []string{"evi"}, join(
							keyLeaves(evi),
							cs(one(
								evi,
								leaf("encapsulation-type", tIdentity(modNITypes, encapsulations...)),
								leaf("service-type", tIdentity(modEVPNTypes, evpnServiceTypes...)),
								leaf("route-distinguisher", tPattern("union{oc-ni-types:route-distinguisher | AUTO}", checkRDOrAuto)),
								leaf("replication-mode", tEnum(replicationModes...)),
								leaf("control-word-enabled", tBool()),
							)),
							one(container("import-export-policy", routeTargets()...)),
						)...),
					),
				),
				container("protocols",
					list("protocol", []string{"identifier", "name"}, join(
						keyLeaves(identifier, protoName),
						cs(one(identifier, protoName)),
						one(bgpSchema()),
					)...),
				),
			),
		)...),
	)
}

func fdbSchema() *schemaNode {
	mac := leaf("mac-address", tMAC())
	vlan := leaf("vlan", tUint(16, 1, 4094))
	esi := leaf("esi", tPattern("oc-evpn-types:esi", checkESI))
	index := leaf("index", tUint64())
	id := leaf("id", tUint64())
	producer := leaf("producer", tEnum("LOCAL", "STATIC", "BGP"))
	interfaceRef := container("interface", container("interface-ref", state(
		leaf("interface", tString()), leaf("subinterface", tUint32()))))
	return container("fdb", join(
		cs(one(
			leaf("mac-learning", tBool()),
			leaf("mac-aging-time", tUint16()),
			leaf("maximum-entries", tUint16()),
		)),
		one(
			container("mac-mobility", cs(one(
				leaf("mac-mobility", tBool()),
				leaf("mac-mobility-window", tUint(16, 0, 600)),
				leaf("mac-mobility-threshold", tUint(8, 0, 50)),
			))...),
			container("mac-table", container("entries",
				list("entry", []string{"mac-address", "vlan"}, join(
					keyLeaves(mac, vlan),
					one(
						state(mac, vlan,
							countingUp(leaf("age", tUint64())),
							leaf("entry-type", tEnum("STATIC", "DYNAMIC")),
							leaf("evi", tUint(32, 1, 1<<24-1)),
						),
						interfaceRef,
					),
				)...),
			)),
			container("l2rib", container("mac-table",
				container("entries",
					list("entry", []string{"mac-address"}, join(
						keyLeaves(mac),
						one(
							state(mac, vlan, leaf("evi", tUint(32, 1, 1<<24-1)), leaf("l2-vni", tUint(32, 1, 1<<24-1))),
							container("producers", list("producer", []string{"producer"}, join(
								keyLeaves(producer),
								one(state(
									producer,
									leaf("seq-number", tUint32()),
									leaf("mobility-state", tEnum("FROZEN", "DUPLICATE")),
									esi,
									leaf("sticky", tBool()),
									leaf("next-hop", tUint64()),
									leafList("next-hop-group", tUint64()),
									leaf("derived-from-mac-ip", tBool()),
									leaf("directly-received", tBool()),
								)),
							)...)),
						),
					)...),
				),
				container("next-hops",
					list("next-hop", []string{"index"}, join(
						keyLeaves(index),
						one(state(
							index,
							leaf("peer-ip", tIPAddress()),
							leaf("label", tUint(32, 1, 1<<24-1)),
							esi,
							leaf("resolved", tBool()),
							leaf("interface", tString()),
							leaf("subinterface", tUint32()),
						)),
					)...),
				),
				container("next-hop-groups",
					list("next-hop-group", []string{"id"}, join(
						keyLeaves(id),
						one(
							state(id, esi, leaf("type", tEnum("ESI", "ESI_EVI", "BASE_ECMP"))),
							container("next-hops", list("next-hop", []string{"index"}, join(
								keyLeaves(index),
								one(state(index)),
							)...)),
						),
					)...),
				),
			)),
		),
	)...)
}

func bgpSchema() *schemaNode {
	addr := leaf("neighbor-address", tIPAddress())
	afiSafi := leaf("afi-safi-name", tIdentity(modBGPTypes, afiSafiNames...))
	messages := func(name string) *schemaNode {
		return container(name,
			leaf("UPDATE", tUint64()),
			leaf("NOTIFICATION", tUint64()),
		)
	}
	return container("bgp",
		container("global", cs(one(leaf("as", tUint32()), leaf("router-id", tDottedQuad())))...),
		container("neighbors",
			list("neighbor", []string{"neighbor-address"}, join(
				keyLeaves(addr),
				cs(one(
					addr,
					leaf("peer-as", tUint32()),
					leaf("local-as", tUint32()),
					leaf("peer-type", tEnum(peerTypes...)),
					leaf("description", tString()),
					leaf("enabled", tBool()),
				),
					leaf("session-state", tEnum(sessionStates...)),
					leaf("established-transitions", tUint64()),
					leaf("last-established", tUint64()),
					container("messages", messages("sent"), messages("received")),
				),
				one(
					container("transport", cs(one(
						leaf("local-address", tIPAddress()),
						leaf("passive-mode", tBool()),
					),
						leaf("local-port", tUint16()),
						leaf("remote-address", tIPAddress()),
						leaf("remote-port", tUint16()),
					)...),
					container("timers", state(leaf("negotiated-hold-time", tUint16()))),
					container("afi-safis",
						list("afi-safi", []string{"afi-safi-name"}, join(
							keyLeaves(afiSafi),
							cs(one(afiSafi, leaf("enabled", tBool())),
								leaf("active", tBool()),
								container("prefixes",
									leaf("received", tUint32()),
									leaf("received-pre-policy", tUint32()),
									leaf("sent", tUint32()),
									leaf("installed", tUint32()),
								),
							),
						)...),
					),
				),
			)...),
		),
	)
}

func ethernetSegmentsSchema() *schemaNode {
	name := leaf("name", tString())
	vlan := leaf("vlan", tUint(16, 1, 4094))
	return container("ethernet-segments",
		list("ethernet-segment", []string{"name"}, join(
			keyLeaves(name),
			cs(one(
				name,
				leaf("esi-type", tEnum(esiTypes...)),
				leaf("esi", tPattern("union{oc-evpn-types:esi | AUTO}", checkESI)),
				leaf("redundancy-mode", tIdentity(modEVPNTypes, redundancyModes...)),
				leaf("es-import-route-target", tMAC()),
				leaf("interface", tString()),
				leaf("subinterface", tUint32()),
			)),
			one(
				container("df-election", cs(one(
					leaf("df-election-method", tEnum(dfElectionMethods...)),
					leaf("preference", tUint16()),
					leaf("revertive", tBool()),
					leaf("election-wait-time", tUint32()),
				))...),
				inModule(modESDesignatedFwder, container("designated-forwarders",
					list("designated-forwarder", []string{"vlan"}, join(
						keyLeaves(vlan),
						one(state(vlan, leaf("df-address", tIPAddress()), leaf("local", tBool()))),
					)...),
				)),
			),
		)...),
	)
}
