package launch

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// testPKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, all PEM, into dir.
func testPKI(t *testing.T, dir string) (ca, serverCert, serverKey, clientCert, clientKey string) {
	t.Helper()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "enlace test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, name string, usage x509.ExtKeyUsage) ([]byte, []byte) {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der, kder
	}
	sDER, sKey := issue(2, "redis", x509.ExtKeyUsageServerAuth)
	cDER, cKey := issue(3, "enlace", x509.ExtKeyUsageClientAuth)
	return write("ca.pem", "CERTIFICATE", caDER),
		write("server.pem", "CERTIFICATE", sDER), write("server.key", "EC PRIVATE KEY", sKey),
		write("client.pem", "CERTIFICATE", cDER), write("client.key", "EC PRIVATE KEY", cKey)
}

// TestConnectTLSAndPassword: enlace reaches a Redis that takes only mutual
// TLS and a password, with the CA, client certificate and password from
// the configuration, and is refused with any of them missing.
func TestConnectTLSAndPassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, sc, sk, cc, ck := testPKI(t, dir)
	rs := redistest.StartTLS(t, "--tls-cert-file", sc, "--tls-key-file", sk, "--tls-ca-cert-file", ca,
		"--tls-auth-clients", "yes", "--requirepass", "s3cret")
	ctx := context.Background()
	load := func(env ...string) *config.Config {
		t.Helper()
		cfg, err := config.Load(enlace.DefaultConfig, "", false, append([]string{"ENLACE_REDIS_ADDR=" + rs.Addr}, env...))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	full := []string{"ENLACE_REDIS_PASSWORD=s3cret", "ENLACE_REDIS_TLS_ENABLED=true", "ENLACE_REDIS_TLS_CA_FILE=" + ca,
		"ENLACE_REDIS_TLS_CERT_FILE=" + cc, "ENLACE_REDIS_TLS_KEY_FILE=" + ck}
	rdb, err := Connect(ctx, load(full...))
	if err != nil {
		t.Fatalf("connect over mutual TLS with the password: %v", err)
	}
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil || rdb.Get(ctx, "k").Val() != "v" {
		t.Fatalf("use the connection: %v", err)
	}
	_ = rdb.Close()
	for name, env := range map[string][]string{
		"no TLS":         {"ENLACE_REDIS_PASSWORD=s3cret"},
		"wrong password": {"ENLACE_REDIS_PASSWORD=nope", full[1], full[2], full[3], full[4]},
		"no client cert": {full[0], full[1], full[2]},
		"unknown CA":     {full[0], full[1], full[3], full[4]},
		"no password":    {full[1], full[2], full[3], full[4]},
	} {
		if rdb, err := Connect(ctx, load(env...)); err == nil {
			_ = rdb.Close()
			t.Errorf("%s: connected", name)
		}
	}
	if _, err := Connect(ctx, load(append(full[:2:2], "ENLACE_REDIS_TLS_CA_FILE="+filepath.Join(dir, "missing.pem"))...)); err == nil {
		t.Error("a missing CA file was accepted")
	}
}

// TestClusterDoesNotResend: on a cluster, a command whose reply times out
// is not sent again (it may have run): a slow script that counts its runs
// runs once.
func TestClusterDoesNotResend(t *testing.T) {
	t.Parallel()
	cluster := redistest.StartCluster(t, 3, 0)
	cfg, err := config.Load(enlace.DefaultConfig, "", false, []string{"ENLACE_REDIS_MODE=cluster", "ENLACE_REDIS_ADDRS=" + strings.Join(cluster.Addrs, ","), "ENLACE_REDIS_TIMEOUT=150ms"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rdb, err := Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	const slow = `
local t0 = redis.call('TIME')
local start = t0[1] * 1000000 + t0[2]
repeat
  local t = redis.call('TIME')
until t[1] * 1000000 + t[2] - start > 400000
return redis.call('INCR', KEYS[1])`
	if err := rdb.Eval(ctx, slow, []string{"runs"}).Err(); err == nil {
		t.Fatal("a 400 ms script answered within a 150 ms timeout")
	}
	// Eval has returned, so every copy the client would send has been
	// sent, and is queued in Redis behind the running script. A GET sent
	// now is answered after them (Redis serves its clients in the order
	// their commands arrived once the script ends).
	if n := cluster.Client(t).Get(ctx, "runs").Val(); n != "1" {
		t.Fatalf("the script ran %s times", n)
	}
}
