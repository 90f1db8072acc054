package pulsar

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/pullkit/broker"
)

// nameChars is what Pulsar allows in tenant and namespace names.
var nameChars = regexp.MustCompile(`^[-=:.\w]+$`)

// validateTopic checks name the way Pulsar parses topic names: a short name
// ("orders"), "tenant/namespace/topic", or a full
// "persistent://tenant/namespace/topic" (or non-persistent://). The client
// would find most errors only at its first broker round trip, or not at all.
func validateTopic(name string) error {
	if err := broker.ValidateTopicName(name); err != nil {
		return err
	}
	bad := func(why string) error { return fmt.Errorf("%w: %q: %s", broker.ErrInvalidTopic, name, why) }
	var parts []string
	if domain, rest, ok := strings.Cut(name, "://"); ok {
		if domain != "persistent" && domain != "non-persistent" {
			return bad("domain must be persistent or non-persistent")
		}
		// tenant/namespace/topic, or the legacy tenant/cluster/namespace/topic
		// whose topic may hold slashes.
		parts = strings.SplitN(rest, "/", 4)
		if len(parts) < 3 {
			return bad("want <domain>://<tenant>/<namespace>/<topic>")
		}
	} else {
		parts = strings.Split(name, "/")
		if n := len(parts); n != 1 && n != 3 && n != 4 {
			return bad("want <topic> or <tenant>/<namespace>/<topic>")
		}
	}
	for _, p := range parts[:len(parts)-1] {
		if !nameChars.MatchString(p) {
			return bad("tenant and namespace may only hold letters, digits and -=:._")
		}
	}
	local := parts[len(parts)-1]
	if local == "" {
		return bad("empty local name")
	}
	for _, r := range local {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return bad("whitespace or control character in the name")
		}
	}
	return nil
}

// validateSubscription checks a subscription name.
func validateSubscription(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty subscription name", broker.ErrInvalidTopic)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%w: subscription %q: whitespace or control character", broker.ErrInvalidTopic, name)
		}
	}
	return nil
}
