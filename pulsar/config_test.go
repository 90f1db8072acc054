package pulsar

import (
	"crypto/tls"
	"errors"
	"testing"
	"time"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/pullkit/broker"
)

func TestConfigMapsOntoClientOptions(t *testing.T) {
	tc := &tls.Config{ServerName: "x"}
	o, err := Config{
		URL:                        "pulsar+ssl://broker:6651",
		TLSTrustCertsFile:          "/ca.pem",
		TLSAllowInsecureConnection: true,
		TLSValidateHostname:        true,
		TLSConfig:                  tc,
		Token:                      "tok",
		OperationTimeout:           3 * time.Second,
		ConnectionTimeout:          time.Second,
		ClientOptions:              func(o *pc.ClientOptions) { o.MaxConnectionsPerBroker = 3 },
	}.clientOptions()
	if err != nil {
		t.Fatal(err)
	}
	if o.URL != "pulsar+ssl://broker:6651" || o.TLSTrustCertsFilePath != "/ca.pem" || !o.TLSAllowInsecureConnection ||
		!o.TLSValidateHostname || o.TLSConfig != tc || o.OperationTimeout != 3*time.Second ||
		o.ConnectionTimeout != time.Second || o.MaxConnectionsPerBroker != 3 {
		t.Errorf("options %+v", o)
	}
	if o.Authentication == nil {
		t.Fatal("token: no authentication")
	}

	o, err = Config{URL: "pulsar://b:6650", OAuth2: map[string]string{
		"type": "client_credentials", "issuerUrl": "https://issuer", "clientId": "id", "privateKey": "/key.json",
	}}.clientOptions()
	if err != nil {
		t.Fatal(err)
	}
	if o.Authentication == nil {
		t.Error("OAuth2: no authentication")
	}

	for name, cfg := range map[string]Config{
		"no URL":           {},
		"negative timeout": {URL: "pulsar://b", OperationTimeout: -1},
		"token and custom": {URL: "pulsar://b", Token: "t", Authentication: pc.NewAuthenticationToken("u")},
	} {
		if _, err := cfg.clientOptions(); !errors.Is(err, broker.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
}
