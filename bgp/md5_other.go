//go:build !linux

package bgp

import "errors"

// checkTCPMD5 reports whether the kernel can sign TCP segments (RFC 2385);
// GoBGP supports it on Linux only.
func checkTCPMD5() error {
	return errors.New("TCP MD5 signatures are supported on Linux only")
}
