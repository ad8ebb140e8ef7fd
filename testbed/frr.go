package testbed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// FRRBGPD is where Debian's frr package installs bgpd.
const FRRBGPD = "/usr/lib/frr/bgpd"

// FRRAvailable says whether an FRR route reflector can run here: bgpd is
// installed and we are root (bgpd runs with -S, see interop/FRR.md). The
// error says what is missing.
func FRRAvailable() error {
	if _, err := os.Stat(FRRBGPD); err != nil {
		return fmt.Errorf("FRR route reflector needs %s (apt-get install frr): %w", FRRBGPD, err)
	}
	if os.Geteuid() != 0 {
		return errors.New("FRR route reflector runs bgpd with -S, which needs root")
	}
	return nil
}

// FRR is FRR's bgpd running as the fabric's l2vpn-evpn route reflector,
// standalone (no zebra, no kernel routes), on the reflector's address. It
// runs graceful restart, so that it sends End-of-RIB: a restarted evpnd
// reconciles once it has the whole table, not after a guess at quiet.
type FRR struct {
	dir    string
	cmd    *exec.Cmd
	exited chan error
	log    *slog.Logger
}

// StartFRR writes a bgpd.conf reflecting between every PE of topo and starts
// bgpd for route reflector i. Close kills it and removes its directory.
func StartFRR(ctx context.Context, topo *Topology, i int, log *slog.Logger) (*FRR, error) {
	if err := FRRAvailable(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rr := topo.RouteReflectors[i]
	dir, err := os.MkdirTemp("", "testbed-frr-"+rr.Name+"-")
	if err != nil {
		return nil, fmt.Errorf("frr %s: %w", rr.Name, err)
	}
	hold := topo.Timers.HoldTime
	keep := topo.Timers.Keepalive
	if hold == 0 {
		hold, keep = 9*time.Second, 3*time.Second
	}
	if keep == 0 {
		keep = hold / 3
	}
	connect := topo.Timers.ConnectRetry
	if connect == 0 {
		connect = time.Second
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, `frr defaults traditional
hostname %s
log file %s/bgpd.log
router bgp %d
 bgp router-id %s
 bgp cluster-id %s
 bgp allow-martian-nexthop
 bgp graceful-restart
 no bgp default ipv4-unicast
 neighbor PE peer-group
 neighbor PE remote-as %d
 neighbor PE update-source %s
 neighbor PE timers %d %d
 neighbor PE timers connect %d
`, rr.Name, dir, topo.ASN, rr.Address, rr.Address, topo.ASN, rr.Address,
		int(keep.Seconds()), int(hold.Seconds()), max(1, int(connect.Seconds())))
	for j := range topo.PEs {
		rid, err := topo.routerID(j)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		// FRR does not inherit a peer-group's port: set it per neighbor.
		fmt.Fprintf(&conf, " neighbor %s peer-group PE\n neighbor %s port %d\n", rid, rid, topo.BGPPort)
	}
	conf.WriteString(" address-family l2vpn evpn\n  neighbor PE activate\n  neighbor PE route-reflector-client\n exit-address-family\n")
	confPath := filepath.Join(dir, "bgpd.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("frr %s: %w", rr.Name, err)
	}
	cmd := exec.Command(FRRBGPD, "-Z", "-n", "-S", "-l", rr.Address, "-p", fmt.Sprint(topo.BGPPort), "-P", "0",
		"-f", confPath, "-i", filepath.Join(dir, "bgpd.pid"), "--vty_socket", dir+"/", "--log", "file:"+filepath.Join(dir, "bgpd.log"))
	out, err := os.Create(filepath.Join(dir, "bgpd.out"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("frr %s: %w", rr.Name, err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("frr %s: start %s: %w", rr.Name, FRRBGPD, err)
	}
	f := &FRR{dir: dir, cmd: cmd, exited: make(chan error, 1), log: log.With("frr", rr.Name)}
	go func() {
		err := cmd.Wait()
		out.Close()
		f.exited <- err
	}()
	return f, nil
}

// Vtysh runs one show command against this bgpd ("show bgp l2vpn evpn
// summary json").
func (f *FRR) Vtysh(ctx context.Context, command string) (string, error) {
	out, err := exec.CommandContext(ctx, "vtysh", "--vty_socket", f.dir+"/", "-c", command).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("vtysh %q: %w: %s", command, err, out)
	}
	return string(out), nil
}

// Log returns bgpd's log, for a failing test to show.
func (f *FRR) Log() string {
	b, _ := os.ReadFile(filepath.Join(f.dir, "bgpd.log"))
	o, _ := os.ReadFile(filepath.Join(f.dir, "bgpd.out"))
	return string(o) + string(b)
}

// Close kills bgpd, waits for it and removes its directory.
func (f *FRR) Close() error {
	f.cmd.Process.Kill()
	<-f.exited
	f.exited <- nil
	return os.RemoveAll(f.dir)
}
