package jetstream

import (
	"fmt"
	"strings"

	"github.com/pullkit/broker"
)

// validateSubject checks a NATS subject: dot-separated non-empty tokens
// without whitespace or control characters. Publishing needs a literal
// subject outside the server's $JS and $SYS namespaces; a consumer's filter
// may use the * and > wildcards (> only as the last token). Errors wrap
// broker.ErrInvalidTopic.
func validateSubject(subject string, wildcards bool) error {
	if subject == "" {
		return fmt.Errorf("%w: empty subject", broker.ErrInvalidTopic)
	}
	tokens := strings.Split(subject, ".")
	// A message published to $JS.API.STREAM.DELETE.orders is a request that
	// deletes the stream: topic names that come from configuration or user
	// input must never reach the server's API or system subjects.
	if !wildcards && (tokens[0] == "$JS" || tokens[0] == "$SYS") {
		return fmt.Errorf("%w: subject %q is in the server's reserved %s namespace", broker.ErrInvalidTopic, subject, tokens[0])
	}
	for i, tok := range tokens {
		if tok == "" {
			return fmt.Errorf("%w: subject %q has an empty token", broker.ErrInvalidTopic, subject)
		}
		for j := 0; j < len(tok); j++ {
			if c := tok[j]; c <= ' ' || c == 0x7f {
				return fmt.Errorf("%w: subject %q contains whitespace or a control character", broker.ErrInvalidTopic, subject)
			}
		}
		if tok == "*" || tok == ">" {
			switch {
			case !wildcards:
				return fmt.Errorf("%w: subject %q has a wildcard; publishing needs a literal subject", broker.ErrInvalidTopic, subject)
			case tok == ">" && i != len(tokens)-1:
				return fmt.Errorf("%w: subject %q: > must be the last token", broker.ErrInvalidTopic, subject)
			}
		}
	}
	return nil
}

// validateName checks a stream or consumer name: JetStream refuses names
// with dots, wildcards, whitespace or path separators (they become subject
// tokens and file names on the server).
func validateName(kind, name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty %s name", broker.ErrInvalidTopic, kind)
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c <= ' ', c == 0x7f, c == '.', c == '*', c == '>', c == '/', c == '\\':
			return fmt.Errorf("%w: %s name %q contains %q", broker.ErrInvalidTopic, kind, name, c)
		}
	}
	return nil
}

// streamNameFor derives a stream name from a subject for CreateStream:
// dots and wildcards become underscores ("orders.eu" → "orders_eu").
func streamNameFor(subject string) string {
	r := strings.NewReplacer(".", "_", "*", "_", ">", "_")
	return r.Replace(subject)
}
