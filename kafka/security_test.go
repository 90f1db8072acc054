package kafka_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/kafka"
)

// selfSigned returns a server TLS config with a certificate for 127.0.0.1
// made for this test, and a pool trusting it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kfake"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}, pool
}

func TestTLSWithASelfSignedCertificateRoundTrips(t *testing.T) {
	server, pool := selfSigned(t)
	tc := startFake(t, kfake.TLS(server))
	tc.cfg.TLS = &tls.Config{RootCAs: pool}
	topic := tc.topic(t, 1, nil)
	publishN(t, tc.publisher(t), topic, 2, "v")
	c := tc.join(t, topic, unique("group"), kafka.LogOptions{})
	if got := values(readAll(t, c, 500*time.Millisecond)); !slices.Equal(got, []string{"v0", "v1"}) {
		t.Errorf("over TLS read %v, want [v0 v1]", got)
	}

	// A client that does not trust the certificate cannot connect.
	untrusting := tc.cfg
	untrusting.TLS = &tls.Config{}
	ctx := testCtx(t)
	if _, err := kafka.NewPublisher(ctx, untrusting); err == nil {
		t.Error("NewPublisher trusting no CA: got nil, want an error")
	}
}

func TestSASLWithWrongCredentialsFailsWithoutThePassword(t *testing.T) {
	const user, pass = "admin", "s3cr3t-pa55"
	tc := startFake(t,
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", user, pass),
		kfake.Superuser("SCRAM-SHA-256", user, pass),
		kfake.Superuser("SCRAM-SHA-512", user, pass),
	)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			cfg := tc.cfg
			cfg.SASL = &kafka.SASL{Mechanism: mech, User: user, Password: pass}
			p, err := kafka.NewPublisher(testCtx(t), cfg)
			if err != nil {
				t.Fatalf("NewPublisher with the right credentials: %v", err)
			}
			p.Close()

			const wrong = "wr0ng-pa55w0rd"
			cfg.SASL = &kafka.SASL{Mechanism: mech, User: user, Password: wrong}
			_, err = kafka.NewPublisher(testCtx(t), cfg)
			if !errors.Is(err, broker.ErrUnauthenticated) {
				t.Fatalf("NewPublisher with a wrong password: got %v, want an error matching ErrUnauthenticated", err)
			}
			if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), pass) {
				t.Errorf("the error shows a password: %v", err)
			}
			_, err = kafka.JoinGroup(testCtx(t), cfg, "g", []string{"t"}, kafka.LogOptions{})
			if !errors.Is(err, broker.ErrUnauthenticated) {
				t.Errorf("JoinGroup with a wrong password: got %v, want an error matching ErrUnauthenticated", err)
			}
		})
	}
}
