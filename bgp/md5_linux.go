package bgp

import (
	"encoding/binary"
	"fmt"
	"net"
	"syscall"
)

// tcpMD5Sig is TCP_MD5SIG from linux/tcp.h; its argument is a struct
// tcp_md5sig of 216 octets (address, flags, prefix length, key length,
// interface index, 80-octet key).
const (
	tcpMD5Sig     = 14
	tcpMD5SigSize = 216
)

// checkTCPMD5 reports whether GoBGP can apply a TCP MD5 password (RFC 2385)
// to its listener. GoBGP only logs a warning when it cannot, and the session
// then never comes up, so the speaker refuses a password it cannot apply.
//
// The usual cause is not the kernel: since Go 1.24 net.Listen makes
// Multipath TCP sockets where the kernel has MPTCP, and MPTCP sockets refuse
// TCP_MD5SIG (ENOPROTOOPT). This module's go.mod sets "godebug
// multipathtcp=0", which covers its own binaries and tests; a binary built
// in another module must do the same (go.mod godebug line, "//go:debug
// multipathtcp=0" in its main package, or GODEBUG=multipathtcp=0). The
// probe listens the way GoBGP does and sets a key on that socket, so it
// answers for the setting in effect.
func checkTCPMD5() error {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("TCP MD5 probe listener: %w", err)
	}
	defer l.Close()
	rc, err := l.(*net.TCPListener).SyscallConn()
	if err != nil {
		return fmt.Errorf("TCP MD5 probe listener: %w", err)
	}
	sig := make([]byte, tcpMD5SigSize)
	binary.NativeEndian.PutUint16(sig[0:2], syscall.AF_INET)
	copy(sig[4:8], []byte{127, 0, 0, 1})
	binary.NativeEndian.PutUint16(sig[130:132], 1) // key length
	sig[136] = 'k'
	var sockErr error
	if err := rc.Control(func(fd uintptr) {
		sockErr = syscall.SetsockoptString(int(fd), syscall.IPPROTO_TCP, tcpMD5Sig, string(sig))
	}); err != nil {
		return fmt.Errorf("TCP MD5 probe listener: %w", err)
	}
	if sockErr != nil {
		return fmt.Errorf("a Go listener here cannot take a TCP MD5 key (%w); if the kernel has MPTCP, run with GODEBUG=multipathtcp=0 or build the binary with a go.mod line godebug multipathtcp=0 (or //go:debug multipathtcp=0 in package main)", sockErr)
	}
	return nil
}
