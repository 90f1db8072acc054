package sbtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/go-amqp"
)

// This file is claims-based security (the AMQP CBS draft, as Service Bus
// documents it): the client sends put-token requests to $cbs, with the SAS
// token as an amqp-value string and the audience in the "name" application
// property; the server checks the signature against its key and grants the
// connection access to the audience's entity path.

// putToken answers one put-token request.
func (c *conn) putToken(req *amqp.Message, now time.Time) *amqp.Message {
	op, _ := req.ApplicationProperties["operation"].(string)
	if op != "put-token" {
		return rpcResponse(400, "unsupported operation on $cbs", nil)
	}
	if c.srv.faults.takeTokenRefusal() {
		return rpcResponse(401, "token refused by an injected fault", nil)
	}
	audience, _ := req.ApplicationProperties["name"].(string)
	token, _ := req.Value.(string)
	if audience == "" || token == "" {
		return rpcResponse(400, "put-token needs a name and a token", nil)
	}
	if !c.srv.validToken(token, audience, now) {
		// The description never echoes the token: it is a secret.
		return rpcResponse(401, "InvalidSignature: the token has an invalid signature.", nil)
	}
	c.authorized[entityPathOf(audience)] = true
	return rpcResponse(200, "OK", nil)
}

// validToken checks a Shared Access Signature of the form
// "SharedAccessSignature sr=<url-encoded resource>&sig=<url-encoded
// base64 HMAC-SHA256 of sr+"\n"+se>&se=<unix expiry>&skn=<key name>", as
// Microsoft documents for Service Bus SAS authentication.
func (s *Server) validToken(token, audience string, now time.Time) bool {
	const prefix = "SharedAccessSignature "
	if !strings.HasPrefix(token, prefix) {
		return false
	}
	parts := map[string]string{}
	for _, kv := range strings.Split(token[len(prefix):], "&") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return false
		}
		parts[k] = v
	}
	sr, sig, se, skn := parts["sr"], parts["sig"], parts["se"], parts["skn"]
	if sr == "" || sig == "" || se == "" || skn != s.cfg.keyName {
		return false
	}
	expiry, err := strconv.ParseInt(se, 10, 64)
	if err != nil || time.Unix(expiry, 0).Before(now) {
		return false
	}
	// The signed resource must cover the audience the token is put for.
	resource, err := url.QueryUnescape(sr)
	if err != nil || !covers(resource, audience) {
		return false
	}
	rawSig, err := url.QueryUnescape(sig)
	if err != nil {
		return false
	}
	got, err := base64.StdEncoding.DecodeString(rawSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(s.cfg.key))
	mac.Write([]byte(sr + "\n" + se))
	return hmac.Equal(got, mac.Sum(nil))
}

// covers reports whether a token for resource grants audience: the
// resource is the audience itself or a prefix of it at a path boundary,
// compared without scheme and case.
func covers(resource, audience string) bool {
	r := strings.TrimSuffix(stripScheme(strings.ToLower(resource)), "/")
	a := strings.TrimSuffix(stripScheme(strings.ToLower(audience)), "/")
	return a == r || strings.HasPrefix(a, r+"/")
}

func stripScheme(s string) string {
	if _, rest, ok := strings.Cut(s, "://"); ok {
		return rest
	}
	return s
}

// entityPathOf turns an audience "amqp://host:port/q" into "q" (lower-cased);
// a namespace-wide audience becomes "".
func entityPathOf(audience string) string {
	rest := stripScheme(strings.ToLower(audience))
	_, path, _ := strings.Cut(rest, "/")
	return strings.Trim(path, "/")
}

// checkAuthorized refuses an attach to an entity no token was put for.
func (c *conn) checkAuthorized(addr string) *amqpError {
	p := strings.ToLower(strings.Trim(addr, "/"))
	for granted := range c.authorized {
		if granted == "" || p == granted || strings.HasPrefix(p, granted+"/") {
			return nil
		}
	}
	return &amqpError{
		Condition:   condUnauthorized,
		Description: "Unauthorized access. A put-token for '" + addr + "' is required.",
	}
}
